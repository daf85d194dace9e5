/**
 * CQL connection and migrations for every storage/ adapter on ScyllaDB (or Apache Cassandra,
 * which speaks the same protocol). Only storage/ adapters import this file.
 *
 * - `connectScylla` builds a token-aware client (TokenAware over DC-aware round robin) whose
 *   statements are prepared by default, and checks the node is reachable (fails with
 *   `StorageError('unavailable')` naming the contact points).
 * - `applyMigrations` applies EVERY `storage/*.cql` file in name order. Files use the
 *   placeholders `{{keyspace}}` (qualify every table with it) and `{{replication}}`
 *   (the keyspace's replication map). Statements must be idempotent (IF NOT EXISTS).
 * - `cqlCall` runs a driver call and maps driver errors to StorageError kinds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Client, QueryOptions, types } from 'cassandra-driver';
import { StorageError } from './errors.ts';

export const DEFAULT_LOCAL_DATA_CENTER = 'datacenter1';
export const DEFAULT_KEYSPACE = 'playback';
export const DEFAULT_CQL_PORT = 9042;
export const DEFAULT_READ_TIMEOUT_MS = 5_000;
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/** SimpleStrategy for one node; NetworkTopologyStrategy with a factor per data centre for clusters. */
export type Replication =
  | { class: 'SimpleStrategy'; replicationFactor: number }
  | { class: 'NetworkTopologyStrategy'; dataCenters: Record<string, number> };

export const DEFAULT_REPLICATION: Replication = { class: 'SimpleStrategy', replicationFactor: 1 };

export interface ScyllaConfig {
  /** host[:port] list; a missing port means `DEFAULT_CQL_PORT`. */
  contactPoints: string[];
  localDataCenter?: string;
  keyspace?: string;
  replication?: Replication;
  readTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export async function connectScylla(config: ScyllaConfig): Promise<Client> {
  if (config.contactPoints.length === 0) throw new StorageError('bad_request', 'no CQL contact points given');
  const driver = (await import('cassandra-driver')).default;
  const dc = config.localDataCenter ?? DEFAULT_LOCAL_DATA_CENTER;
  // The driver takes one port for all contact points: use the first explicit one.
  const ports = config.contactPoints.map((p) => Number(p.split(':')[1])).filter((n) => Number.isFinite(n));
  const client = new driver.Client({
    contactPoints: config.contactPoints.map((p) => p.split(':')[0]!),
    localDataCenter: dc,
    protocolOptions: { port: ports[0] ?? DEFAULT_CQL_PORT },
    policies: {
      loadBalancing: new driver.policies.loadBalancing.TokenAwarePolicy(
        new driver.policies.loadBalancing.DCAwareRoundRobinPolicy(dc),
      ),
    },
    queryOptions: { prepare: true, consistency: driver.types.consistencies.localQuorum },
    socketOptions: {
      readTimeout: config.readTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
      connectTimeout: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    },
  });
  try {
    await client.connect();
  } catch (e) {
    await client.shutdown().catch(() => undefined);
    throw new StorageError(
      'unavailable',
      `CQL node unreachable at ${config.contactPoints.join(',')} (dc ${dc}): ${(e as Error).message}`,
      { cause: e },
    );
  }
  return client;
}

export function replicationCql(r: Replication): string {
  if (r.class === 'SimpleStrategy') {
    return `{'class': 'SimpleStrategy', 'replication_factor': ${Math.max(1, Math.floor(r.replicationFactor))}}`;
  }
  const dcs = Object.entries(r.dataCenters)
    .map(([dc, n]) => `'${dc.replace(/'/g, "''")}': ${Math.max(1, Math.floor(n))}`)
    .join(', ');
  return `{'class': 'NetworkTopologyStrategy', ${dcs}}`;
}

const KEYSPACE_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,47}$/;

/**
 * Splits a CQL script into statements on `;` outside string literals, quoted identifiers and
 * comments (`--`, `//`, `/* *\/`), so a `;` inside a comment or literal cannot cut a statement.
 */
