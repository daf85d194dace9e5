import fc from 'fast-check';
import { generateNKeysBetween } from 'fractional-indexing';
import { describe, expect, it } from 'vitest';
import { applyEffect, type ListItem } from './playlist-rebase.ts';
import { type EntryRow, resolveEdit } from './playlist-resolve.ts';
import type { Playlist } from './playlists.ts';

const header = (length: number): Playlist => ({
  id: 'p',
  ownerId: 'o',
  name: 'n',
  public: true,
  collaborative: false,
  collaborators: [],
  version: 3,
  length,
  createdAt: 1,
});

/** Rows as the store keeps them: keys made one at a time, as appends and inserts make them. */
function rows(n: number): EntryRow[] {
  const keys = generateNKeysBetween(null, null, n);
  return keys.map((pos, i) => ({ pos, entryId: `e${i}`, trackId: `t${i}`, addedBy: 'o', addedAt: 1 }));
}

/** Applies a redo as a CQL node does: deletes and puts of one batch share a timestamp, so a
 * row both deleted and put ends up deleted. */
function applyRedoAsCql(before: EntryRow[], puts: EntryRow[], deletes: { pos: string; entryId: string }[]) {
  const key = (r: { pos: string; entryId: string }) => `${r.pos}\u0000${r.entryId}`;
  const table = new Map(before.map((r) => [key(r), r]));
  for (const r of puts) table.set(key(r), r);
  for (const d of deletes) table.delete(key(d));
  return [...table.values()].sort((a, b) =>
    a.pos < b.pos ? -1 : a.pos > b.pos ? 1 : a.entryId < b.entryId ? -1 : 1,
  );
}

describe('playlist resolve', () => {
  it('resolve - a scattered move that gives items back their own keys keeps every entry', () => {
    // The case seen on the CQL node: items 2, 4, 5 moved to gap 3 get the keys of 4 and 5 back.
    const list = rows(8);
    const r = resolveEdit(
      { kind: 'moveItems', items: [2, 4, 5], before: 4 },
      { header: header(8), window: { offset: 0, rows: list }, author: 'o', now: 2, newEntryId: () => 'x' },
    );
    if (r.noop) throw new Error('expected a move');
    const after = applyRedoAsCql(list, r.redo.puts, r.redo.deletes);
    expect(after).toHaveLength(8);
    const putKeys = new Set(r.redo.puts.map((p) => `${p.pos}/${p.entryId}`));
    for (const d of r.redo.deletes) expect(putKeys.has(`${d.pos}/${d.entryId}`)).toBe(false);
  });

  it('resolve - any move, applied to the rows as a CQL node applies it, gives the order its effect gives', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            items: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }),
            before: fc.integer({ min: 0, max: n }),
          }),
        ),
        ({ n, items, before }) => {
          const list = rows(n);
          const r = resolveEdit(
            { kind: 'moveItems', items, before },
            {
              header: header(n),
              window: { offset: 0, rows: list },
              author: 'o',
              now: 2,
              newEntryId: () => 'x',
            },
          );
          if (r.noop) return;
          const after = applyRedoAsCql(list, r.redo.puts, r.redo.deletes).map((e) => e.entryId);
          const expected = applyEffect(
            list.map((e): ListItem => ({ entryId: e.entryId, trackId: e.trackId })),
            r.effect,
            (e) => e,
          ).map((e) => e.entryId);
          expect(after).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });
});
