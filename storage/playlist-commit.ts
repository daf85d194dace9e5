/**
 * The playlist commit protocol, shared by both adapters: read the header and the op log since
 * the edit's base version, rebase the edit (playlist-rebase.ts), resolve it against the current
 * entries (playlist-resolve.ts), and commit with a compare-and-set on the version, retrying on
 * contention. Adapters supply only `PlaylistRows`, the row-level operations on their engine.
 */
import { randomBytes } from 'node:crypto';
import { StorageError } from './errors.ts';
import { authorizeEdit, authorizeRead, validateEdit, validateNewPlaylist } from './playlist-access.ts';
import { rebaseEdit } from './playlist-rebase.ts';
import {
  type EntryRow,
  type EntryWindow,
  entriesNeeded,
  type Redo,
  type Resolution,
  resolveEdit,
  StaleEntriesError,
} from './playlist-resolve.ts';
import {
  MAX_PLAYLIST_ENTRIES,
  type EditResult,
  type OpLogRecord,
  type Playlist,
  type PlaylistEdit,
  type PlaylistStore,
} from './playlists.ts';

/** A log record plus its redo (rows and header), as adapters store it. */
export interface StoredOp extends OpLogRecord {
  redo: Redo;
}

/**
 * Row-level operations of one engine. Contract:
 * - `readState` returns the header with every claimed op applied (adapters whose commit is not
 *   atomic roll pending ops forward here), plus the ops with version > `afterVersion`, ascending.
 * - `commitOp` atomically claims version `expectVersion + 1` for `op` and returns false, writing
 *   nothing, if the playlist is no longer at `expectVersion`. Once it returns true the op is
 *   durable; its rows may be applied later by a roll-forward but never lost.
 */
export interface PlaylistRows {
  /** The header as last advanced (readers; no roll-forward), undefined when unknown. */
  readHeader(id: string): Promise<Playlist | undefined>;
  /** The same, synchronously, where the engine reads synchronously (PlaylistStore.headerNow). */
  headerNow?(id: string): Playlist | undefined;
  readState(id: string, afterVersion?: number): Promise<{ header: Playlist; ops: StoredOp[] } | undefined>;
  /** Entries in list order: all, the first `limit`, or only the last one. */
  readEntries(id: string, need: { limit?: number; last?: boolean }): Promise<EntryRow[]>;
  createHeader(header: Playlist): Promise<boolean>;
  commitOp(id: string, expectVersion: number, op: StoredOp): Promise<boolean>;
  deletePlaylist(header: Playlist): Promise<void>;
  listOwned(ownerId: string): Promise<string[]>;
}

/**
 * Commit attempts of one edit before it answers `conflict`. Each attempt is a fresh read and
 * an LWT that another editor can win: with 10 editors hammering one playlist an editor can
 * lose ~9 in 10 races, and 64 straight losses (0.9^64 ~ 1e-3 per edit) happened once in a
 * 1 000-edit run on the CQL node. 256 (~2e-12) makes a lost race a non-event; the jittered
 * backoff keeps even that pathological case to a few seconds.
 */
export const DEFAULT_MAX_COMMIT_ATTEMPTS = 256;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 100;

/** A page request made whole and checked (the store and the cached view page alike). */
export function pageBounds(page: { offset?: number; limit?: number }): { offset: number; limit: number } {
  const offset = page.offset ?? 0;
  const limit = page.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new StorageError('bad_request', 'offset must be a non-negative integer');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT)
    throw new StorageError('bad_request', `limit must be an integer in 1..${MAX_PAGE_LIMIT}`);
  return { offset, limit };
}

export interface CommitOptions {
  maxAttempts?: number;
  now?: () => number;
}

/** Random ids: 22 base64url chars (128 bits) for playlists, 12 (72 bits) for entries. */
export const newPlaylistId = (): string => randomBytes(16).toString('base64url');
export const newEntryId = (): string => randomBytes(9).toString('base64url');

/** Small jittered backoff so contending editors do not retry in lockstep. */
const backoff = (attempt: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.random() * Math.min(2 ** attempt, 25)));

