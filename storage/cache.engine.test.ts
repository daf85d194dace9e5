import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLAYLIST_KEY_PREFIX, TRACK_KEY_PREFIX } from './cache.ts';
import { createRedisTrackCache } from './cache.redis.ts';
import { cacheContract, page } from './cache.contract.ts';
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
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pb`, 'p:0:1', '{not json');
    expect(await c.readPlaylistPage('pb', 0, 1)).toEqual({ hit: false });
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pb`, 'p:0:1', '{"entries":7}');
    expect(await c.readPlaylistPage('pb', 0, 1)).toEqual({ hit: false });
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pb`, 'p:0:1', 'null');
    expect(await c.readPlaylistPage('pb', 0, 1)).toEqual({ hit: false });
    await c.close();
  });

  it('redis cache - a track value changed in Redis is seen at the next read, by both read paths', async () => {
    const prefix = `${ns.redisPrefix}changed:`;
    const c = await createRedisTrackCache(redisUrl, prefix);
    await c.putTracks([track('a'), track('b')]);
    const r = await c.readPlaylistPage('pc', 0, 2);
    await c.fillPlaylistPage('pc', 0, 2, r.hit ? '' : r.lease!, page('pc', 1, ['a', 'b']));
    await c.readPlaylistPage('pc', 0, 2); // the warm path now knows the page's keys
    const warm = await c.readPlaylistPage('pc', 0, 2);
    expect(warm.hit && warm.tracks.get('a')).toEqual(track('a'));
    // Written behind the cache's back (another process), same length: only the bytes differ.
    await admin.set(`${prefix}${TRACK_KEY_PREFIX}a`, JSON.stringify(track('a', { title: 'Title A' })));
    expect((await c.getTracks(['a'])).get('a')?.title).toBe('Title A');
    const after = await c.readPlaylistPage('pc', 0, 2);
    expect(after.hit && after.tracks.get('a')?.title).toBe('Title A');
    // Corrupted after a good read: a miss, never the value decoded before.
    await admin.set(`${prefix}${TRACK_KEY_PREFIX}b`, '{not json');
    const corrupt = await c.readPlaylistPage('pc', 0, 2);
    expect(corrupt.hit && [...corrupt.tracks.keys()]).toEqual(['a']);
    expect([...(await c.getTracks(['a', 'b'])).keys()]).toEqual(['a']);
    await c.close();
  });

  it('redis cache - a page changed in Redis is seen at the next read; an undecodable one after a good one is a miss', async () => {
    const prefix = `${ns.redisPrefix}pagechanged:`;
    const c = await createRedisTrackCache(redisUrl, prefix);
    await c.putTracks([track('a'), track('b')]);
    const r = await c.readPlaylistPage('pp', 0, 2);
    await c.fillPlaylistPage('pp', 0, 2, r.hit ? '' : r.lease!, page('pp', 1, ['a', 'b']));
    const first = await c.readPlaylistPage('pp', 0, 2);
    expect(first.hit && first.page.entries.map((e) => e.trackId)).toEqual(['a', 'b']);
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pp`, 'p:0:2', JSON.stringify(page('pp', 2, ['b'])));
    const second = await c.readPlaylistPage('pp', 0, 2);
    expect(second.hit && second.page.playlist.version).toBe(2);
    expect(second.hit && [...second.tracks.keys()]).toEqual(['b']);
    await admin.hset(`${prefix}${PLAYLIST_KEY_PREFIX}pp`, 'p:0:2', '{not json');
    expect(await c.readPlaylistPage('pp', 0, 2)).toEqual({ hit: false });
    await c.close();
  });

  it('redis cache - what a read returns is frozen: a caller cannot change what the next read gets', async () => {
    const prefix = `${ns.redisPrefix}frozen:`;
    const c = await createRedisTrackCache(redisUrl, prefix);
    await c.putTracks([track('a')]);
    const r = await c.readPlaylistPage('pf', 0, 1);
    await c.fillPlaylistPage('pf', 0, 1, r.hit ? '' : r.lease!, page('pf', 1, ['a']));
    const read = await c.readPlaylistPage('pf', 0, 1);
    if (!read.hit) throw new Error('expected a hit');
    expect(() => {
      read.tracks.get('a')!.title = 'changed';
    }).toThrow(TypeError);
    expect(() => {
      read.page.entries.push({ entryId: 'x', trackId: 'x', addedBy: 'u', addedAt: 0 });
    }).toThrow(TypeError);
    expect(() => {
      read.page.playlist.collaborators.push('intruder');
    }).toThrow(TypeError);
    const again = await c.readPlaylistPage('pf', 0, 1);
    expect(again).toEqual({ hit: true, page: page('pf', 1, ['a']), tracks: new Map([['a', track('a')]]) });
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
