/** In-process LRU track cache (lru-cache), the default when REDIS_URL is unset. */
import { LRUCache } from 'lru-cache';
import { DEFAULT_LRU_MAX_ENTRIES, DEFAULT_TRACK_TTL_SECONDS, type TrackCache } from './cache.ts';
import type { Track } from './catalog.ts';

export function createLruTrackCache(maxEntries = DEFAULT_LRU_MAX_ENTRIES): TrackCache {
  const lru = new LRUCache<string, Track>({ max: maxEntries, ttl: DEFAULT_TRACK_TTL_SECONDS * 1000 });
  return {
    async getTracks(ids) {
      const out = new Map<string, Track>();
      for (const id of ids) {
        const t = lru.get(id);
        if (t) out.set(id, t);
      }
      return out;
    },
    async putTracks(tracks, ttlSeconds = DEFAULT_TRACK_TTL_SECONDS) {
      for (const t of tracks) lru.set(t.id, t, { ttl: ttlSeconds * 1000 });
    },
    async close() {
      lru.clear();
    },
  };
}
