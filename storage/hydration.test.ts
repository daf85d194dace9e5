import { createLruTrackCache } from './cache.lru.ts';
import { hydrationContract } from './hydration.contract.ts';

// 1000 entries hold 100 playlist slots: pages of 150 other playlists push one out.
hydrationContract(
  'in-process LRU',
  async () => createLruTrackCache(1000),
  async (cache) => {
    for (let i = 0; i < 150; i++) await cache.readPlaylistPage(`churn${i}`, 0, 1);
  },
);
