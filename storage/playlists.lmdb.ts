/**
 * Embedded playlist rows on LMDB, laid out like the CQL tables:
 *   playlists [id] -> header; playlist_entries [id, pos, entryId] -> entry;
 *   playlist_ops [id, version] -> stored op; user_playlists [ownerId, id].
 * `commitOp` claims the version, applies the rows and advances the header in ONE write
 * transaction, so nothing is ever pending and no roll-forward is needed.
 */
import { LRUCache } from 'lru-cache';
import {
  createPlaylistStore,
  type CommitOptions,
  type PlaylistRows,
  type StoredOp,
} from './playlist-commit.ts';
import type { EntryRow } from './playlist-resolve.ts';
import type { Playlist, PlaylistStore } from './playlists.ts';
import { type EmbeddedEnv, openTable, prefixEnd } from './lmdb-env.ts';

type EntryValue = Omit<EntryRow, 'pos' | 'entryId'>;

/** Headers remembered by `headerNow` (one per playlist played lately). */
const HEADERS_SEEN_MAX = 1000;

export function createLmdbPlaylistRows(env: EmbeddedEnv): PlaylistRows {
  const headers = openTable<Playlist>(env, 'playlists');
  const entries = openTable<EntryValue>(env, 'playlist_entries');
  const ops = openTable<StoredOp>(env, 'playlist_ops');
  const owned = openTable<true>(env, 'user_playlists');
  /**
   * The last header `headerNow` decoded per playlist, with its stored bytes: a row whose bytes
   * are the same is the same header, not decoded again (the decode was most of a play's
   * version check). Versions only grow, so bytes once replaced never come back.
   */
  const seen = new LRUCache<string, { bytes: Uint8Array; header: Playlist }>({ max: HEADERS_SEEN_MAX });

  const toRow = (key: unknown, v: EntryValue): EntryRow => {
    const k = key as [string, string, string];
    return { pos: k[1], entryId: k[2], ...v };
  };

  return {
    async readHeader(id) {
      return headers.get([id]);
    },
    headerNow(id) {
      // The stored bytes (a copy of ~100 bytes), compared before any decode.
      const bytes = headers.getBinary([id]);
      if (!bytes) return undefined;
      const hit = seen.get(id);
      if (hit && Buffer.compare(hit.bytes, bytes) === 0) return hit.header;
      const header = headers.get([id]);
      if (header) seen.set(id, { bytes, header: Object.freeze(header) });
      return header;
    },
    async readState(id, afterVersion) {
      const header = headers.get([id]);
      if (!header) return undefined;
      const since =
        afterVersion === undefined
          ? []
          : [
              ...ops
                .getRange({ start: [id, afterVersion + 1], end: [id, header.version + 1] })
                .map((e) => e.value),
            ];
      return { header, ops: since };
    },
    async readEntries(id, need) {
      const range = need.last
        ? entries.getRange({ start: prefixEnd([id]), end: [id], reverse: true, limit: 1 })
        : entries.getRange({
            start: [id],
            end: prefixEnd([id]),
            ...(need.limit !== undefined ? { limit: need.limit } : {}),
          });
      return [...range.map(({ key, value }) => toRow(key, value))];
    },
    async createHeader(header) {
      return env.transaction(() => {
        if (headers.get([header.id])) return false;
        headers.putSync([header.id], header);
        owned.putSync([header.ownerId, header.id], true);
        return true;
      });
    },
    async commitOp(id, expectVersion, op) {
      return env.transaction(() => {
        const h = headers.get([id]);
        if (!h || h.version !== expectVersion) return false;
        ops.putSync([id, op.version], op);
        for (const d of op.redo.deletes) entries.removeSync([id, d.pos, d.entryId]);
        for (const { pos, entryId, ...rest } of op.redo.puts) entries.putSync([id, pos, entryId], rest);
        headers.putSync([id], op.redo.header);
        return true;
      });
    },
    async deletePlaylist(header) {
      await env.transaction(() => {
        const { id } = header;
        // Collect first: removing under a live cursor is not safe.
        for (const key of [...entries.getKeys({ start: [id], end: prefixEnd([id]) })])
          entries.removeSync(key);
        for (const key of [...ops.getKeys({ start: [id], end: prefixEnd([id]) })]) ops.removeSync(key);
        owned.removeSync([header.ownerId, id]);
        headers.removeSync([id]);
      });
    },
    async listOwned(ownerId) {
      return [...owned.getKeys({ start: [ownerId], end: prefixEnd([ownerId]) })].map(
        (k) => (k as unknown[])[1] as string,
      );
    },
  };
}

export const createLmdbPlaylists = (env: EmbeddedEnv, options?: CommitOptions): PlaylistStore =>
  createPlaylistStore(createLmdbPlaylistRows(env), options);
