/**
 * The config of a long-running entry point (server, origin, pipeline): parsed once from the
 * process environment; a bad variable ends the process with exit code 2 and one line naming
 * it, before anything starts.
 */
import { ConfigError, parseConfig, type AppConfig } from './config.ts';

export function configOrExit(entry: string, env: NodeJS.ProcessEnv = process.env): AppConfig {
  try {
    return parseConfig(env);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    console.error(`${entry}: bad configuration: ${e.message}`);
    process.exit(2);
  }
}
