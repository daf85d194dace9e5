import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { PLAYLIST_KEY_PREFIX } from './cache.ts';
import { createRedisTrackCache } from './cache.redis.ts';
import { hydrationContract } from './hydration.contract.ts';
import { deleteRedisPrefix, testNamespace } from '../testkit/engines.ts';
import { requireRedis } from '../testkit/store-engines.ts';

// Real Redis; a fresh namespace per cache keeps every case cold.
const ns = testNamespace('hydration');
let n = 0;
let namespace = '';
let admin: Redis;
beforeAll(async () => {
  admin = new Redis(await requireRedis());
});
afterAll(async () => {
  await deleteRedisPrefix(admin, ns.redisPrefix);
  await admin.quit();
});

hydrationContract(
  'redis',
  async () => createRedisTrackCache(await requireRedis(), (namespace = `${ns.redisPrefix}${++n}:`)),
  // What maxmemory eviction would do: the page hash (with its leases) and the edit mark go.
  async (_cache, playlistId) => {
    const key = `${namespace}${PLAYLIST_KEY_PREFIX}${playlistId}`;
    await admin.del(key, `${key}:edit`);
  },
);
