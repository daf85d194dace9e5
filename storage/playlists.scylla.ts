/**
 * CQL playlist rows. A commit is a redo-logged sequence:
 *   1. claim the version: INSERT INTO playlist_ops ... IF NOT EXISTS (the serialization point);
 *   2. apply the op's rows to playlist_entries (single-partition batches, idempotent, written
 *      with a timestamp derived from the op's version so a late replay loses to newer ops);
 *   3. advance the header: UPDATE playlists ... IF version = ? (LWT).
 * A writer that dies after 1 leaves a claimed-but-unapplied op; the next `readState` rolls it
 * forward (2 and 3 again), so an acknowledged edit is never lost and never applied twice.
 * Readers (`readHeader`) see the header as last advanced and do not roll forward.
 */
import type { Client, types } from 'cassandra-driver';
import {
  createPlaylistStore,
  type CommitOptions,
  type PlaylistRows,
  type StoredOp,
} from './playlist-commit.ts';
import type { EntryRow } from './playlist-resolve.ts';
import type { Playlist, PlaylistStore } from './playlists.ts';
import { cqlCall, exec, execAllPages, IDEMPOTENT_WRITE, NON_IDEMPOTENT, READ } from './cql-client.ts';

/** Statements per batch: keeps batches far below the engines' batch size thresholds. */
const BATCH_ROWS = 50;

const rowToHeader = (r: types.Row): Playlist => ({
  id: r.playlist_id,
  ownerId: r.owner_id,
  name: r.name,
  ...(r.description != null ? { description: r.description } : {}),
  public: r.public === true,
  collaborative: r.collaborative === true,
  collaborators: r.collaborators ? [...(r.collaborators as string[])].sort() : [],
  version: Number(r.version),
  length: r.length ?? 0,
  createdAt: Number(r.created_at),
});

const rowToEntry = (r: types.Row): EntryRow => ({
  pos: r.pos,
  entryId: r.entry_id,
  trackId: r.track_id,
  addedBy: r.added_by,
  addedAt: Number(r.added_at),
});

/** Write time of an op's rows: after the playlist's creation, ordered by version. */
const opTimestampMicros = (header: Playlist, version: number): number => header.createdAt * 1000 + version;

