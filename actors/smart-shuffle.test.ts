import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { smartShuffle, smartShuffleFrom } from './smart-shuffle.ts';

const playlist = fc
  .array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 120 })
  .map((artists) => artists.map((a) => ({ artistId: `a${a}` })));

/** Positions of each artist's tracks in an order. */
function positions(tracks: { artistId: string }[], order: number[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  order.forEach((idx, pos) => {
    const a = tracks[idx]!.artistId;
    m.set(a, [...(m.get(a) ?? []), pos]);
  });
  return m;
}

describe('smart shuffle', () => {
  test('smart shuffle - is a permutation of the context', () => {
    fc.assert(
      fc.property(playlist, fc.integer(), (tracks, seed) => {
        const order = smartShuffle(tracks, seed);
        expect([...order].sort((a, b) => a - b)).toEqual(tracks.map((_, i) => i));
      }),
    );
  });

  test('smart shuffle - the same seed gives the same order, other seeds other orders', () => {
    fc.assert(
      fc.property(playlist, fc.integer(), (tracks, seed) => {
        expect(smartShuffle(tracks, seed)).toEqual(smartShuffle(tracks, seed));
      }),
    );
    const tracks = Array.from({ length: 30 }, (_, i) => ({ artistId: `a${i % 5}` }));
    const distinct = new Set(Array.from({ length: 20 }, (_, s) => smartShuffle(tracks, s).join(',')));
    expect(distinct.size).toBeGreaterThan(15);
  });

  test('smart shuffle - an artist with k of n tracks is spread: every gap between its tracks is under 2n/k + 2', () => {
    fc.assert(
      fc.property(playlist, fc.integer(), (tracks, seed) => {
        const n = tracks.length;
        for (const pos of positions(tracks, smartShuffle(tracks, seed)).values()) {
          const k = pos.length;
          if (k < 2) continue;
          for (let i = 1; i < k; i++) expect(pos[i]! - pos[i - 1]!).toBeLessThan((2 * n) / k + 2);
        }
      }),
    );
  });

  test('smart shuffle - two artists with equal shares never play three in a row of the same artist', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.integer(), (k, seed) => {
        const tracks = Array.from({ length: 2 * k }, (_, i) => ({ artistId: i < k ? 'x' : 'y' }));
        const artists = smartShuffle(tracks, seed)
          .map((i) => tracks[i]!.artistId)
          .join('');
        expect(artists).not.toMatch(/xxx|yyy/);
      }),
    );
  });

  test('smart shuffle - clumps less than a plain shuffle on average (same-artist neighbours)', () => {
    const tracks = Array.from({ length: 60 }, (_, i) => ({ artistId: `a${i % 4}` }));
    let neighbours = 0;
    for (let seed = 0; seed < 50; seed++) {
      const order = smartShuffle(tracks, seed);
      for (let i = 1; i < order.length; i++)
        if (tracks[order[i]!]!.artistId === tracks[order[i - 1]!]!.artistId) neighbours++;
    }
    // A uniform shuffle averages (n-1) * (k-1)/(n-1) ~ 14.75 per order for 4 artists of 15.
    expect(neighbours / 50).toBeLessThan(3);
  });

  test('smart shuffle - smartShuffleFrom puts the chosen track first and keeps a permutation', () => {
    fc.assert(
      fc.property(playlist, fc.integer(), fc.nat(), (tracks, seed, pick) => {
        const first = pick % tracks.length;
        const order = smartShuffleFrom(tracks, seed, first);
        expect(order[0]).toBe(first);
        expect(new Set(order).size).toBe(tracks.length);
      }),
    );
  });
});
