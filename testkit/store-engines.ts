/**
 * Harnesses for the contract suites: the embedded store in a fresh temp dir (reopenable), and
 * the real CQL node in a keyspace unique to the calling test file. Engines are required through
 * the launcher's `requireEngine`, which FAILS LOUDLY (naming the engine and `npm run infra -- up`)
 * when one is unreachable; nothing skips.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireEngine, testNamespace } from './engines.ts';
import { openStores, type StoreConfig, type Stores } from '../app/open-stores.ts';

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

/** `label` makes the keyspace unique per test file (and per run). */
export function cqlHarness(label: string): StoresHarness {
  const { keyspace } = testNamespace(label);
  let config: StoreConfig | undefined;
  let migrated = false;
  const configured = async (): Promise<StoreConfig> => {
    const cql = await requireEngine('cql');
    config ??= {
      scyllaContactPoints: cql.contactPoints,
      localDataCenter: cql.localDataCenter,
      keyspace,
      readTimeoutMs: 20_000,
    };
    return config;
  };
  return {
    name: 'cql',
    async open() {
      const stores = await openStores({ ...(await configured()), migrate: !migrated });
      migrated = true;
      return stores;
    },
    async cleanup() {
      const stores = await openStores({ ...(await configured()), migrate: false });
      if (stores.backend.kind === 'scylla')
        await stores.backend.client.execute(`DROP KEYSPACE IF EXISTS ${keyspace}`, [], { prepare: false });
      await stores.close();
    },
  };
}

/** Redis URL for engine suites; fails loudly naming the engine when it does not answer. */
export const requireRedis = (): Promise<string> => requireEngine('redis');
