import { createLruTrackCache } from './cache.lru.ts';
import { hydrationContract } from './contract/hydration.contract.ts';

hydrationContract('in-process LRU', async () => createLruTrackCache(1000));
