/**
 * Playlists port: ordered lists of track ids (never audio) with collaborative editing.
 * Adapters: storage/playlists.lmdb.ts and storage/playlists.scylla.ts, both
 * built on the one commit protocol of playlist-commit.ts, so their semantics are identical;
 * contract suite storage/playlists.contract.ts.
 *
 * Contract:
 * - Reading: the owner always reads; collaborators read a collaborative playlist; anyone reads
 *   a public one; anyone else gets `forbidden`. Unknown (or deleted) ids are `not_found`.
 * - Editing: the owner edits anything; collaborators of a collaborative playlist edit its
 *   entries (insert/remove/move) but not its details, collaborators or existence; anyone
 *   else gets `forbidden`.
 * - Every committed edit raises `version` by exactly one and appends one record to the
 *   playlist's operation log. An edit names the version it was made on (`baseVersion`,
 *   default: the current one); the store rebases it over the operations committed since
 *   (index positions transformed as in OT) and commits it with a compare-and-set on the
 *   version, retrying on contention. Targets that a concurrent edit removed are skipped and
 *   reported; an edit with nothing left to do commits nothing (`status: 'noop'`).
 * - Limits: `MAX_PLAYLIST_ENTRIES` entries, names 1..`MAX_PLAYLIST_NAME_LENGTH` characters,
 *   `MAX_TRACKS_PER_EDIT` tracks per insert -> `bad_request` with a message saying which.
 * - Failures: `unavailable` / `timeout` when the engine cannot answer; `conflict` only when
 *   contention outlasts the retry budget.
 */

export const MAX_PLAYLIST_ENTRIES = 10_000;
export const MAX_PLAYLIST_NAME_LENGTH = 100;
export const MAX_DESCRIPTION_LENGTH = 300;
export const MAX_TRACKS_PER_EDIT = 100;
export const MAX_COLLABORATORS = 100;
export const MAX_ID_LENGTH = 128;

export interface Playlist {
  id: string;
  ownerId: string;
  name: string;
  description?: string;
  public: boolean;
  collaborative: boolean;
  collaborators: string[];
  version: number;
  length: number;
  createdAt: number;
}

export interface PlaylistEntry {
  entryId: string;
  trackId: string;
  addedBy: string;
  addedAt: number;
}

export interface NewPlaylist {
  id?: string; // generated when absent
  ownerId: string;
  name: string;
  description?: string;
  public?: boolean; // default true
  collaborative?: boolean; // default false
  collaborators?: string[];
}

/** An edit as a client names it, with positions as list indices at `baseVersion`. */
export type PlaylistEdit =
  /** Insert tracks before index `index` (0..length); absent means append. */
  | { kind: 'insert'; index?: number; trackIds: string[] }
  /** Remove entries by entry id (so duplicates of one track are distinct). */
  | { kind: 'remove'; entryIds: string[] }
  /** Remove the entries at these indices; with `trackIds`, only where the track matches. */
  | { kind: 'removeAt'; positions: number[]; trackIds?: string[] }
  /** Remove every occurrence of these tracks in the list as it is at commit time. */
  | { kind: 'removeTracks'; trackIds: string[] }
  /** Move `rangeLength` entries from `rangeStart` to before index `insertBefore` (Spotify reorder). */
  | { kind: 'move'; rangeStart: number; rangeLength: number; insertBefore: number }
  /** Change details (owner only). */
  | { kind: 'details'; name?: string; description?: string; public?: boolean; collaborative?: boolean }
  /** Replace the collaborator list (owner only). */
  | { kind: 'collaborators'; collaborators: string[] };

export type SkipReason = 'already_removed' | 'track_mismatch' | 'out_of_range';

export interface EditResult {
  /** 'applied': committed (maybe partially, see `skipped`); 'noop': nothing left to do. */
  status: 'applied' | 'noop';
  /** The version after the edit (the current version for a noop). */
  version: number;
  /** Version of the log record this edit wrote; absent for a noop. */
  committedVersion?: number;
  /** Ops committed by others between `baseVersion` and this commit. */
  rebasedOver: number;
  /** Entries this edit inserted, in list order. */
  inserted: PlaylistEntry[];
  /** Entry ids this edit removed or moved. */
  affectedEntryIds: string[];
  /** Targets that were gone or had changed by commit time. */
  skipped: { target: string; reason: SkipReason }[];
  /** Contention retries spent. */
  attempts: number;
}

/** Index-level effect of a committed op, at the version it was committed on. */
export type OpEffect =
  | { kind: 'insert'; index: number; entries: { entryId: string; trackId: string }[] }
  | { kind: 'remove'; indices: number[]; entryIds: string[] }
  /** Entries at sorted `from` indices moved, in order, to gap `to` of the list without them. */
  | { kind: 'move'; from: number[]; to: number }
  | { kind: 'meta' };

export interface OpLogRecord {
  version: number;
  author: string;
  committedAt: number;
  edit: PlaylistEdit;
  effect: OpEffect;
}

export interface EntryPage {
  playlist: Playlist;
  entries: PlaylistEntry[];
  offset: number;
  total: number;
}

export interface PlaylistStore {
  /** `forbidden` when `requesterId` may not read it; `not_found` when unknown. */
  getPlaylist(playlistId: string, requesterId: string): Promise<Playlist>;
  /** Track ids in list order (a play context); same authorization as getPlaylist. */
  listPlaylistTrackIds(playlistId: string, requesterId: string): Promise<string[]>;
  /**
   * Entries `offset..offset+limit` in list order, with the header they were read under and the
   * total length; `bad_request` for a limit outside 1..MAX_PAGE_LIMIT or a negative offset.
   */
  listEntries(
    playlistId: string,
    requesterId: string,
    page?: { offset?: number; limit?: number },
  ): Promise<EntryPage>;
  /** Creates a playlist at version 0. `conflict` if the id exists; `bad_request` past a limit. */
  createPlaylist(input: NewPlaylist): Promise<Playlist>;
  /** Owner only (`forbidden` otherwise); removes the playlist, its entries and its log. */
  deletePlaylist(playlistId: string, requesterId: string): Promise<void>;
  /** Applies one edit made on `baseVersion` (default: current), rebased as described above. */
  editPlaylist(
    playlistId: string,
    requesterId: string,
    edit: PlaylistEdit,
    baseVersion?: number,
  ): Promise<EditResult>;
  /** Playlists owned by a user (ids), for listing; [] when none. */
  listOwnedPlaylistIds(ownerId: string): Promise<string[]>;
  /** Committed log records with version > `afterVersion`, ascending (same read rules). */
  readOpLog(playlistId: string, requesterId: string, afterVersion?: number): Promise<OpLogRecord[]>;
  /**
   * The header as committed now, read synchronously (no authorization: the caller checks
   * `canRead`); undefined when unknown. Only adapters whose header read is synchronous (the
   * embedded one) offer it: a cache keyed by version checks itself with it on the hot path.
   */
  headerNow?(playlistId: string): Playlist | undefined;
}
