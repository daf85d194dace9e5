/**
 * Every store port, opened together on one engine (the embedded LMDB environment or one CQL
 * session and keyspace). app/open-stores.ts opens them; services take the ports they use.
 */
import type { StoreBackend } from './backend.ts';
import type { CatalogStore } from './catalog.ts';
import type { FeatureStore } from './features.ts';
import type { HistoryStore } from './history.ts';
import type { PlaylistStore } from './playlists.ts';
import type { RoyaltyStore } from './royalties.ts';
import type { ScrobbleStore } from './scrobbles.ts';
import type { SnapshotStore } from './snapshots.ts';
import type { UserStore } from './users.ts';

export interface Stores {
  catalog: CatalogStore;
  users: UserStore;
  playlists: PlaylistStore;
  history: HistoryStore;
  snapshots: SnapshotStore;
  royalties: RoyaltyStore;
  features: FeatureStore;
  /** Linked ListenBrainz accounts and the plays submitted (the scrobbler). */
  scrobbles: ScrobbleStore;
  /** The engine handle. FOR storage/ ADAPTERS AND ENGINE TESTS ONLY (e.g. dropping a test keyspace). */
  backend: StoreBackend;
  /** Flushes pending writes and closes the engine. */
  close(): Promise<void>;
}
