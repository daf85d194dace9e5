import { randomBytes } from 'node:crypto';
import { createRedisTrackCache } from './cache.redis.ts';
import { requireRedis } from '../testkit/store-engines.ts';
import { hydrationContract } from './hydration.contract.ts';

// Real Redis; a fresh key prefix per cache keeps every case cold.
hydrationContract('redis', async () =>
  createRedisTrackCache(await requireRedis(), `test:${randomBytes(6).toString('hex')}:`),
);
