/**
 * Playlist hydration: a page of entry ids from the playlist store, their track metadata from the
 * cache in one batched read, read-through to the catalog for misses (written back with a TTL).
 * Concurrent misses for one track id share one catalog load (single flight), so a cold
 * playlist viewed 100 times at once reads each track from the store once.
 */
import { DEFAULT_TRACK_TTL_SECONDS, type TrackCache } from './cache.ts';
import type { CatalogStore, Track } from './catalog.ts';
import { isStorageError } from './errors.ts';
import { DEFAULT_PAGE_LIMIT } from './playlist-commit.ts';
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
}

export function createPlaylistViewer(deps: HydrationDeps): PlaylistViewer {
  const ttl = deps.ttlSeconds ?? DEFAULT_TRACK_TTL_SECONDS;
  const inflight = new Map<string, Promise<Track | undefined>>();

  async function cached(ids: string[]): Promise<Map<string, Track>> {
    try {
      return await deps.cache.getTracks(ids);
    } catch (e) {
      // A cache outage degrades to store reads; only the store's own failure fails the view.
      if (!isStorageError(e, 'unavailable')) throw e;
      deps.onCacheError?.(e);
      return new Map();
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
      // Removed only after the write-back: a view whose cache read raced it finds the flight.
      void one
        .finally(() => {
          if (inflight.get(id) === one) inflight.delete(id);
        })
        .catch(() => undefined);
    }
  }

  async function hydrateTracks(ids: readonly string[]): Promise<Map<string, Track>> {
    const unique = [...new Set(ids)];
    const out = await cached(unique);
    const misses = unique.filter((id) => !out.has(id));
    const toLoad = misses.filter((id) => !inflight.has(id));
    if (toLoad.length > 0) load(toLoad);
    const loaded = await Promise.all(misses.map((id) => inflight.get(id)!));
    misses.forEach((id, i) => {
      const t = loaded[i];
      if (t) out.set(id, t);
    });
    return out;
  }

  return {
    hydrateTracks,
    async viewPlaylist(playlistId, page, requesterId) {
      const { playlist, entries, offset, total } = await deps.playlists.listEntries(
        playlistId,
        requesterId,
        page,
      );
      const tracks = await hydrateTracks(entries.map((e) => e.trackId));
      return {
        playlist,
        offset,
        limit: page.limit ?? DEFAULT_PAGE_LIMIT,
        total,
        items: entries.map((e) => ({ ...e, track: tracks.get(e.trackId) ?? null })),
      };
    },
  };
}
