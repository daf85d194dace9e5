/**
 * Opens every store port on one engine: ScyllaDB/Cassandra when `scyllaContactPoints` is set,
 * else the embedded LMDB environment at `dataDir`. Drivers load lazily by adapter name, so the
 * embedded default never loads cassandra-driver and the CQL adapter never loads lmdb.
 */
import type { StoreBackend } from '../storage/backend.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import { StorageError } from '../storage/errors.ts';
import type { HistoryStore } from '../storage/history.ts';
import type { PlaylistStore } from '../storage/playlists.ts';
import {
  DEFAULT_KEYSPACE,
  DEFAULT_LOCAL_DATA_CENTER,
  DEFAULT_REPLICATION,
  type Replication,
} from '../storage/cql-client.ts';
import { DEFAULT_DATA_DIR } from '../storage/lmdb-env.ts';
import type { SnapshotStore } from '../storage/snapshots.ts';
import type { UserStore } from '../storage/users.ts';

// client.ts and env.ts import their drivers only lazily, so these imports stay light.
export { DEFAULT_DATA_DIR, DEFAULT_KEYSPACE, DEFAULT_LOCAL_DATA_CENTER, DEFAULT_REPLICATION };
export type { Replication };

export interface StoreConfig {
  /** CQL contact points (host[:port]); empty or absent selects the embedded store. */
  scyllaContactPoints?: string[];
  localDataCenter?: string;
  keyspace?: string;
  replication?: Replication;
  /** Apply storage/*.cql at start (default true). */
  migrate?: boolean;
  readTimeoutMs?: number;
  /** Embedded store directory (default `DEFAULT_DATA_DIR`). */
  dataDir?: string;
}

export interface Stores {
  catalog: CatalogStore;
  users: UserStore;
  playlists: PlaylistStore;
  history: HistoryStore;
  snapshots: SnapshotStore;
  /** The engine handle. FOR storage/ ADAPTERS ONLY (sibling ports opening their own tables). */
  backend: StoreBackend;
  close(): Promise<void>;
}

/** Parses SCYLLA_CONTACT_POINTS / SCYLLA_KEYSPACE / SCYLLA_LOCAL_DC / SCYLLA_REPLICATION / DATA_DIR. */
export function storeConfigFromEnv(env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const points = (env.SCYLLA_CONTACT_POINTS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    ...(points.length ? { scyllaContactPoints: points } : {}),
    localDataCenter: env.SCYLLA_LOCAL_DC || DEFAULT_LOCAL_DATA_CENTER,
    keyspace: env.SCYLLA_KEYSPACE || DEFAULT_KEYSPACE,
    replication: parseReplication(env.SCYLLA_REPLICATION),
    dataDir: env.DATA_DIR || DEFAULT_DATA_DIR,
  };
}

/** `simple:3` or `dc1:3,dc2:2` (NetworkTopologyStrategy); absent -> SimpleStrategy RF 1. */
export function parseReplication(value: string | undefined): Replication {
  if (!value) return DEFAULT_REPLICATION;
  const simple = /^simple:(\d+)$/i.exec(value.trim());
  if (simple) return { class: 'SimpleStrategy', replicationFactor: Number(simple[1]) };
  const dataCenters: Record<string, number> = {};
  for (const part of value.split(',')) {
    const m = /^\s*([\w.-]+):(\d+)\s*$/.exec(part);
    if (!m)
      throw new StorageError(
        'bad_request',
        `SCYLLA_REPLICATION: expected "simple:N" or "dc:N,dc:N", got "${value}"`,
      );
    dataCenters[m[1]!] = Number(m[2]);
  }
  return { class: 'NetworkTopologyStrategy', dataCenters };
}

export async function openStores(config: StoreConfig = {}): Promise<Stores> {
  return config.scyllaContactPoints?.length
    ? openScyllaStores(config)
    : openEmbeddedStores(config.dataDir ?? DEFAULT_DATA_DIR);
}

async function openEmbeddedStores(dataDir: string): Promise<Stores> {
  const [
    { guardEmbedded },
    { openEmbeddedEnv },
    { createLmdbCatalog },
    { createLmdbUsers },
    { createLmdbPlaylists },
    { createLmdbHistory },
    { createLmdbSnapshots },
  ] = await Promise.all([
    import('../storage/lmdb-guard.ts'),
    import('../storage/lmdb-env.ts'),
    import('../storage/catalog.lmdb.ts'),
    import('../storage/users.lmdb.ts'),
    import('../storage/playlists.lmdb.ts'),
    import('../storage/history.lmdb.ts'),
    import('../storage/snapshots.lmdb.ts'),
  ]);
  const env = await openEmbeddedEnv(dataDir);
  return {
    catalog: guardEmbedded(createLmdbCatalog(env), 'catalog'),
    users: guardEmbedded(createLmdbUsers(env), 'users'),
    playlists: guardEmbedded(createLmdbPlaylists(env), 'playlists'),
    history: guardEmbedded(createLmdbHistory(env), 'history'),
    snapshots: guardEmbedded(createLmdbSnapshots(env), 'snapshots'),
    backend: { kind: 'embedded', env, dataDir },
    close: async () => {
      // Flush pending async writes before closing so an acknowledged write survives a reopen.
      await env.flushed;
      await env.close();
    },
  };
}

async function openScyllaStores(config: StoreConfig): Promise<Stores> {
  const [
    client_,
    { createScyllaCatalog },
    { createScyllaUsers },
    { createScyllaPlaylists },
    { createScyllaHistory },
    { createScyllaSnapshots },
  ] = await Promise.all([
    import('../storage/cql-client.ts'),
    import('../storage/catalog.scylla.ts'),
    import('../storage/users.scylla.ts'),
    import('../storage/playlists.scylla.ts'),
    import('../storage/history.scylla.ts'),
    import('../storage/snapshots.scylla.ts'),
  ]);
  const keyspace = config.keyspace ?? DEFAULT_KEYSPACE;
  const client = await client_.connectScylla({
    contactPoints: config.scyllaContactPoints ?? [],
    localDataCenter: config.localDataCenter ?? DEFAULT_LOCAL_DATA_CENTER,
    keyspace,
    ...(config.readTimeoutMs !== undefined ? { readTimeoutMs: config.readTimeoutMs } : {}),
  });
  try {
    if (config.migrate !== false)
      await client_.applyMigrations(client, keyspace, config.replication ?? DEFAULT_REPLICATION);
  } catch (e) {
    await client.shutdown().catch(() => undefined);
    throw e;
  }
  return {
    catalog: createScyllaCatalog(client, keyspace),
    users: createScyllaUsers(client, keyspace),
    playlists: createScyllaPlaylists(client, keyspace),
    history: createScyllaHistory(client, keyspace),
    snapshots: createScyllaSnapshots(client, keyspace),
    backend: { kind: 'scylla', client, keyspace },
    close: () => client.shutdown(),
  };
}
