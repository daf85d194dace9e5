/**
 * Where the launcher's engines listen, shared by the launcher, test helpers and benchmarks.
 * Each can be overridden by the same environment variable the server reads.
 */
export const DEFAULT_NATS_PORT = 14222;
export const DEFAULT_REDIS_PORT = 16379;
export const DEFAULT_CQL_PORT = 19042;

export interface EngineUrls {
  natsUrl: string;
  redisUrl: string;
  /** Comma-separated host[:port] list, as SCYLLA_CONTACT_POINTS. */
  scyllaContactPoints: string;
}

export function engineUrls(env: NodeJS.ProcessEnv = process.env): EngineUrls {
  return {
    natsUrl: env.NATS_URL || `nats://127.0.0.1:${DEFAULT_NATS_PORT}`,
    redisUrl: env.REDIS_URL || `redis://127.0.0.1:${DEFAULT_REDIS_PORT}`,
    scyllaContactPoints: env.SCYLLA_CONTACT_POINTS || `127.0.0.1:${DEFAULT_CQL_PORT}`,
  };
}
