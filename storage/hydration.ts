/**
 * Playlist hydration: a page of a playlist with its track metadata.
 *
 * Warm, a view is two cache reads and no store read: the page (header and entries, cached by
 * the lease protocol of cache.ts so it is never older than the last committed edit), then its
 * tracks in one batched read. On a page miss the entries come from the playlist store and the page is filled
 * with the reader's lease; tracks missing from the cache are read through to the catalog in
 * one batched read and written back with a TTL. Concurrent misses for one track id share one
 * catalog load (single flight), so a cold playlist viewed 100 times at once reads each track
 * from the store once.
 *
 * Exactness needs every edit to go through `viewer.playlists` (the store with the cache's
 * edit bracket around each write); writers that bypass it must not share the cache.
 */
import {
  DEFAULT_TRACK_TTL_SECONDS,
  type PlaylistPage,
  type PlaylistPageRead,
  type TrackCache,
} from './cache.ts';
import type { CatalogStore, Track } from './catalog.ts';
import { isStorageError, StorageError } from './errors.ts';
import { authorizeRead } from './playlist-access.ts';
import { pageBounds } from './playlist-commit.ts';
import type { Playlist, PlaylistStore } from './playlists.ts';

export interface HydratedItem {
  entryId: string;
  trackId: string;
  addedBy: string;
  addedAt: number;
  /** null when the catalog no longer has the track. */
  track: Track | null;
}

export interface PlaylistView {
  playlist: Playlist;
  offset: number;
  limit: number;
  total: number;
  items: HydratedItem[];
}

export interface HydrationDeps {
  playlists: PlaylistStore;
  catalog: CatalogStore;
  cache: TrackCache;
  ttlSeconds?: number;
  /** Told when the cache fails and the view falls back to the store (metrics/logs). */
  onCacheError?: (e: unknown) => void;
}

export interface PlaylistViewer {
  viewPlaylist(
    playlistId: string,
    page: { offset?: number; limit?: number },
    requesterId: string,
  ): Promise<PlaylistView>;
  /** Metadata of `ids` (cache, then store); unknown ids are absent. */
  hydrateTracks(ids: readonly string[]): Promise<Map<string, Track>>;
  /**
   * The playlist store whose writes invalidate the cached pages: every edit, delete and create
   * must go through it. An edit the cache cannot mark beforehand is refused (`unavailable`,
   * nothing committed), since its pages could not be invalidated.
   */
  playlists: PlaylistStore;
}

