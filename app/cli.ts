/**
 * `npm run cli -- [options] [command]`: the session CLI of client/cli.ts, with dev-token
 * minting wired in: `--user` mints a token signed with the config's JWT_SECRET (the
 * development secret when unset), as `npm run token` does. The config is parsed only when a
 * token is minted, so `--token` works whatever else the environment holds.
 */
import { runCli } from '../client/cli.ts';
import { createAuthenticator } from '../session/auth.ts';
import { parseConfig } from './config.ts';

const code = await runCli(process.argv.slice(2), {
  out: (l) => console.log(l),
  err: (l) => console.error(l),
  env: process.env,
  prompt: process.stdin.isTTY === true,
  mintToken: ({ user, plan, country }) =>
    createAuthenticator(parseConfig(process.env).server.jwtSecret).mint({ userId: user, plan, country }),
});
process.exit(code);