export function createPlaylistStore(rows: PlaylistRows, options: CommitOptions = {}): PlaylistStore {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_COMMIT_ATTEMPTS;
  const now = options.now ?? Date.now;
  /*
   * Edits to one playlist from this process run one at a time. Racing them through the
   * conditional commit would make the CQL node run a Paxos round per loser and let one
   * unlucky editor lose hundreds of races in a row; queued here, the commit only
   * contends with other processes (nodes), which it still decides.
   */
  const lanes = new Map<string, Promise<unknown>>();
  function inLane<T>(id: string, run: () => Promise<T>): Promise<T> {
    const result = (lanes.get(id) ?? Promise.resolve()).then(run, run);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    lanes.set(id, tail);
    void tail.then(() => {
      if (lanes.get(id) === tail) lanes.delete(id);
    });
    return result;
  }

  async function stateOrThrow(id: string, afterVersion?: number) {
    const state = await rows.readState(id, afterVersion);
    if (!state) throw new StorageError('not_found', `playlist ${id} not found`);
    return state;
  }

  async function readable(id: string, who: string): Promise<Playlist> {
    const header = await rows.readHeader(id);
    if (!header) throw new StorageError('not_found', `playlist ${id} not found`);
    authorizeRead(header, who);
    return header;
  }

  async function window(
    id: string,
    need: ReturnType<typeof entriesNeeded>,
    length: number,
  ): Promise<EntryWindow> {
    switch (need.kind) {
      case 'none':
        return { offset: 0, rows: [] };
      case 'last':
        return { offset: Math.max(0, length - 1), rows: await rows.readEntries(id, { last: true }) };
      case 'prefix':
        return { offset: 0, rows: await rows.readEntries(id, { limit: need.count }) };
      case 'all':
        return { offset: 0, rows: await rows.readEntries(id, {}) };
    }
  }

  async function commitEdit(
    id: string,
    who: string,
    edit: PlaylistEdit,
    baseVersion: number | undefined,
  ): Promise<EditResult> {
    validateEdit(edit);
    if (baseVersion !== undefined && (!Number.isSafeInteger(baseVersion) || baseVersion < 0))
      throw new StorageError('bad_request', 'base version (snapshot_id) must be a non-negative integer');
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      const { header, ops } = await stateOrThrow(id, baseVersion);
      authorizeEdit(header, who, edit);
      if (baseVersion !== undefined && baseVersion > header.version)
        throw new StorageError(
          'bad_request',
          `version ${baseVersion} is ahead of playlist ${id} (at ${header.version})`,
        );
      const since = baseVersion === undefined ? [] : ops.filter((o) => o.version <= header.version);
      const rebased = rebaseEdit(
        edit,
        since.map((o) => o.effect),
      );
      const win = await window(id, entriesNeeded(rebased.edit, header.length), header.length);
      let resolved: Resolution;
      try {
        resolved = resolveEdit(rebased.edit, { header, window: win, author: who, now: now(), newEntryId });
      } catch (e) {
        if (!(e instanceof StaleEntriesError)) throw e;
        await backoff(attempt);
        continue;
      }
      const base = { rebasedOver: since.length, attempts: attempt };
      if (resolved.noop) {
        return {
          status: 'noop',
          version: header.version,
          inserted: [],
          affectedEntryIds: [],
          skipped: [...rebased.skipped, ...resolved.skipped],
          ...base,
        };
      }
      const version = header.version + 1;
      const op: StoredOp = {
        version,
        author: who,
        committedAt: now(),
        edit,
        effect: resolved.effect,
        redo: resolved.redo,
      };
      if (await rows.commitOp(id, header.version, op)) {
        return {
          status: 'applied',
          version,
          committedVersion: version,
          inserted: resolved.inserted,
          affectedEntryIds: resolved.affectedEntryIds,
          skipped: [...rebased.skipped, ...resolved.skipped],
          ...base,
        };
      }
      await backoff(attempt);
    }
    throw new StorageError(
      'conflict',
      `playlist ${id}: too much contention, gave up after ${maxAttempts} attempts`,
    );
  }

  const store: PlaylistStore = {
    getPlaylist: readable,

    async listPlaylistTrackIds(id, who) {
      // Header and entries in parallel (one round trip); the entries are only returned if allowed.
      const [, entries] = await Promise.all([readable(id, who), rows.readEntries(id, {})]);
      return entries.map((e) => e.trackId);
    },

    async listEntries(id, who, page = {}) {
      const { offset, limit } = pageBounds(page);
      // Header and entries in parallel (one round trip); the entries are only returned if allowed.
      const [playlist, rowsRead] = await Promise.all([
        readable(id, who),
        offset >= MAX_PLAYLIST_ENTRIES
          ? Promise.resolve([])
          : rows.readEntries(id, { limit: offset + limit }),
      ]);
      const entries = rowsRead
        .slice(offset, offset + limit)
        .map(({ entryId, trackId, addedBy, addedAt }) => ({ entryId, trackId, addedBy, addedAt }));
      return { playlist, entries, offset, total: playlist.length };
    },

    async createPlaylist(input) {
      validateNewPlaylist(input);
      const header: Playlist = {
        id: input.id ?? newPlaylistId(),
        ownerId: input.ownerId,
        name: input.name,
        ...(input.description !== undefined ? { description: input.description } : {}),
        public: input.public ?? true,
        collaborative: input.collaborative ?? false,
        collaborators: [...new Set(input.collaborators ?? [])].filter((c) => c !== input.ownerId).sort(),
        version: 0,
        length: 0,
        createdAt: now(),
      };
      if (!(await rows.createHeader(header)))
        throw new StorageError('conflict', `playlist ${header.id} already exists`);
      return header;
    },

    async deletePlaylist(id, who) {
      const { header } = await stateOrThrow(id);
      if (header.ownerId !== who)
        throw new StorageError('forbidden', `only the owner may delete playlist ${id}`);
      await rows.deletePlaylist(header);
    },

    editPlaylist(id, who, edit: PlaylistEdit, baseVersion?: number): Promise<EditResult> {
      return inLane(id, () => commitEdit(id, who, edit, baseVersion));
    },

    listOwnedPlaylistIds: (ownerId) => rows.listOwned(ownerId),

    async readOpLog(id, who, afterVersion = 0) {
      const { header, ops } = await stateOrThrow(id, afterVersion);
      authorizeRead(header, who);
      return ops.map(({ version, author, committedAt, edit, effect }) => ({
        version,
        author,
        committedAt,
        edit,
        effect,
      }));
    },
  };
  if (rows.headerNow) store.headerNow = rows.headerNow.bind(rows);
  return store;
}
