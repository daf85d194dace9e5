/**
 * Opens the track cache of the config's cache section: the Redis adapter when `redisUrl`
 * (REDIS_URL) is set, else the in-process LRU. Drivers load lazily, so the default never
 * loads ioredis.
 */
import type { TrackCache } from '../storage/cache.ts';

export interface CacheConfig {
  redisUrl?: string;
  maxEntries?: number;
}

export async function openTrackCache(config: CacheConfig): Promise<TrackCache> {
  if (config.redisUrl)
    return (await import('../storage/cache.redis.ts')).createRedisTrackCache(config.redisUrl);
  return (await import('../storage/cache.lru.ts')).createLruTrackCache(config.maxEntries);
}
