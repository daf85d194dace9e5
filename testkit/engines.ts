/**
 * Helpers for suites that use a real engine (`*.engine.test.ts`).
 *
 * - {@link requireEngine} returns where an engine answers, or throws an error that names
 *   the engine, the endpoint, the cause and `npm run infra -- up`. Call it in `beforeAll`:
 *   a missing engine then fails the suite loudly instead of skipping it.
 * - {@link testNamespace} gives each test file its own CQL keyspace name, JetStream stream
 *   and subject, and Redis key prefix, so suites running in parallel on one engine never
 *   see each other's data.
 * - {@link createTestKeyspace} creates that keyspace and hands back a connected client;
 *   `drop()` removes it again. {@link deleteRedisPrefix} cleans up a Redis prefix.
 * - {@link requireK6} returns the k6 binary the launcher built.
 *
 * @example
 * ```ts
 * let cql: TestKeyspace;
 * beforeAll(async () => { cql = await createTestKeyspace('playlists'); });
 * afterAll(() => cql.drop());
 *
 * const ns = testNamespace('royalties');
 * let natsUrl: string;
 * beforeAll(async () => { natsUrl = await requireEngine('nats'); });
 * // stream ns.stream, subjects `${ns.subject}.>`; Redis keys `${ns.redisPrefix}...`
 * ```
 *
 * Endpoints come from NATS_URL, REDIS_URL and SCYLLA_CONTACT_POINTS (the test runner sets
 * them), else the launcher's defaults (deploy/engine-urls.ts).
 */
import { accessSync, constants } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Client } from 'cassandra-driver';
import type { Redis } from 'ioredis';
import { engineUrls } from '../deploy/engine-urls.ts';
import {
  CQL_LOCAL_DATACENTER,
  EngineUnreachableError,
  parseContactPoints,
  probeEngine,
  type ProbedEngine,
} from '../deploy/engine-probes.ts';
import { k6Binary } from '../deploy/engines/k6.ts';
import { cacheDir } from '../deploy/infra-state.ts';

/** Where the CQL node answers, ready for `new Client({ contactPoints, localDataCenter })`. */
export interface CqlEndpoint {
  contactPoints: string[];
  localDataCenter: string;
  /** As configured: SCYLLA_CONTACT_POINTS or the launcher's default. */
  raw: string;
}

/** `requireEngine('nats' | 'redis')` gives a URL; `requireEngine('cql')` a {@link CqlEndpoint}. */
export type EndpointOf<E extends ProbedEngine> = E extends 'cql' ? CqlEndpoint : string;