export function createScyllaPlaylistRows(client: Client, ks: string): PlaylistRows {
  const cols = 'pos, entry_id, track_id, added_by, added_at';
  const q = {
    header: `SELECT * FROM ${ks}.playlists WHERE playlist_id = ?`,
    ops: `SELECT version, record FROM ${ks}.playlist_ops WHERE playlist_id = ? AND version > ?`,
    claim: `INSERT INTO ${ks}.playlist_ops (playlist_id, version, author, committed_at, record) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
    advance: `UPDATE ${ks}.playlists SET version = ?, length = ?, name = ?, description = ?, public = ?, collaborative = ?, collaborators = ? WHERE playlist_id = ? IF version = ?`,
    create: `INSERT INTO ${ks}.playlists (playlist_id, owner_id, name, description, public, collaborative, collaborators, version, length, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    own: `INSERT INTO ${ks}.user_playlists (owner_id, playlist_id) VALUES (?, ?)`,
    unown: `DELETE FROM ${ks}.user_playlists WHERE owner_id = ? AND playlist_id = ?`,
    owned: `SELECT playlist_id FROM ${ks}.user_playlists WHERE owner_id = ?`,
    entries: `SELECT ${cols} FROM ${ks}.playlist_entries WHERE playlist_id = ?`,
    entriesLimit: `SELECT ${cols} FROM ${ks}.playlist_entries WHERE playlist_id = ? LIMIT ?`,
    lastEntry: `SELECT ${cols} FROM ${ks}.playlist_entries WHERE playlist_id = ? ORDER BY pos DESC, entry_id DESC LIMIT 1`,
    putEntry: `INSERT INTO ${ks}.playlist_entries (playlist_id, pos, entry_id, track_id, added_by, added_at) VALUES (?, ?, ?, ?, ?, ?)`,
    delEntry: `DELETE FROM ${ks}.playlist_entries WHERE playlist_id = ? AND pos = ? AND entry_id = ?`,
    delHeader: `DELETE FROM ${ks}.playlists WHERE playlist_id = ? IF EXISTS`,
    delEntries: `DELETE FROM ${ks}.playlist_entries WHERE playlist_id = ?`,
    delOps: `DELETE FROM ${ks}.playlist_ops WHERE playlist_id = ?`,
  };

  async function applyRedo(id: string, op: StoredOp): Promise<void> {
    const stmts = [
      ...op.redo.deletes.map((d) => ({ query: q.delEntry, params: [id, d.pos, d.entryId] })),
      ...op.redo.puts.map((e) => ({
        query: q.putEntry,
        params: [id, e.pos, e.entryId, e.trackId, e.addedBy, e.addedAt],
      })),
    ];
    const timestamp = opTimestampMicros(op.redo.header, op.version);
    // One op never deletes and re-puts the same row, so mixing deletes and puts in a batch is safe.
    for (let i = 0; i < stmts.length; i += BATCH_ROWS) {
      const chunk = stmts.slice(i, i + BATCH_ROWS);
      await cqlCall('playlist entries batch', () =>
        client.batch(chunk, { prepare: true, logged: false, isIdempotent: true, timestamp }),
      );
    }
  }

  async function advance(id: string, expectVersion: number, h: Playlist): Promise<void> {
    await exec(
      client,
      q.advance,
      [
        h.version,
        h.length,
        h.name,
        h.description ?? null,
        h.public,
        h.collaborative,
        h.collaborators,
        id,
        expectVersion,
      ],
      NON_IDEMPOTENT,
    );
  }

  const decodeOp = (r: types.Row): StoredOp => JSON.parse(r.record) as StoredOp;

  return {
    async readHeader(id) {
      const row = (await exec(client, q.header, [id], READ)).first();
      return row ? rowToHeader(row) : undefined;
    },
    async readState(id, afterVersion) {
      const row = (await exec(client, q.header, [id], READ)).first();
      if (!row) return undefined;
      let header = rowToHeader(row);
      const from = Math.min(afterVersion ?? header.version, header.version);
      const ops = (await execAllPages(client, q.ops, [id, from], 500)).map(decodeOp);
      // Ops beyond the header were claimed but not (fully) applied: roll them forward.
      for (const op of ops) {
        if (op.version <= header.version) continue;
        if (op.version !== header.version + 1) break;
        await applyRedo(id, op);
        await advance(id, header.version, op.redo.header);
        header = op.redo.header;
      }
      const committed = ops.filter((o) => o.version <= header.version);
      return { header, ops: afterVersion === undefined ? [] : committed };
    },
    async readEntries(id, need) {
      if (need.last) return (await exec(client, q.lastEntry, [id], READ)).rows.map(rowToEntry);
      const rows =
        need.limit !== undefined
          ? await execAllPages(client, q.entriesLimit, [id, need.limit], 1000, need.limit)
          : await execAllPages(client, q.entries, [id], 1000);
      return rows.map(rowToEntry);
    },
    async createHeader(h) {
      const rs = await exec(
        client,
        q.create,
        [
          h.id,
          h.ownerId,
          h.name,
          h.description ?? null,
          h.public,
          h.collaborative,
          h.collaborators,
          h.version,
          h.length,
          h.createdAt,
        ],
        NON_IDEMPOTENT,
      );
      if (!rs.wasApplied()) return false;
      await exec(client, q.own, [h.ownerId, h.id], IDEMPOTENT_WRITE);
      return true;
    },
    async commitOp(id, expectVersion, op) {
      const record = JSON.stringify(op);
      const claimed = await exec(
        client,
        q.claim,
        [id, op.version, op.author, op.committedAt, record],
        NON_IDEMPOTENT,
      );
      if (!claimed.wasApplied()) return false;
      await applyRedo(id, op);
      await advance(id, expectVersion, op.redo.header);
      return true;
    },
    async deletePlaylist(h) {
      await exec(client, q.delHeader, [h.id], NON_IDEMPOTENT);
      await Promise.all([
        exec(client, q.delEntries, [h.id], IDEMPOTENT_WRITE),
        exec(client, q.delOps, [h.id], IDEMPOTENT_WRITE),
        exec(client, q.unown, [h.ownerId, h.id], IDEMPOTENT_WRITE),
      ]);
    },
    async listOwned(ownerId) {
      return (await execAllPages(client, q.owned, [ownerId])).map((r) => r.playlist_id as string);
    },
  };
}

export const createScyllaPlaylists = (client: Client, ks: string, options?: CommitOptions): PlaylistStore =>
  createPlaylistStore(createScyllaPlaylistRows(client, ks), options);
