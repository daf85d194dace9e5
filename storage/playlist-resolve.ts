/**
 * Pure resolution of a rebased edit against the current entries: which rows to write and
 * delete (fractional-indexing position keys, so an insert writes only its own rows), the
 * index effect to log, and what was skipped. No I/O.
 */
import { generateNKeysBetween } from 'fractional-indexing';
import { StorageError } from './errors.ts';
import type { RebasedEdit } from './playlist-rebase.ts';
import {
  MAX_PLAYLIST_ENTRIES,
  type OpEffect,
  type Playlist,
  type PlaylistEntry,
  type SkipReason,
} from './playlists.ts';

/** One stored entry row: the position key orders the list. */
export interface EntryRow extends PlaylistEntry {
  pos: string;
}

/** Redo record of a committed op: enough to re-apply it after a crash, idempotently. */
export interface Redo {
  puts: EntryRow[];
  deletes: { pos: string; entryId: string }[];
  /** The full header after the op (its version is the op's version). */
  header: Playlist;
}

/** Entries known to the resolver: `rows` are the list's entries from index `offset` on. */
export interface EntryWindow {
  offset: number;
  rows: EntryRow[];
}

export interface ResolveContext {
  header: Playlist;
  window: EntryWindow;
  author: string;
  now: number;
  newEntryId: () => string;
}

export type Resolution =
  | { noop: true; skipped: { target: string; reason: SkipReason }[] }
  | {
      noop: false;
      effect: OpEffect;
      redo: Redo;
      inserted: PlaylistEntry[];
      affectedEntryIds: string[];
      skipped: { target: string; reason: SkipReason }[];
    };

const bad = (msg: string): never => {
  throw new StorageError('bad_request', msg);
};

const entryOf = ({ entryId, trackId, addedBy, addedAt }: EntryRow): PlaylistEntry => ({
  entryId,
  trackId,
  addedBy,
  addedAt,
});

function at(w: EntryWindow, i: number): EntryRow | undefined {
  return w.rows[i - w.offset];
}

/**
 * The entries were read after the header and no longer match it: another edit committed in
 * between. Harmless (that edit claimed the next version, so our claim would fail): retry.
 */
export class StaleEntriesError extends Error {
  override readonly name = 'StaleEntriesError';
}

/** The whole list; the commit protocol reads it in full for every kind but insert. */
function whole(ctx: ResolveContext): EntryRow[] {
  if (ctx.window.offset !== 0 || ctx.window.rows.length !== ctx.header.length)
    throw new StaleEntriesError(
      `read ${ctx.window.rows.length} entries for a header of ${ctx.header.length}`,
    );
  return ctx.window.rows;
}

