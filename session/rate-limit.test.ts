import { describe, expect, it } from 'vitest';
import { InboundLimit, TokenBucket } from './rate-limit.ts';

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

  it('rate limit - a flood is cut even when refills let a frame through between its refusals', () => {
    let now = 0;
    const limit = new InboundLimit(50, 100, () => now);
    const flood = (frames: number) => Array.from({ length: frames }, () => limit.admit());
    expect(flood(100).every((a) => a === 'accept')).toBe(true);
    // 90 refused, a token refills (20 ms at 50/s), 90 more: the refill must not wipe the debt.
    expect(flood(90).every((a) => a === 'refuse')).toBe(true);
    now += 20;
    const second = flood(90);
    expect(second[0]).toBe('accept');
    expect(second).toContain('cut');
  });

  it('rate limit - a client that backs off pays its refusals back and is never cut', () => {
    let now = 0;
    const limit = new InboundLimit(50, 100, () => now);
    // Each round overshoots by 50, then waits as told: the refilled bucket's accepted frames
    // pay the last round's refusals back before new ones are counted.
    for (let round = 0; round < 20; round++) {
      const got = Array.from({ length: 150 }, () => limit.admit());
      expect(got.filter((a) => a === 'accept')).toHaveLength(100);
      expect(got).not.toContain('cut');
      now += 10_000;
    }
  });
});
