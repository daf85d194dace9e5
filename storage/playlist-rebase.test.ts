import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyEffect,
  type ListItem,
  rebaseEdit,
  replayEffects,
  transformGap,
  transformItem,
} from './playlist-rebase.ts';
import type { OpEffect } from './playlists.ts';

const ins = (index: number, ...ids: string[]): OpEffect => ({
  kind: 'insert',
  index,
  entries: ids.map((id) => ({ entryId: id, trackId: id })),
});

describe('playlist rebase', () => {
  it('rebase - an insert shifts later gaps and items, ties go after the committed insert', () => {
    expect(transformGap(2, ins(2, 'x', 'y'))).toBe(4);
    expect(transformGap(1, ins(2, 'x'))).toBe(1);
    expect(transformItem(2, ins(2, 'x'))).toBe(3);
    expect(transformItem(1, ins(2, 'x'))).toBe(1);
  });

  it('rebase - a remove before an insert shifts it left; a removed target becomes undefined', () => {
    const rm: OpEffect = { kind: 'remove', indices: [0, 3], entryIds: ['a', 'd'] };
    expect(transformGap(4, rm)).toBe(2);
    expect(transformGap(3, rm)).toBe(2);
    expect(transformItem(3, rm)).toBeUndefined();
    expect(transformItem(2, rm)).toBe(1);
  });

  it('rebase - items follow a move; gaps stick to the entry after them', () => {
    // [a b c d e]: move b,c before e -> [a d b c e]  (from [1,2], to gap 2 of [a d e])
    const mv: OpEffect = { kind: 'move', from: [1, 2], to: 2 };
    expect(transformItem(1, mv)).toBe(2); // b
    expect(transformItem(3, mv)).toBe(1); // d
    expect(transformItem(4, mv)).toBe(4); // e
    expect(transformGap(4, mv)).toBe(4); // before e
    expect(transformGap(3, mv)).toBe(1); // before d
  });

  it('rebase - edits by entry or track id pass through; positions report what was skipped', () => {
    expect(rebaseEdit({ kind: 'remove', entryIds: ['e1'] }, [ins(0, 'x')]).edit).toEqual({
      kind: 'remove',
      entryIds: ['e1'],
    });
    const r = rebaseEdit({ kind: 'removeAt', positions: [0, 1], trackIds: ['a', 'b'] }, [
      { kind: 'remove', indices: [0], entryIds: ['a'] },
    ]);
    expect(r.edit).toEqual({ kind: 'removeAt', positions: [{ index: 0, trackId: 'b' }] });
    expect(r.skipped).toEqual([{ target: 'position:0', reason: 'already_removed' }]);
    const m = rebaseEdit({ kind: 'move', rangeStart: 1, rangeLength: 2, insertBefore: 0 }, [ins(0, 'x')]);
    // The gap at 0 moves past the concurrent insert at 0 (the op committed first stays first).
    expect(m.edit).toEqual({ kind: 'moveItems', items: [2, 3], before: 1 });
  });

  it('rebase - replay applies inserts, removes and moves; inconsistent logs are detected', () => {
    const list = replayEffects([
      ins(0, 'a', 'b', 'c', 'd'),
      { kind: 'move', from: [0], to: 3 },
      { kind: 'remove', indices: [1], entryIds: ['c'] },
    ]);
    expect(list.map((e) => e.entryId)).toEqual(['b', 'd', 'a']);
    expect(() => replayEffects([ins(0, 'a'), { kind: 'remove', indices: [0], entryIds: ['zz'] }])).toThrow(
      /mismatched/,
    );
  });

  it('rebase - property: a transformed item still names the same entry after the effect', () => {
    const make = (x: ListItem) => x;
    const effect = (n: number) =>
      fc.oneof(
        fc.record({
          kind: fc.constant('insert' as const),
          index: fc.integer({ min: 0, max: n }),
          k: fc.integer({ min: 1, max: 3 }),
        }),
        fc.record({
          kind: fc.constant('remove' as const),
          idx: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
        }),
        fc.record({
          kind: fc.constant('move' as const),
          idx: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
          to: fc.nat(),
        }),
      );
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              effect(n),
              fc.integer({ min: 0, max: n - 1 }),
              fc.integer({ min: 0, max: n }),
            ),
          ),
        ([n, spec, item, gap]) => {
          const list = Array.from({ length: n }, (_, i) => ({ entryId: `e${i}`, trackId: `t${i}` }));
          let e: OpEffect;
          if (spec.kind === 'insert')
            e = ins(spec.index, ...Array.from({ length: spec.k }, (_, i) => `new${i}`));
          else if (spec.kind === 'remove') {
            const indices = [...spec.idx].sort((a, b) => a - b);
            e = { kind: 'remove', indices, entryIds: indices.map((i) => `e${i}`) };
          } else {
            const from = [...spec.idx].sort((a, b) => a - b);
            e = { kind: 'move', from, to: spec.to % (n - from.length + 1) };
          }
          const after = applyEffect(list, e, make);
          const moved = transformItem(item, e);
          if (moved === undefined) expect(after.some((x) => x.entryId === `e${item}`)).toBe(false);
          else expect(after[moved]!.entryId).toBe(`e${item}`);
          // A gap before entry `gap` stays before the same entry (or at the end).
          const g = transformGap(gap, e);
          expect(g).toBeGreaterThanOrEqual(0);
          expect(g).toBeLessThanOrEqual(after.length);
          if (gap < n && e.kind !== 'remove' && !(e.kind === 'move' && e.from.includes(gap)))
            expect(after[g]!.entryId).toBe(`e${gap}`);
        },
      ),
      { numRuns: 500 },
    );
  });
});
