import { describe, expect, it } from 'vitest';
import { createLruTrackCache } from './cache.lru.ts';
import { cacheContract } from './cache.contract.ts';
import { track } from './catalog.contract.ts';

// 1000 entries hold 100 playlist slots: pages of 150 other playlists push one out.
cacheContract(
  'lru',
  async () => createLruTrackCache(1000),
  async (cache) => {
    for (let i = 0; i < 150; i++) await cache.readPlaylistPage(`churn${i}`, 0, 1);
  },
);

describe('lru cache', () => {
  it('lru cache - beyond maxEntries the least recently used track is evicted', async () => {
    const c = createLruTrackCache(2);
    await c.putTracks([track('a'), track('b')]);
    await c.getTracks(['a']); // a is now more recent than b
    await c.putTracks([track('c')]);
    expect([...(await c.getTracks(['a', 'b', 'c'])).keys()].sort()).toEqual(['a', 'c']);
    await c.close();
  });
});
