/**
 * Opens the pipeline's own store ports (royalty ledger, track features) on the engine the
 * other stores use (`Stores.backend` from storage/open-stores.ts): the same LMDB environment,
 * or the same CQL session and keyspace (tables from storage/schema-pipeline.cql).
 * Adapters load lazily so the embedded default never loads cassandra-driver.
 */
import type { StoreBackend } from '../storage/backend.ts';
import type { FeatureStore } from '../storage/features.ts';
import type { RoyaltyStore } from '../storage/royalties.ts';

export interface PipelineStores {
  royalties: RoyaltyStore;
  features: FeatureStore;
}

export async function openPipelineStores(backend: StoreBackend): Promise<PipelineStores> {
  if (backend.kind === 'embedded') {
    const [{ createLmdbRoyalties }, { createLmdbFeatures }] = await Promise.all([
      import('../storage/royalties.lmdb.ts'),
      import('../storage/features.lmdb.ts'),
    ]);
    return { royalties: createLmdbRoyalties(backend.env), features: createLmdbFeatures(backend.env) };
  }
  const [{ createScyllaRoyalties }, { createScyllaFeatures }] = await Promise.all([
    import('../storage/royalties.scylla.ts'),
    import('../storage/features.scylla.ts'),
  ]);
  return {
    royalties: createScyllaRoyalties(backend.client, backend.keyspace),
    features: createScyllaFeatures(backend.client, backend.keyspace),
  };
}
