import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pickAutoplay, spacingViolations, type Candidate } from './answer-rules.ts';

const c = (trackId: string, artistId: string): Candidate => ({ trackId, artistId });
const rules = (over: Partial<Parameters<typeof pickAutoplay>[1]> = {}) => ({
  count: 5,
  excluded: new Set<string>(),
  leadInArtists: [],
  playable: () => true,
  ...over,
});

describe('answer rules', () => {
  it('rules - keeps the ranking order when nothing is in the way', () => {
    const ranked = [c('t1', 'a'), c('t2', 'b'), c('t3', 'c')];
    expect(pickAutoplay(ranked, rules({ count: 3 }))).toEqual(['t1', 't2', 't3']);
  });

  it('rules - leaves out unplayable, excluded and repeated tracks', () => {
    const ranked = [c('t1', 'a'), c('t2', 'b'), c('t2', 'b'), c('t3', 'c'), c('t4', 'd'), c('t5', 'e')];
    const out = pickAutoplay(
      ranked,
      rules({ excluded: new Set(['t1']), playable: (id) => id !== 't3', count: 10 }),
    );
    expect(out).toEqual(['t2', 't4', 't5']);
  });

  it('rules - no artist twice within 3 consecutive tracks; a held-back neighbour comes in later', () => {
    const ranked = [c('t1', 'a'), c('t2', 'a'), c('t3', 'b'), c('t4', 'c')];
    expect(pickAutoplay(ranked, rules({ count: 4 }))).toEqual(['t1', 't3', 't4', 't2']);
  });

  it('rules - the seam counts: the last two artists before the answer are spaced too', () => {
    const ranked = [c('t1', 'x'), c('t2', 'y'), c('t3', 'z')];
    expect(pickAutoplay(ranked, rules({ count: 1, leadInArtists: ['q', 'x', 'y'] }))).toEqual(['t3']);
  });

  it('rules - an answer may be shorter than asked when spacing cannot be met', () => {
    expect(pickAutoplay([c('t1', 'a'), c('t2', 'a'), c('t3', 'a')], rules({ count: 3 }))).toEqual(['t1']);
  });

  it('rules - a count of 0 answers nothing', () => {
    expect(pickAutoplay([c('t1', 'a')], rules({ count: 0 }))).toEqual([]);
  });

  it('rules - any ranking: no violation across the seam, nothing excluded or unplayable, no repeats', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ t: fc.integer({ min: 0, max: 40 }), a: fc.integer({ min: 0, max: 5 }) }), {
          maxLength: 80,
        }),
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
        fc.integer({ min: 1, max: 12 }),
        (xs, lead, count) => {
          const artistOf = new Map<string, string>();
          const ranked = xs.map(({ t, a }) => {
            // One artist per track, as in a catalog.
            const id = `t${t}`;
            if (!artistOf.has(id)) artistOf.set(id, `a${a}`);
            return c(id, artistOf.get(id)!);
          });
          const leadIn = lead.map((a) => `a${a}`);
          const out = pickAutoplay(
            ranked,
            rules({ count, leadInArtists: leadIn, excluded: new Set(['t1']), playable: (id) => id !== 't2' }),
          );
          expect(out.length).toBeLessThanOrEqual(count);
          expect(new Set(out).size).toBe(out.length);
          expect(out).not.toContain('t1');
          expect(out).not.toContain('t2');
          // Violations inside the lead-in (the context itself) are not the answer's.
          const seam = leadIn.slice(-2);
          const all = spacingViolations([...seam, ...out.map((id) => artistOf.get(id)!)]);
          expect(all - spacingViolations(seam)).toBe(0);
        },
      ),
    );
  });

  it('rules - spacingViolations counts pairs closer than 3', () => {
    expect(spacingViolations(['a', 'b', 'a'])).toBe(1);
    expect(spacingViolations(['a', 'b', 'c', 'a'])).toBe(0);
    expect(spacingViolations(['a', 'a'])).toBe(1);
  });
});
