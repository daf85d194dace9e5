import { describe, expect, it } from 'vitest';
import { monthOf } from './event-codec.ts';

const reference = (ts: number) => new Date(ts).toISOString().slice(0, 7);

describe('event codec', () => {
  it('event codec - monthOf gives the UTC month of every instant, at month edges and out of order', () => {
    const edges = [
      Date.UTC(2025, 0, 31, 23, 59, 59, 999),
      Date.UTC(2025, 1, 1),
      Date.UTC(2024, 1, 29, 12),
      Date.UTC(2024, 2, 1) - 1,
      Date.UTC(2024, 2, 1),
      Date.UTC(2025, 11, 31, 23, 59, 59, 999),
      Date.UTC(2026, 0, 1),
      0,
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
    ];
    // Each instant after itself, its neighbours and an instant of another month: the cached
    // month of the previous call must never leak into the next.
    const order = edges.flatMap((t) => [t, t - 1, t + 1, t, Date.UTC(2025, 5, 15), t]);
    for (const t of order) expect(monthOf(t)).toBe(reference(t));
    expect(monthOf(Date.UTC(2025, 0, 10))).toBe('2025-01');
    expect(monthOf(Date.UTC(10000, 0, 1))).toBe('+010000');
  });
});
