/**
 * One round trip per engine, proving it answers (not merely that a port is open):
 * JetStream account info, Redis PING, a CQL query on system.local. Shared by the launcher
 * (waiting for a start) and the test helpers (failing a suite loudly).
 *
 * Drivers are imported lazily so `infra status` for one engine does not load the others.
 */

/** The name the CQL node's SimpleSnitch gives its only data centre. */
export const CQL_LOCAL_DATACENTER = 'datacenter1';

export type ProbedEngine = 'nats' | 'redis' | 'cql';

/** What a successful probe learned, for the launcher's "listening" line. */
export interface ProbeResult {
  /** e.g. "JetStream (0 streams)", "Redis 7.0.15", "CQL 5.0.8" */
  detail: string;
}

export class EngineUnreachableError extends Error {
  override readonly name = 'EngineUnreachableError';
  readonly code = 'unavailable';
  constructor(
    readonly engine: ProbedEngine,
    readonly endpoint: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

function reason(err: unknown): string {
  // cassandra-driver's NoHostAvailableError: one error per host tried.
  const inner = (err as { innerErrors?: Record<string, unknown> } | null)?.innerErrors;
  if (inner && typeof inner === 'object' && Object.keys(inner).length > 0) {
    return Object.entries(inner)
      .map(([host, e]) => `${host}: ${reason(e)}`)
      .join('; ');
  }
  if (err instanceof AggregateError && err.errors.length > 0) return err.errors.map(reason).join('; ');
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Rejects after `ms` so a hanging driver cannot hold a probe forever. */
async function within<T>(ms: number, what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function probeNats(url: string, timeoutMs: number): Promise<ProbeResult> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  try {
    // No reconnects: a probe must answer "not there" quickly, not wait for the server.
    const nc = await within(
      timeoutMs,
      'connect',
      connect({ servers: url, timeout: timeoutMs, reconnect: false, maxReconnectAttempts: 0 }),
    );
    try {
      const jsm = await within(timeoutMs, 'jetstream', jetstreamManager(nc, { timeout: timeoutMs }));
      const info = await within(timeoutMs, 'account info', jsm.getAccountInfo());
      return { detail: `JetStream (${info.streams} streams)` };
    } finally {
      await nc.close().catch(() => undefined);
    }
  } catch (err) {
    throw new EngineUnreachableError('nats', url, `NATS JetStream at ${url}: ${reason(err)}`, { cause: err });
  }
}

export async function probeRedis(url: string, timeoutMs: number): Promise<ProbeResult> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Without a listener ioredis prints "Unhandled error event" for a refused connection.
  redis.on('error', () => undefined);
  try {
    await within(timeoutMs, 'connect', redis.connect());
    const pong = await within(timeoutMs, 'PING', redis.ping());
    if (pong !== 'PONG') throw new Error(`PING answered ${pong}`);
    const info = await within(timeoutMs, 'INFO', redis.info('server'));
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? '?';
    return { detail: `Redis ${version}` };
  } catch (err) {
    throw new EngineUnreachableError('redis', url, `Redis at ${url}: ${reason(err)}`, { cause: err });
  } finally {
    redis.disconnect();
  }
}

/** SCYLLA_CONTACT_POINTS ("h1:p1,h2") as the driver's contact point list. */
export function parseContactPoints(contactPoints: string): string[] {
  return contactPoints
    .split(',')
    .map((point) => point.trim())
    .filter((point) => point.length > 0);
}

export async function probeCql(
  contactPoints: string,
  timeoutMs: number,
  localDataCenter = CQL_LOCAL_DATACENTER,
): Promise<ProbeResult> {
  const { Client } = await import('cassandra-driver');
  const client = new Client({
    contactPoints: parseContactPoints(contactPoints),
    localDataCenter,
    socketOptions: { connectTimeout: timeoutMs, readTimeout: timeoutMs },
  });
  try {
    await within(timeoutMs * 2, 'connect', client.connect());
    const rs = await within(timeoutMs, 'query', client.execute('SELECT release_version FROM system.local'));
    const version: unknown = rs.first()?.get('release_version');
    return { detail: `CQL ${String(version)}` };
  } catch (err) {
    throw new EngineUnreachableError('cql', contactPoints, `CQL node at ${contactPoints}: ${reason(err)}`, {
      cause: err,
    });
  } finally {
    await client.shutdown().catch(() => undefined);
  }
}

export function probeEngine(engine: ProbedEngine, endpoint: string, timeoutMs: number): Promise<ProbeResult> {
  switch (engine) {
    case 'nats':
      return probeNats(endpoint, timeoutMs);
    case 'redis':
      return probeRedis(endpoint, timeoutMs);
    case 'cql':
      return probeCql(endpoint, timeoutMs);
  }
}
