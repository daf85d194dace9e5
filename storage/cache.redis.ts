/** Redis track cache (ioredis): one MGET per batch read, one pipeline of SET EX per write-back. */
import type { Redis } from 'ioredis';
import { DEFAULT_TRACK_TTL_SECONDS, TRACK_KEY_PREFIX, type TrackCache } from './cache.ts';
import type { Track } from './catalog.ts';
import { StorageError } from './errors.ts';

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

const unavailable = (what: string, e: unknown) =>
  new StorageError('unavailable', `redis ${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });

export async function createRedisTrackCache(url: string, keyPrefix = TRACK_KEY_PREFIX): Promise<TrackCache> {
  const { Redis: RedisClient } = await import('ioredis');
  const redis: Redis = new RedisClient(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: true,
  });
  // Connection errors reach callers as 'unavailable' from the command that hit them; without a
  // listener ioredis would also print each one as an "Unhandled error event".
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new StorageError('unavailable', `redis unreachable at ${url}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  return {
    async getTracks(ids) {
      const out = new Map<string, Track>();
      if (ids.length === 0) return out;
      let values: (string | null)[];
      try {
        values = await redis.mget(ids.map((id) => keyPrefix + id));
      } catch (e) {
        throw unavailable('MGET', e);
      }
      values.forEach((v, i) => {
        if (v === null) return;
        try {
          out.set(ids[i]!, JSON.parse(v) as Track);
        } catch {
          // A corrupt value is a miss; the read-through overwrites it.
        }
      });
      return out;
    },
    async putTracks(tracks, ttlSeconds = DEFAULT_TRACK_TTL_SECONDS) {
      if (tracks.length === 0) return;
      const p = redis.pipeline();
      for (const t of tracks) p.set(keyPrefix + t.id, JSON.stringify(t), 'EX', ttlSeconds);
      try {
        const results = await p.exec();
        const failed = results?.find(([err]) => err);
        if (failed) throw failed[0];
      } catch (e) {
        throw unavailable('SET pipeline', e);
      }
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
