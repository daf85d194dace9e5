/**
 * Pure rebase of playlist edits over committed operations (OT-style index transforms), and the
 * replay of committed effects. No I/O: the commit protocol (playlist-commit.ts) feeds it the
 * op log and the current entries.
 *
 * Conventions: an *item* index names an entry (0..length-1); a *gap* index names an insertion
 * point (0..length), "before the entry at that index". A gap sticks to the entry after it, so
 * when something is inserted at exactly that gap the gap moves past the insertion (the op
 * committed first stays first).
 */
import type { OpEffect, PlaylistEdit, SkipReason } from './playlists.ts';

/** Number of sorted `xs` strictly below `v`. */
function countBelow(xs: readonly number[], v: number): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where an insertion point ends up after `effect`. */
export function transformGap(gap: number, effect: OpEffect): number {
  switch (effect.kind) {
    case 'insert':
      return gap >= effect.index ? gap + effect.entries.length : gap;
    case 'remove':
      return gap - countBelow(effect.indices, gap);
    case 'move': {
      const g = gap - countBelow(effect.from, gap);
      return g >= effect.to ? g + effect.from.length : g;
    }
    case 'meta':
      return gap;
  }
}

/** Where an entry ends up after `effect`; undefined when the effect removed it. */
export function transformItem(item: number, effect: OpEffect): number | undefined {
  switch (effect.kind) {
    case 'insert':
      return item >= effect.index ? item + effect.entries.length : item;
    case 'remove': {
      const below = countBelow(effect.indices, item);
      return effect.indices[below] === item ? undefined : item - below;
    }
    case 'move': {
      const below = countBelow(effect.from, item);
      if (effect.from[below] === item) return effect.to + below;
      const i = item - below;
      return i >= effect.to ? i + effect.from.length : i;
    }
    case 'meta':
      return item;
  }
}

/** An edit with its positions expressed at the current version. */
export type RebasedEdit =
  | { kind: 'insert'; index?: number; trackIds: string[] }
  | { kind: 'remove'; entryIds: string[] }
  | { kind: 'removeAt'; positions: { index: number; trackId?: string }[] }
  | { kind: 'removeTracks'; trackIds: string[] }
  /** Entries at `items` (current indices, any order) moved, in list order, to gap `before`. */
  | { kind: 'moveItems'; items: number[]; before: number }
  | Extract<PlaylistEdit, { kind: 'details' | 'collaborators' }>;

export interface Rebased {
  edit: RebasedEdit;
  skipped: { target: string; reason: SkipReason }[];
}

const gapThrough = (gap: number, effects: readonly OpEffect[]) => effects.reduce(transformGap, gap);

function itemThrough(item: number, effects: readonly OpEffect[]): number | undefined {
  let i: number | undefined = item;
  for (const e of effects) {
    if (i === undefined) return undefined;
    i = transformItem(i, e);
  }
  return i;
}

/** Rebases `edit`, made on some version, over the effects committed since, in order. */
export function rebaseEdit(edit: PlaylistEdit, effects: readonly OpEffect[]): Rebased {
  const skipped: Rebased['skipped'] = [];
  switch (edit.kind) {
    case 'insert':
      return {
        edit: edit.index === undefined ? edit : { ...edit, index: gapThrough(edit.index, effects) },
        skipped,
      };
    case 'removeAt': {
      const positions: { index: number; trackId?: string }[] = [];
      edit.positions.forEach((p, k) => {
        const index = itemThrough(p, effects);
        const trackId = edit.trackIds?.[k];
        if (index === undefined) skipped.push({ target: `position:${p}`, reason: 'already_removed' });
        else positions.push(trackId === undefined ? { index } : { index, trackId });
      });
      return { edit: { kind: 'removeAt', positions }, skipped };
    }
    case 'move': {
      const items: number[] = [];
      for (let p = edit.rangeStart; p < edit.rangeStart + edit.rangeLength; p++) {
        const index = itemThrough(p, effects);
        if (index === undefined) skipped.push({ target: `position:${p}`, reason: 'already_removed' });
        else items.push(index);
      }
      return { edit: { kind: 'moveItems', items, before: gapThrough(edit.insertBefore, effects) }, skipped };
    }
    default:
      // Entry ids and track ids are stable names: nothing to transform.
      return { edit, skipped };
  }
}

export interface ListItem {
  entryId: string;
  trackId: string;
}

/** Applies a committed effect to a list (replay of the op log). Throws if the log is inconsistent. */
export function applyEffect<T extends ListItem>(
  list: readonly T[],
  effect: OpEffect,
  make: (e: ListItem) => T,
): T[] {
  switch (effect.kind) {
    case 'insert': {
      if (effect.index > list.length)
        throw new Error(`replay: insert at ${effect.index} beyond ${list.length}`);
      const out = [...list];
      out.splice(effect.index, 0, ...effect.entries.map(make));
      return out;
    }
    case 'remove': {
      effect.indices.forEach((i, k) => {
        if (list[i]?.entryId !== effect.entryIds[k])
          throw new Error(`replay: remove of ${effect.entryIds[k]} at ${i} mismatched`);
      });
      const drop = new Set(effect.indices);
      return list.filter((_, i) => !drop.has(i));
    }
    case 'move': {
      const from = new Set(effect.from);
      const moved = effect.from.map((i) => list[i]!);
      const rest = list.filter((_, i) => !from.has(i));
      if (effect.to > rest.length) throw new Error(`replay: move to ${effect.to} beyond ${rest.length}`);
      rest.splice(effect.to, 0, ...moved);
      return rest;
    }
    case 'meta':
      return [...list];
  }
}

/** Replays effects from an empty list: the list the op log describes. */
export const replayEffects = (effects: readonly OpEffect[]): ListItem[] =>
  effects.reduce<ListItem[]>(
    (list, e) => applyEffect(list, e, (x) => ({ entryId: x.entryId, trackId: x.trackId })),
    [],
  );