export function resolveEdit(edit: RebasedEdit, ctx: ResolveContext): Resolution {
  const h = ctx.header;
  const next = (changes: Partial<Playlist>): Playlist => ({ ...h, ...changes, version: h.version + 1 });
  switch (edit.kind) {
    case 'insert': {
      const index = edit.index ?? h.length;
      if (index < 0 || index > h.length) bad(`position ${index} is out of range 0..${h.length}`);
      if (h.length + edit.trackIds.length > MAX_PLAYLIST_ENTRIES)
        bad(
          `playlist would exceed ${MAX_PLAYLIST_ENTRIES} entries (has ${h.length}, adding ${edit.trackIds.length})`,
        );
      const keys = generateNKeysBetween(
        at(ctx.window, index - 1)?.pos ?? null,
        at(ctx.window, index)?.pos ?? null,
        edit.trackIds.length,
      );
      const puts = edit.trackIds.map((trackId, k) => ({
        pos: keys[k]!,
        entryId: ctx.newEntryId(),
        trackId,
        addedBy: ctx.author,
        addedAt: ctx.now,
      }));
      return {
        noop: false,
        effect: {
          kind: 'insert',
          index,
          entries: puts.map(({ entryId, trackId }) => ({ entryId, trackId })),
        },
        redo: { puts, deletes: [], header: next({ length: h.length + puts.length }) },
        inserted: puts.map(entryOf),
        affectedEntryIds: puts.map((p) => p.entryId),
        skipped: [],
      };
    }
    case 'remove':
    case 'removeAt':
    case 'removeTracks': {
      const list = whole(ctx);
      const skipped: { target: string; reason: SkipReason }[] = [];
      const chosen = new Set<number>();
      if (edit.kind === 'remove') {
        const byId = new Map(list.map((e, i) => [e.entryId, i]));
        for (const id of edit.entryIds) {
          const i = byId.get(id);
          if (i === undefined) skipped.push({ target: `entry:${id}`, reason: 'already_removed' });
          else chosen.add(i);
        }
      } else if (edit.kind === 'removeAt') {
        for (const p of edit.positions) {
          const e = list[p.index];
          if (!e) skipped.push({ target: `position:${p.index}`, reason: 'out_of_range' });
          else if (p.trackId !== undefined && e.trackId !== p.trackId)
            skipped.push({ target: `position:${p.index}`, reason: 'track_mismatch' });
          else chosen.add(p.index);
        }
      } else {
        const wanted = new Set(edit.trackIds);
        list.forEach((e, i) => wanted.has(e.trackId) && chosen.add(i));
        for (const t of wanted)
          if (!list.some((e) => e.trackId === t))
            skipped.push({ target: `track:${t}`, reason: 'already_removed' });
      }
      if (chosen.size === 0) return { noop: true, skipped };
      const indices = [...chosen].sort((a, b) => a - b);
      const gone = indices.map((i) => list[i]!);
      return {
        noop: false,
        effect: { kind: 'remove', indices, entryIds: gone.map((e) => e.entryId) },
        redo: {
          puts: [],
          deletes: gone.map(({ pos, entryId }) => ({ pos, entryId })),
          header: next({ length: h.length - gone.length }),
        },
        inserted: [],
        affectedEntryIds: gone.map((e) => e.entryId),
        skipped,
      };
    }
    case 'moveItems': {
      const list = whole(ctx);
      const skipped: { target: string; reason: SkipReason }[] = [];
      if (edit.before < 0 || edit.before > list.length)
        bad(`insert_before ${edit.before} is out of range 0..${list.length}`);
      const valid = new Set<number>();
      for (const i of edit.items) {
        if (i < 0 || i >= list.length) skipped.push({ target: `position:${i}`, reason: 'out_of_range' });
        else valid.add(i);
      }
      const from = [...valid].sort((a, b) => a - b);
      if (from.length === 0) return { noop: true, skipped };
      const to = edit.before - from.filter((i) => i < edit.before).length;
      const contiguous = from[from.length - 1]! - from[0]! === from.length - 1;
      if (contiguous && to === from[0]) return { noop: true, skipped };
      const moving = new Set(from);
      const rest = list.filter((_, i) => !moving.has(i));
      const keys = generateNKeysBetween(rest[to - 1]?.pos ?? null, rest[to]?.pos ?? null, from.length);
      const moved = from.map((i) => list[i]!);
      // A scattered move can give an item back its own key (the new keys fill the gap it
      // left). That row stays: deleting and re-putting it in one write would let the
      // delete win on a CQL node (same timestamp) and lose the entry.
      const changed = moved.flatMap((e, k) => (e.pos === keys[k] ? [] : [{ e, pos: keys[k]! }]));
      return {
        noop: false,
        effect: { kind: 'move', from, to },
        redo: {
          puts: changed.map(({ e, pos }) => ({ ...e, pos })),
          deletes: changed.map(({ e }) => ({ pos: e.pos, entryId: e.entryId })),
          header: next({}),
        },
        inserted: [],
        affectedEntryIds: moved.map((e) => e.entryId),
        skipped,
      };
    }
    case 'details': {
      const changes: Partial<Playlist> = {};
      if (edit.name !== undefined && edit.name !== h.name) changes.name = edit.name;
      if (edit.description !== undefined && edit.description !== (h.description ?? ''))
        changes.description = edit.description;
      if (edit.public !== undefined && edit.public !== h.public) changes.public = edit.public;
      if (edit.collaborative !== undefined && edit.collaborative !== h.collaborative)
        changes.collaborative = edit.collaborative;
      if (Object.keys(changes).length === 0) return { noop: true, skipped: [] };
      return {
        noop: false,
        effect: { kind: 'meta' },
        redo: { puts: [], deletes: [], header: next(changes) },
        inserted: [],
        affectedEntryIds: [],
        skipped: [],
      };
    }
    case 'collaborators': {
      const collaborators = [...new Set(edit.collaborators)].filter((c) => c !== h.ownerId).sort();
      if (collaborators.join('\n') === [...h.collaborators].sort().join('\n'))
        return { noop: true, skipped: [] };
      return {
        noop: false,
        effect: { kind: 'meta' },
        redo: { puts: [], deletes: [], header: next({ collaborators }) },
        inserted: [],
        affectedEntryIds: [],
        skipped: [],
      };
    }
  }
}

/** Which entries the resolver needs for an edit, so an insert reads only its neighbours. */
export type EntryNeed =
  { kind: 'none' } | { kind: 'all' } | { kind: 'prefix'; count: number } | { kind: 'last' };

export function entriesNeeded(edit: RebasedEdit, length: number): EntryNeed {
  switch (edit.kind) {
    case 'insert':
      if (length === 0) return { kind: 'none' };
      if (edit.index === undefined || edit.index >= length) return { kind: 'last' };
      return { kind: 'prefix', count: edit.index + 1 };
    case 'details':
    case 'collaborators':
      return { kind: 'none' };
    default:
      return { kind: 'all' };
  }
}
