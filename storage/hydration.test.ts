import { createLruTrackCache } from './cache.lru.ts';
import { hydrationContract } from './hydration.contract.ts';

hydrationContract('in-process LRU', async () => createLruTrackCache(1000));
