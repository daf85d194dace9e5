/**
 * The one store factory: opens every store port (catalog, users, playlists, history,
 * snapshots, and the pipeline's royalty ledger and features) on one engine:
 * ScyllaDB/Cassandra when `scyllaContactPoints` is set, else the embedded LMDB environment at
 * `dataDir` (the data layout's store/). Drivers load lazily by adapter name, so the embedded
 * default never loads cassandra-driver and the CQL adapter never loads lmdb.
 */
import type { Stores } from '../storage/stores.ts';
import {
  DEFAULT_KEYSPACE,
  DEFAULT_LOCAL_DATA_CENTER,
  DEFAULT_REPLICATION,
  type Replication,
} from '../storage/cql-client.ts';

export type { Stores };

/** The stores' section of the config (app/config.ts), or a test's own engine. */
export interface StoreConfig {
  /** CQL contact points (host[:port]); empty or absent selects the embedded store. */
  scyllaContactPoints?: string[];
  localDataCenter?: string;
  keyspace?: string;
  replication?: Replication;
  /** Apply storage/*.cql at start (default true). */
  migrate?: boolean;
  readTimeoutMs?: number;
  /** Embedded store directory; required when no contact points are given. */
  dataDir?: string;
}

export async function openStores(config: StoreConfig): Promise<Stores> {
  if (config.scyllaContactPoints?.length) return openScyllaStores(config);
  if (config.dataDir === undefined)
    throw new Error('openStores: dataDir is required for the embedded store (no SCYLLA_CONTACT_POINTS)');
  return openEmbeddedStores(config.dataDir);
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
    { createLmdbRoyalties },
    { createLmdbFeatures },
    { createLmdbScrobbles },
  ] = await Promise.all([
    import('../storage/lmdb-guard.ts'),
    import('../storage/lmdb-env.ts'),
    import('../storage/catalog.lmdb.ts'),
    import('../storage/users.lmdb.ts'),
    import('../storage/playlists.lmdb.ts'),
    import('../storage/history.lmdb.ts'),
    import('../storage/snapshots.lmdb.ts'),
    import('../storage/royalties.lmdb.ts'),
    import('../storage/features.lmdb.ts'),
    import('../storage/scrobbles.lmdb.ts'),
  ]);
  const env = await openEmbeddedEnv(dataDir);
  return {
    catalog: guardEmbedded(createLmdbCatalog(env), 'catalog'),
    users: guardEmbedded(createLmdbUsers(env), 'users'),
    playlists: guardEmbedded(createLmdbPlaylists(env), 'playlists'),
    history: guardEmbedded(createLmdbHistory(env), 'history'),
    snapshots: guardEmbedded(createLmdbSnapshots(env), 'snapshots'),
    royalties: createLmdbRoyalties(env),
    features: createLmdbFeatures(env),
    scrobbles: createLmdbScrobbles(env),
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
    { createScyllaRoyalties },
    { createScyllaFeatures },
    { createScyllaScrobbles },
  ] = await Promise.all([
    import('../storage/cql-client.ts'),
    import('../storage/catalog.scylla.ts'),
    import('../storage/users.scylla.ts'),
    import('../storage/playlists.scylla.ts'),
    import('../storage/history.scylla.ts'),
    import('../storage/snapshots.scylla.ts'),
    import('../storage/royalties.scylla.ts'),
    import('../storage/features.scylla.ts'),
    import('../storage/scrobbles.scylla.ts'),
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
    royalties: createScyllaRoyalties(client, keyspace),
    features: createScyllaFeatures(client, keyspace),
    scrobbles: createScyllaScrobbles(client, keyspace),
    backend: { kind: 'scylla', client, keyspace },
    close: () => client.shutdown(),
  };
}