export function splitCqlStatements(script: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  while (i < script.length) {
    const c = script[i]!;
    const next = script[i + 1];
    if ((c === '-' && next === '-') || (c === '/' && next === '/')) {
      const end = script.indexOf('\n', i);
      i = end === -1 ? script.length : end + 1;
      cur += '\n';
      continue;
    }
    if (c === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      i = end === -1 ? script.length : end + 2;
      cur += ' ';
      continue;
    }
    if (c === "'" || c === '"') {
      // Quotes escape by doubling, so scanning to the next lone quote is exact.
      let j = i + 1;
      while (j < script.length) {
        if (script[j] === c) {
          if (script[j + 1] === c) j += 2;
          else break;
        } else j++;
      }
      cur += script.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (c === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      i++;
      continue;
    }
    cur += c;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

export const migrationsDir = (): string => dirname(fileURLToPath(import.meta.url));

/**
 * Every `*.cql` file beside this module, in name order of the stem (so `schema.cql`, which
 * creates the keyspace, precedes `schema-pipeline.cql` although '-' sorts before '.').
 */
export function migrationFiles(dir = migrationsDir()): string[] {
  const stem = (f: string) => f.slice(0, -'.cql'.length);
  return readdirSync(dir)
    .filter((f) => f.endsWith('.cql'))
    .sort((a, b) => (stem(a) < stem(b) ? -1 : stem(a) > stem(b) ? 1 : 0))
    .map((f) => join(dir, f));
}

const DDL_TIMEOUT_MS = 60_000;

/** Applies every migration file in name order; each statement must be idempotent. */
export async function applyMigrations(
  client: Client,
  keyspace: string,
  replication: Replication = DEFAULT_REPLICATION,
  dir = migrationsDir(),
): Promise<void> {
  if (!KEYSPACE_NAME.test(keyspace))
    throw new StorageError('bad_request', `invalid keyspace name "${keyspace}"`);
  for (const file of migrationFiles(dir)) {
    const script = readFileSync(file, 'utf8')
      .replaceAll('{{keyspace}}', keyspace)
      .replaceAll('{{replication}}', replicationCql(replication));
    for (const stmt of splitCqlStatements(script)) {
      // DDL cannot be prepared; these are our own files, not user input. A schema change waits
      // for the node's schema agreement, seconds on a busy node: the driver's 5 s read timeout
      // failed start-ups under load, so DDL gets its own (every statement is idempotent).
      await cqlCall(`migration ${file}`, () =>
        client.execute(stmt, [], { prepare: false, readTimeout: DDL_TIMEOUT_MS }),
      );
    }
  }
}

const UNAVAILABLE_ERRORS = new Set(['NoHostAvailableError', 'OperationTimedOutError', 'BusyConnectionError']);

/** Maps a driver failure to a StorageError kind; our own StorageErrors pass through. */
export function mapDriverError(what: string, e: unknown): StorageError {
  if (e instanceof StorageError) return e;
  const err = e as { name?: string; code?: number; message?: string };
  const name = err?.name ?? '';
  if (UNAVAILABLE_ERRORS.has(name))
    return new StorageError('unavailable', `${what}: ${err.message}`, { cause: e });
  if (name === 'ResponseError' && typeof err.code === 'number') {
    // 0x2000 syntax, 0x2100 unauthorized, 0x2200 invalid, 0x2300 config: our statement is wrong.
    if (err.code >= 0x2000 && err.code < 0x2500)
      return new StorageError('bad_request', `${what}: ${err.message}`, { cause: e });
    // Everything else the node answers (0x1000 unavailable, 0x1001 overloaded, 0x1002
    // bootstrapping, 0x1100/0x1200 write/read timeout, 0x1500 CAS write unknown) means "the
    // store cannot answer now": callers may retry. A timed-out write may still have landed.
    return new StorageError('unavailable', `${what}: ${err.message}`, { cause: e });
  }
  // Driver-side failures (shut down, not connected, anything unknown): unavailable too.
  return new StorageError('unavailable', `${what}: ${err?.message ?? String(e)}`, { cause: e });
}

export async function cqlCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw mapDriverError(what, e);
  }
}

/** Reads (idempotent): safe for the driver to retry or speculate. */
export const READ: QueryOptions = { prepare: true, isIdempotent: true };
/** Plain upserts and deletes with deterministic values: retrying writes the same cells. */
export const IDEMPOTENT_WRITE: QueryOptions = { prepare: true, isIdempotent: true };
/** LWTs and counters: a blind retry could apply twice or misreport, so the driver must not retry. */
export const NON_IDEMPOTENT: QueryOptions = { prepare: true, isIdempotent: false };

/** Executes a prepared statement and maps errors. */
export function exec(
  client: Client,
  query: string,
  params: unknown[],
  options: QueryOptions,
): Promise<types.ResultSet> {
  return cqlCall(query.split(' ').slice(0, 3).join(' '), () => client.execute(query, params, options));
}

/** Reads every row of a (possibly long) partition, `fetchSize` rows per page via pageState. */
export async function execAllPages(
  client: Client,
  query: string,
  params: unknown[],
  fetchSize = 1000,
  limitRows = Infinity,
): Promise<types.Row[]> {
  const rows: types.Row[] = [];
  let pageState: string | undefined;
  do {
    const rs = await exec(client, query, params, { ...READ, fetchSize, ...(pageState ? { pageState } : {}) });
    rows.push(...rs.rows);
    pageState = rs.pageState ?? undefined;
  } while (pageState && rows.length < limitRows);
  return rows.length > limitRows ? rows.slice(0, limitRows) : rows;
}
