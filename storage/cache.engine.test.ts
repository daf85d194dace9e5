import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAYLIST_KEY_PREFIX, TRACK_KEY_PREFIX } from './cache.ts';
import { createRedisTrackCache } from './cache.redis.ts';
import { cacheContract } from './cache.contract.ts';
import { track } from './catalog.contract.ts';
import { deleteRedisPrefix, testNamespace } from '../testkit/engines.ts';
import { requireRedis } from '../testkit/store-engines.ts';

// Every cache gets its own key prefix under this file's namespace, so each case starts cold.
const ns = testNamespace('cache');
let n = 0;
let redisUrl: string;
let admin: Redis;
beforeAll(async () => {
  redisUrl = await requireRedis();
  admin = new Redis(redisUrl);
});
afterAll(async () => {
  await deleteRedisPrefix(admin, ns.redisPrefix);
  await admin.quit();
});

let namespace = '';
cacheContract(
  'redis',
  async () => createRedisTrackCache(redisUrl, (namespace = `${ns.redisPrefix}${++n}:`)),
  // What maxmemory eviction would do: the page hash (with its leases) and the edit mark go.
  async (_cache, playlistId) => {
    const key = `${namespace}${PLAYLIST_KEY_PREFIX}${playlistId}`;
    await admin.del(key, `${key}:edit`);
  },
);

describe('redis cache', () => {
  it('redis cache - a value that cannot be decoded is a miss, and the next put repairs it', async () => {
    const prefix = `${ns.redisPrefix}corrupt:`;
    const c = await createRedisTrackCache(redisUrl, prefix);
    await c.putTracks([track('ok')]);
    await admin.set(`${prefix}${TRACK_KEY_PREFIX}bad`, '{not json', 'EX', 60);
    const got = await c.getTracks(['bad', 'ok']);
    expect([...got.keys()]).toEqual(['ok']);
    await c.putTracks([track('bad')]);
    expect((await c.getTracks(['bad'])).get('bad')).toEqual(track('bad'));
    await c.close();
  });

  it('redis cache - an undecodable page is a miss', async () => {
    const prefix = `${ns.redisPrefix}badpage:`;
    const c = await createRedisTrackCache(redisUrl, prefix);
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pb`, 'p:0:1', '{not json', 'i:0:1', '[]');
    expect((await c.readPlaylistPage('pb', 0, 1)).hit).toBe(false);
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pb`, 'p:0:1', '{}', 'i:0:1', 'nope');
    expect((await c.readPlaylistPage('pb', 0, 1)).hit).toBe(false);
    await c.close();
  });

  it("redis cache - two processes sharing a prefix see each other's writes", async () => {
    const prefix = `${ns.redisPrefix}shared:`;
    const a = await createRedisTrackCache(redisUrl, prefix);
    const b = await createRedisTrackCache(redisUrl, prefix);
    await a.putTracks([track('s1')]);
    expect((await b.getTracks(['s1'])).get('s1')).toEqual(track('s1'));
    await a.close();
    await b.close();
  });

  it('redis cache - an unreachable Redis is unavailable at open, and after close calls fail as unavailable', async () => {
    await expect(createRedisTrackCache('redis://127.0.0.1:1', ns.redisPrefix)).rejects.toMatchObject({
      name: 'StorageError',
      code: 'unavailable',
    });
    const c = await createRedisTrackCache(redisUrl, `${ns.redisPrefix}closed:`);
    await c.close();
    await expect(c.getTracks(['x'])).rejects.toMatchObject({ name: 'StorageError', code: 'unavailable' });
    await expect(c.putTracks([track('x')])).rejects.toMatchObject({
      name: 'StorageError',
      code: 'unavailable',
    });
  });
});
