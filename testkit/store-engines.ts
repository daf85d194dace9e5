/**
 * Adapter factories for the store contract suites (storage/<port>.contract.ts). Every suite
 * takes a `PortFactory<P>`; the runners build one from the adapter's own create* function:
 *
 * - {@link embeddedPort}: a fresh LMDB environment in a temp dir, the adapter exactly as its
 *   create* function makes it. `reopen` flushes, closes and opens the same dir.
 * - {@link cqlPort}: the real CQL node, in a keyspace unique to the calling test file, migrated
 *   once with every storage/*.cql file. `reopen` shuts the client down and connects a new one.
 *   The engine is required through `requireEngine`, which FAILS LOUDLY (naming the engine and
 *   `npm run infra -- up`) when it is unreachable; nothing skips.
 *
 * A suite opens its port once (beforeAll) and gives each case its own ids, so a CQL suite
 * pays for one keyspace per file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'cassandra-driver';
import { requireEngine, testNamespace } from './engines.ts';
import { applyMigrations, connectScylla } from '../storage/cql-client.ts';
import { StorageError, type StorageErrorCode } from '../storage/errors.ts';
import { openEmbeddedEnv, type EmbeddedEnv } from '../storage/lmdb-env.ts';

/** One adapter instance under test. */
export interface OpenedPort<P> {
  port: P;
  /** Closes the adapter and opens it again on the same data (a process restart). */
  reopen(): Promise<P>;
  /** A second adapter over the same data, as another process would open it (another node). */
  peer(): P;
  /** Closes the adapter and removes what the factory created (temp dir, keyspace). */
  close(): Promise<void>;
}

/** What every contract suite takes: opens a fresh, empty adapter. */
export type PortFactory<P> = () => Promise<OpenedPort<P>>;

/** The embedded (LMDB) adapter made by `create`, in a temp dir removed on close. */
export function embeddedPort<P extends object>(
  label: string,
  create: (env: EmbeddedEnv) => P,
): PortFactory<P> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), `${label}-`));
    let env = await openEmbeddedEnv(dir);
    const shut = async () => {
      // Pending async writes are flushed first, so an acknowledged write survives a reopen.
      await env.flushed;
      await env.close();
    };
    const opened: OpenedPort<P> = {
      port: create(env),
      peer: () => create(env),
      async reopen() {
        await shut();
        env = await openEmbeddedEnv(dir);
        opened.port = create(env);
        return opened.port;
      },
      async close() {
        await shut();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    return opened;
  };
}

/** A client for the shared CQL node, configured as production configures it (connectScylla). */
async function connectTestCql(): Promise<Client> {
  const cql = await requireEngine('cql');
  return connectScylla({
    contactPoints: cql.raw.split(',').map((s) => s.trim()),
    localDataCenter: cql.localDataCenter,
    // Schema changes and LWTs on a busy 2-core node can take seconds.
    readTimeoutMs: 30_000,
    connectTimeoutMs: 10_000,
  });
}

/**
 * The CQL adapter made by `create`, in keyspace `testNamespace(label).keyspace` (every migration
 * applied), dropped on close. `label` names the suite in `DESCRIBE KEYSPACES`.
 */
export function cqlPort<P>(label: string, create: (client: Client, keyspace: string) => P): PortFactory<P> {
  return async () => {
    const { keyspace } = testNamespace(label);
    let client = await connectTestCql();
    try {
      await applyMigrations(client, keyspace);
    } catch (e) {
      await client.shutdown().catch(() => undefined);
      throw e;
    }
    const opened: OpenedPort<P> = {
      port: create(client, keyspace),
      peer: () => create(client, keyspace),
      async reopen() {
        await client.shutdown();
        client = await connectTestCql();
        opened.port = create(client, keyspace);
        return opened.port;
      },
      async close() {
        try {
          await client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { prepare: false });
        } finally {
          await client.shutdown();
        }
      },
    };
    return opened;
  };
}

/** Redis URL for engine suites; fails loudly naming the engine when it does not answer. */
export const requireRedis = (): Promise<string> => requireEngine('redis');

/**
 * Resolves with the StorageError code `p` rejected with; fails the test when it resolved or
 * threw anything else (a raw driver error is a contract breach too).
 */
export async function storageErrorCode(p: Promise<unknown>): Promise<StorageErrorCode> {
  const outcome = await p.then(
    () => ({ resolved: true as const }),
    (e: unknown) => ({ resolved: false as const, e }),
  );
  if (outcome.resolved) throw new Error('expected a StorageError, but the call succeeded');
  if (!(outcome.e instanceof StorageError))
    throw new Error(`expected a StorageError, got ${String(outcome.e)}`, { cause: outcome.e });
  return outcome.e.code;
}