export function createPlaylistViewer(deps: HydrationDeps): PlaylistViewer {
  const ttl = deps.ttlSeconds ?? DEFAULT_TRACK_TTL_SECONDS;
  const inflight = new Map<string, Promise<Track | undefined>>();

  /** `read`, or `fallback` when the cache is unavailable: an outage degrades to store reads. */
  async function orFallback<T>(read: Promise<T>, fallback: T): Promise<T> {
    try {
      return await read;
    } catch (e) {
      if (!isStorageError(e, 'unavailable')) throw e;
      deps.onCacheError?.(e);
      return fallback;
    }
  }

  /** Starts one catalog load for `ids`; each id stays in flight until its write-back is done. */
  function load(ids: string[]): void {
    const batch = (async () => {
      const found = await deps.catalog.getTracks(ids);
      await deps.cache.putTracks([...found.values()], ttl).catch((e) => deps.onCacheError?.(e));
      return found;
    })();
    for (const id of ids) {
      const one = batch.then((m) => m.get(id));
      inflight.set(id, one);
      // Removed only after the write-back, and one turn of the event loop later: a view whose
      // cache read raced it (its reply in the same socket read as the write-back's) finds it.
      void one
        .finally(() =>
          setImmediate(() => {
            if (inflight.get(id) === one) inflight.delete(id);
          }),
        )
        .catch(() => undefined);
    }
  }

  /** Adds to `out` the tracks among `ids` it lacks, from the catalog (single flight). */
  async function readThrough(ids: readonly string[], out: Map<string, Track>): Promise<Map<string, Track>> {
    const misses = [...new Set(ids)].filter((id) => !out.has(id));
    if (misses.length === 0) return out;
    const toLoad = misses.filter((id) => !inflight.has(id));
    if (toLoad.length > 0) load(toLoad);
    const loaded = await Promise.all(misses.map((id) => inflight.get(id)!));
    misses.forEach((id, i) => {
      const t = loaded[i];
      if (t) out.set(id, t);
    });
    return out;
  }

  async function hydrateTracks(ids: readonly string[]): Promise<Map<string, Track>> {
    const unique = [...new Set(ids)];
    return readThrough(unique, await orFallback(deps.cache.getTracks(unique), new Map<string, Track>()));
  }

  const toView = (page: PlaylistPage, offset: number, limit: number, tracks: Map<string, Track>) => ({
    playlist: page.playlist,
    offset,
    limit,
    total: page.total,
    items: page.entries.map((e) => ({
      entryId: e.entryId,
      trackId: e.trackId,
      addedBy: e.addedBy,
      addedAt: e.addedAt,
      track: tracks.get(e.trackId) ?? null,
    })),
  });

  async function viewPlaylist(
    playlistId: string,
    page: { offset?: number; limit?: number },
    requesterId: string,
  ): Promise<PlaylistView> {
    // Checked here as the store checks them: a bad page must not reach the cache's keys.
    const { offset, limit } = pageBounds(page);

    const read = await orFallback<PlaylistPageRead>(deps.cache.readPlaylistPage(playlistId, offset, limit), {
      hit: false,
    });
    if (read.hit) {
      // The cached header carries the playlist's visibility: the store's read rule, applied to it.
      authorizeRead(read.page.playlist, requesterId);
      const { entries } = read.page;
      // Warm, every track is cached: no read-through to set up.
      let tracks = read.tracks;
      if (!entries.every((e) => tracks.has(e.trackId)))
        tracks = await readThrough(
          entries.map((e) => e.trackId),
          tracks,
        );
      return toView(read.page, offset, limit, tracks);
    }
    const stored = await deps.playlists.listEntries(playlistId, requesterId, { offset, limit });
    const fresh: PlaylistPage = { playlist: stored.playlist, entries: stored.entries, total: stored.total };
    const lease = read.lease;
    const [tracks] = await Promise.all([
      hydrateTracks(fresh.entries.map((e) => e.trackId)),
      lease
        ? orFallback(deps.cache.fillPlaylistPage(playlistId, offset, limit, lease, fresh), false)
        : undefined,
    ]);
    return toView(fresh, offset, limit, tracks);
  }

  return { hydrateTracks, viewPlaylist, playlists: invalidating(deps) };
}

/**
 * The store with each write bracketed by the cache's edit mark: begin before (refusing the
 * write if the cache cannot take it), end after, whatever the outcome. A failed end leaves the
 * mark to lapse: the pages were already dropped and no lease is granted meanwhile.
 */
function invalidating(deps: HydrationDeps): PlaylistStore {
  const { playlists: store, cache } = deps;
  async function bracket<T>(playlistId: string, write: () => Promise<T>): Promise<T> {
    try {
      await cache.beginPlaylistEdit(playlistId);
    } catch (e) {
      if (!isStorageError(e, 'unavailable')) throw e;
      deps.onCacheError?.(e);
      throw new StorageError(
        'unavailable',
        `playlist ${playlistId} was not changed: its cached pages cannot be invalidated (${(e as Error).message})`,
        { cause: e },
      );
    }
    try {
      return await write();
    } finally {
      await cache.endPlaylistEdit(playlistId).catch((e) => deps.onCacheError?.(e));
    }
  }
  return {
    getPlaylist: (id, who) => store.getPlaylist(id, who),
    listPlaylistTrackIds: (id, who) => store.listPlaylistTrackIds(id, who),
    listEntries: (id, who, page) => store.listEntries(id, who, page),
    listOwnedPlaylistIds: (ownerId) => store.listOwnedPlaylistIds(ownerId),
    readOpLog: (id, who, afterVersion) => store.readOpLog(id, who, afterVersion),
    editPlaylist: (id, who, edit, baseVersion) =>
      bracket(id, () => store.editPlaylist(id, who, edit, baseVersion)),
    deletePlaylist: (id, who) => bracket(id, () => store.deletePlaylist(id, who)),
    // A new id has no pages; a given one may have had, under a deleted playlist of that id.
    createPlaylist: (input) =>
      input.id === undefined
        ? store.createPlaylist(input)
        : bracket(input.id, () => store.createPlaylist(input)),
  };
}
