/**
 * View cache port, read by playlist hydration (storage/hydration.ts): track metadata by id, and
 * pages of playlists (the header and the ordered entries a page was read under). Domain verbs,
 * not Redis commands: adapters are cache.redis.ts (ioredis: MGET and pipelines for tracks, one
 * Lua script per page read so a warm view is one round trip) and cache.lru.ts (in-process
 * lru-cache, the default when REDIS_URL is unset; app/open-track-cache.ts picks one); contract
 * suite storage/cache.contract.ts.
 *
 * Tracks: `getTracks` returns the cached tracks among `ids` in ONE round trip (absent ids are
 * misses); `putTracks` writes them with a TTL; a value that cannot be decoded is a miss.
 *
 * Playlist pages are exact, never stale (the lease protocol of memcached at Facebook, "Scaling
 * Memcache", NSDI 2013, plus an edit mark):
 * - A reader that misses gets a lease for that page, unless an edit is in progress or another
 *   reader holds a live lease; it reads the store and fills the page with its lease.
 * - An edit calls `beginPlaylistEdit` before it commits (drops every page and lease of the
 *   playlist, marks it as being edited: no lease is granted while marked) and
 *   `endPlaylistEdit` after (drops them again, clears its mark).
 * - A fill succeeds only while its lease is still there. So a page read from the store before
 *   an edit committed is never stored after the edit began: the edit deleted its lease, and
 *   an evicted lease fails the fill too (eviction only ever costs a miss). The mark expires
 *   (`EDIT_MARK_TTL_MS`) so an editor that dies between the two calls blocks caching of that
 *   playlist for a while, never serves a stale page.
 * Cache failures surface as `StorageError('unavailable')` so callers can fall back to the store.
 */
import type { Track } from './catalog.ts';
import type { Playlist, PlaylistEntry } from './playlists.ts';

export const DEFAULT_TRACK_TTL_SECONDS = 3600;
export const DEFAULT_LRU_MAX_ENTRIES = 100_000;
export const TRACK_KEY_PREFIX = 'track:v1:';
export const PLAYLIST_KEY_PREFIX = 'plpage:v1:';
/** Pages are exact by invalidation; the TTL only bounds the memory of playlists nobody views. */
export const DEFAULT_PAGE_TTL_SECONDS = 3600;
/** How long a reader's lease keeps other readers from filling the same page (if it dies). */
export const LEASE_TTL_MS = 5_000;
/** How long an edit's mark lives if its editor dies before `endPlaylistEdit`. */
export const EDIT_MARK_TTL_MS = 30_000;

/** One page of a playlist as the view caches it: the header it was read under, the total. */
export interface PlaylistPage {
  playlist: Playlist;
  entries: PlaylistEntry[];
  total: number;
}

export type PlaylistPageRead =
  /** The page, and the cached tracks among its entries (absent ids are misses). */
  | { hit: true; page: PlaylistPage; tracks: Map<string, Track> }
  /** A miss; `lease` when this reader may fill the page (see `fillPlaylistPage`). */
  | { hit: false; lease?: string };

export interface TrackCache {
  /**
   * The cached tracks among `ids`, in one round trip; absent, expired or undecodable entries
   * are misses (absent from the map); a repeated id appears once. `unavailable` when the cache
   * cannot answer (the caller falls back to the store).
   */
  getTracks(ids: readonly string[]): Promise<Map<string, Track>>;
  /**
   * Writes the tracks by id (replacing what was there), each expiring after `ttlSeconds`
   * (default DEFAULT_TRACK_TTL_SECONDS); an empty list is a no-op. `unavailable` on failure.
   */
  putTracks(tracks: readonly Track[], ttlSeconds?: number): Promise<void>;
  /**
   * In one round trip: the page `offset`/`limit` of a playlist with the cached tracks of its
   * entries, or a miss (with a lease when this reader may fill it). An undecodable page is a miss.
   */
  readPlaylistPage(playlistId: string, offset: number, limit: number): Promise<PlaylistPageRead>;
  /**
   * Stores the page if `lease` (from `readPlaylistPage` of the same page) is still held; false,
   * storing nothing, when an edit began since it was granted or it was evicted.
   */
  fillPlaylistPage(
    playlistId: string,
    offset: number,
    limit: number,
    lease: string,
    page: PlaylistPage,
    ttlSeconds?: number,
  ): Promise<boolean>;
  /** Before an edit commits: drops the playlist's pages and leases and marks it as being edited. */
  beginPlaylistEdit(playlistId: string): Promise<void>;
  /** After the edit, committed or not: drops pages and leases again and clears this edit's mark. */
  endPlaylistEdit(playlistId: string): Promise<void>;
  /** Releases the connection or memory; the cache is not used afterwards. */
  close(): Promise<void>;
}
