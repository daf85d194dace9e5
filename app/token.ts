/**
 * `npm run token -- --user u1 --plan premium --country SE [--ttl 86400]`: mints a dev token
 * signed with the configured JWT_SECRET (the development secret when unset).
 */
import { parseArgs } from 'node:util';
import { createAuthenticator } from '../session/auth.ts';
import { ConfigError, configWarnings, parseConfig } from './config.ts';

const usage = 'usage: npm run token -- --user <id> [--plan free|premium] [--country SE] [--ttl seconds]';

try {
  const { values } = parseArgs({
    options: {
      user: { type: 'string', short: 'u' },
      plan: { type: 'string', short: 'p', default: 'premium' },
      country: { type: 'string', short: 'c', default: 'SE' },
      ttl: { type: 'string', default: '86400' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help || !values.user) {
    console.error(usage);
    process.exit(values.help ? 0 : 2);
  }
  if (values.plan !== 'free' && values.plan !== 'premium') throw new Error(`--plan must be free or premium`);
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl <= 0) throw new Error('--ttl must be a positive integer (seconds)');
  const config = parseConfig(process.env);
  for (const w of configWarnings(config).slice(0, 1)) console.error(`WARNING: ${w}`);
  const auth = createAuthenticator(config.server.jwtSecret);
  console.log(await auth.mint({ userId: values.user, plan: values.plan, country: values.country! }, ttl));
} catch (e) {
  console.error(
    e instanceof ConfigError ? `config error: ${e.message}` : `error: ${(e as Error).message}\n${usage}`,
  );
  process.exit(2);
}
