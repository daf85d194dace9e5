/**
 * Track metadata cache port, read by playlist hydration. Domain verbs, not Redis commands:
 * adapters are cache.redis.ts (ioredis: one MGET per read, one pipeline of SET EX per write)
 * and cache.lru.ts (in-process lru-cache, the default when REDIS_URL is unset; app/open-track-cache.ts picks one); contract suite
 * storage/cache.contract.ts.
 *
 * Contract: `getTracks` returns the cached tracks among `ids` in ONE round trip (absent ids are
 * misses); `putTracks` writes them with a TTL; a value that cannot be decoded is a miss. Cache
 * failures surface as `StorageError('unavailable')` so callers can fall back to the store.
 */
import type { Track } from './catalog.ts';

export const DEFAULT_TRACK_TTL_SECONDS = 3600;
export const DEFAULT_LRU_MAX_ENTRIES = 100_000;
export const TRACK_KEY_PREFIX = 'track:v1:';

export interface TrackCache {
  /**
   * The cached tracks among `ids`, in one round trip; absent, expired or undecodable entries
   * are misses (absent from the map); a repeated id appears once. `unavailable` when the cache
   * cannot answer (the caller falls back to the store).
   */
  getTracks(ids: readonly string[]): Promise<Map<string, Track>>;
  /**
   * Writes the tracks by id (replacing what was there), each expiring after `ttlSeconds`
   * (default DEFAULT_TRACK_TTL_SECONDS); an empty list is a no-op. `unavailable` on failure.
   */
  putTracks(tracks: readonly Track[], ttlSeconds?: number): Promise<void>;
  /** Releases the connection or memory; the cache is not used afterwards. */
  close(): Promise<void>;
}
