/**
 * Harnesses for the contract suites: the embedded store in a fresh temp dir (reopenable), and
 * the real CQL node in a keyspace unique to the calling test file. The CQL harness FAILS LOUDLY
 * when the node is unreachable; it never skips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineUrls } from '../../deploy/engine-urls.ts';
import { openStores, type StoreConfig, type Stores } from '../open-stores.ts';

export interface StoresHarness {
  name: string;
  /** Opens the stores (again); the previous instance must be closed first. */
  open(): Promise<Stores>;
  /** Removes what the harness created (temp dir or keyspace). */
  cleanup(): Promise<void>;
}

export function embeddedHarness(): StoresHarness {
  const dir = mkdtempSync(join(tmpdir(), 'stores-'));
  return {
    name: 'embedded',
    open: () => openStores({ dataDir: dir }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

const engineHint = (what: string, e: unknown) =>
  new Error(
    `${what} is unreachable at ${engineUrls().scyllaContactPoints}: start it with \`npm run infra -- up cql\` ` +
      `(or set SCYLLA_CONTACT_POINTS). Cause: ${(e as Error)?.message ?? String(e)}`,
  );

/** `label` makes the keyspace unique per test file; a random suffix per run. */
export function cqlHarness(label: string): StoresHarness {
  const keyspace = `t_${label}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`.toLowerCase();
  const config: StoreConfig = {
    scyllaContactPoints: engineUrls().scyllaContactPoints.split(','),
    keyspace,
    readTimeoutMs: 20_000,
  };
  let migrated = false;
  return {
    name: 'cql',
    async open() {
      try {
        const stores = await openStores({ ...config, migrate: !migrated });
        migrated = true;
        return stores;
      } catch (e) {
        throw engineHint('The CQL node (Cassandra/ScyllaDB)', e);
      }
    },
    async cleanup() {
      const stores = await openStores({ ...config, migrate: false });
      if (stores.backend.kind === 'scylla')
        await stores.backend.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { prepare: false });
      await stores.close();
    },
  };
}

/** Redis URL for engine suites; fails loudly naming the engine when it does not answer PING. */
export async function requireRedis(): Promise<string> {
  const url = engineUrls().redisUrl;
  const { Redis } = await import('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 3000 });
  try {
    await r.connect();
    await r.ping();
    return url;
  } catch (e) {
    throw new Error(`Redis is unreachable at ${url}: start it with \`npm run infra -- up redis\` (or set REDIS_URL). Cause: ${(e as Error).message}`);
  } finally {
    r.disconnect();
  }
}