export interface RequireEngineOptions {
  /** Per probe step; short so an absent engine fails fast. Default 3000 ms. */
  timeoutMs?: number;
  /** Where to read NATS_URL, REDIS_URL, SCYLLA_CONTACT_POINTS (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

const ENGINE_TITLE: Record<ProbedEngine, string> = {
  nats: 'NATS JetStream',
  redis: 'Redis',
  cql: 'CQL node (Cassandra/ScyllaDB)',
};
const ENGINE_VARIABLE: Record<ProbedEngine, string> = {
  nats: 'NATS_URL',
  redis: 'REDIS_URL',
  cql: 'SCYLLA_CONTACT_POINTS',
};

/** Thrown by {@link requireEngine}; its message says what to run. */
export class EngineRequiredError extends Error {
  override readonly name = 'EngineRequiredError';
  readonly code = 'unavailable';
  constructor(
    readonly engine: ProbedEngine,
    readonly endpoint: string,
    cause: unknown,
  ) {
    const why = cause instanceof EngineUnreachableError ? cause.message : String(cause);
    super(
      `ENGINE UNREACHABLE: ${engine} (${ENGINE_TITLE[engine]}) at ${endpoint}: ${why}\n` +
        `This suite needs a real ${ENGINE_TITLE[engine]}. Start the engines with \`npm run infra -- up\` ` +
        `(\`npm test\` does it for you), or set ${ENGINE_VARIABLE[engine]} to one that runs. ` +
        `For a run without engines: TEST_ENGINES=embedded npm test.`,
      { cause },
    );
  }
}

function endpointOf(engine: ProbedEngine, env: NodeJS.ProcessEnv): string {
  const urls = engineUrls(env);
  return engine === 'nats' ? urls.natsUrl : engine === 'redis' ? urls.redisUrl : urls.scyllaContactPoints;
}

/** One probe per engine and endpoint per test process: several `beforeAll`s cost one round trip. */
const probed = new Map<string, Promise<void>>();

/**
 * Resolves with the endpoint of `engine` once it has answered one real round trip
 * (JetStream account info, Redis PING, `SELECT release_version FROM system.local`).
 * Rejects with {@link EngineRequiredError} naming the engine and `npm run infra -- up`.
 */
export async function requireEngine<E extends ProbedEngine>(
  engine: E,
  options: RequireEngineOptions = {},
): Promise<EndpointOf<E>> {
  const env = options.env ?? process.env;
  const endpoint = endpointOf(engine, env);
  const key = `${engine} ${endpoint}`;
  let probe = probed.get(key);
  if (!probe) {
    probe = probeEngine(engine, endpoint, options.timeoutMs ?? 3_000).then(
      () => undefined,
      (err: unknown) => {
        probed.delete(key);
        throw new EngineRequiredError(engine, endpoint, err);
      },
    );
    probed.set(key, probe);
  }
  await probe;
  const result: string | CqlEndpoint =
    engine === 'cql'
      ? { contactPoints: parseContactPoints(endpoint), localDataCenter: CQL_LOCAL_DATACENTER, raw: endpoint }
      : endpoint;
  return result as EndpointOf<E>;
}

/** Names one test file's data on every engine; all derive from one random `id`. */
export interface TestNamespace {
  /** `<label>_<random>`: lower case letters, digits and `_`. */
  id: string;
  /** CQL keyspace `t_<id>` (at most 48 characters, as CQL requires). */
  keyspace: string;
  /** JetStream stream name `T_<ID>` (no `.`, `*`, `>` or spaces). */
  stream: string;
  /** Subject root `t.<id>`: give the stream `${subject}.>` and publish below it. */
  subject: string;
  /** Redis key prefix `t:<id>:`. */
  redisPrefix: string;
}

/**
 * A fresh namespace per call: `label` (e.g. the suite's area) keeps names readable in
 * `DESCRIBE KEYSPACES` or `nats stream ls`; a random suffix keeps parallel files apart.
 */
export function testNamespace(label: string): TestNamespace {
  const clean =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '')
      .slice(0, 24) || 'test';
  const id = `${clean}_${process.pid.toString(36)}${randomBytes(5).toString('hex')}`;
  return {
    id,
    keyspace: `t_${id}`.slice(0, 48),
    stream: `T_${id.toUpperCase()}`,
    subject: `t.${id}`,
    redisPrefix: `t:${id}:`,
  };
}

/** A throwaway keyspace and a client connected to the CQL node. */
export interface TestKeyspace {
  /** The keyspace name (not set as the client's default: qualify tables or `USE` it). */
  name: string;
  client: Client;
  endpoint: CqlEndpoint;
  /** Drops the keyspace and shuts the client down; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * Creates keyspace `testNamespace(label).keyspace` (SimpleStrategy, RF 1, durable_writes
 * off: CQL that Cassandra and ScyllaDB both accept, and vnode-based on ScyllaDB so LWTs
 * work) and returns it with a connected client. Requires the CQL node (loud failure).
 */
export async function createTestKeyspace(
  label: string,
  options: RequireEngineOptions = {},
): Promise<TestKeyspace> {
  const endpoint = await requireEngine('cql', options);
  const { Client } = await import('cassandra-driver');
  const client = new Client({
    contactPoints: endpoint.contactPoints,
    localDataCenter: endpoint.localDataCenter,
    // Schema changes on a busy 2-core node can take seconds.
    socketOptions: { connectTimeout: 10_000, readTimeout: 60_000 },
  });
  await client.connect();
  const name = testNamespace(label).keyspace;
  await client.execute(
    `CREATE KEYSPACE ${name} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} ` +
      `AND durable_writes = false`,
  );
  let dropped = false;
  return {
    name,
    client,
    endpoint,
    async drop() {
      if (dropped) return;
      dropped = true;
      try {
        await client.execute(`DROP KEYSPACE IF EXISTS ${name}`);
      } finally {
        await client.shutdown();
      }
    },
  };
}

/** Deletes every key under `prefix` (SCAN + UNLINK, never KEYS); returns how many. */
export async function deleteRedisPrefix(redis: Redis, prefix: string): Promise<number> {
  if (!prefix) throw new Error('deleteRedisPrefix: refusing an empty prefix (it would delete every key)');
  let cursor = '0';
  let deleted = 0;
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/**
 * Path of the k6 binary: K6_BIN, else the one `npm run infra -- up k6` builds into
 * `.cache/k6/bin`. Throws naming the command when it is missing.
 */
export function requireK6(env: NodeJS.ProcessEnv = process.env): string {
  const path = env.K6_BIN || k6Binary(cacheDir(env));
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(`ENGINE UNREACHABLE: k6 not found at ${path}. Build it with \`npm run infra -- up k6\`.`);
  }
}
