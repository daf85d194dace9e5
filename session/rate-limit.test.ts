import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limit.ts';

describe('rate limit', () => {
  it('rate limit - a burst passes, the next frame is refused, refill restores it', () => {
    let now = 0;
    const b = new TokenBucket(10, 5, () => now);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    now += 100; // 10/s -> one token
    expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    now += 60_000; // refill is capped at burst
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
  });
});
