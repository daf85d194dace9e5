/**
 * The actor's read ports over the store ports: `loadTracks` (metadata + audio files + rights
 * in one batched call) and `resolveContext` (playlist / album / artist / explicit list ->
 * tracks with artists).
 *
 * Every play reads the same few tracks, so the hot path must not touch the store at all:
 * - track bundles are cached per (country, track); an entry older than `cacheTtlMs` is still
 *   served (rights are re-checked against the clock on every play, so only an edit of the
 *   rights rows can be late, by at most one refresh) while one background read refreshes it;
 * - concurrent misses of one bundle share one read;
 * - the metadata cache answers the artist of each context track (shuffle spacing) and the
 *   metadata lookups of state frames; only ids it does not know go to the catalog.
 * - a playlist's resolved track list is kept with the header version it was read under;
 *   `peekContext` serves it synchronously while the store's header (read synchronously,
 *   where the store can: `headerNow`) still has that version and lets the user read it, so
 *   a play of a known playlist settles in its command's step without reading the entries.
 * The embedded store's batched reads (`getMany`) hop through the libuv thread pool, which
 * fsync'ing commits keep busy: measured at 200-800 ms per play under load before this cache.
 */
import { LRUCache } from 'lru-cache';
import type {
  ContextTrack,
  LoadTracksRequest,
  LoadTracksResult,
  ResolveContextRequest,
  ResolvedContext,
  TrackBundle,
  TrackRow,
} from '../actors/types.ts';
import type { CatalogStore, Track } from '../storage/catalog.ts';
import { isStorageError } from '../storage/errors.ts';
import { canRead } from '../storage/playlist-access.ts';
import type { PlaylistStore } from '../storage/playlists.ts';

export const DEFAULT_BUNDLE_TTL_MS = 30_000;
export const DEFAULT_BUNDLE_CACHE_MAX = 5000;
export const DEFAULT_META_CACHE_MAX = 20_000;
/**
 * Playlist tracks kept, in all (a playlist may hold 10 000): at ~50 bytes a track with its
 * artist id shared, about 10 MB at most.
 */
const KNOWN_PLAYLIST_TRACKS_MAX = 200_000;

export interface CatalogPortsDeps {
  catalog: CatalogStore;
  playlists: PlaylistStore;
  /** A bundle older than this is refreshed in the background (rights can change). */
  cacheTtlMs?: number;
  cacheMax?: number;
  now?: () => number;
  /** A background refresh failed (the stale bundle stays until the next try). */
  onRefreshError?: (err: unknown, trackId: string) => void;
}

export interface CatalogPorts {
  loadTracks(req: LoadTracksRequest): Promise<LoadTracksResult>;
  /**
   * The same bundles, synchronously, when every one is cached (stale ones are served and
   * refreshed as by loadTracks); undefined when any is not, or is a track that does not exist.
   */
  peekTracks(req: LoadTracksRequest): LoadTracksResult | undefined;
  resolveContext(req: ResolveContextRequest): Promise<ResolvedContext | null>;
  /**
   * The answer `resolveContext` would give, synchronously, when it is known to be current: an
   * explicit list whose tracks are all known, a playlist read before at the version it has
   * now (and readable by the user); undefined otherwise.
   */
  peekContext(req: ResolveContextRequest): ResolvedContext | undefined;
  /** Metadata of a track seen recently (synchronous, for state frames). */
  lookup(trackId: string): TrackRow | undefined;
  /** Warms the metadata cache for ids about to be shown. */
  warm(trackIds: readonly string[]): Promise<void>;
}

const meta = (t: Track): TrackRow => ({
  id: t.id,
  title: t.title,
  artistId: t.artistId,
  artistName: t.artistName,
  albumId: t.albumId,
  albumName: t.albumName,
  trackNumber: t.trackNumber,
  durationMs: t.durationMs,
});

/** A playlist's resolved tracks and the header (version, creation) they were read under. */
interface KnownPlaylist {
  version: number;
  createdAt: number;
  context: ResolvedContext;
}

const PLAYLIST_URI = /^(?:spotify:)?playlist:(.+)$/;

interface CachedBundle {
  bundle: TrackBundle;
  fetchedAt: number;
}

export function createCatalogPorts(deps: CatalogPortsDeps): CatalogPorts {
  const { catalog, playlists } = deps;
  const now = deps.now ?? Date.now;
  const ttl = deps.cacheTtlMs ?? DEFAULT_BUNDLE_TTL_MS;
  const bundles = new LRUCache<string, CachedBundle>({ max: deps.cacheMax ?? DEFAULT_BUNDLE_CACHE_MAX });
  const metas = new LRUCache<string, TrackRow>({
    max: Math.max(deps.cacheMax ?? 0, DEFAULT_META_CACHE_MAX),
  });
  const playlistsKnown = new LRUCache<string, KnownPlaylist>({
    maxSize: KNOWN_PLAYLIST_TRACKS_MAX,
    sizeCalculation: (k) => k.context.tracks.length + 1,
  });
  /** The header as committed now, when the store reads it synchronously; undefined if not (or failing). */
  const headerNow = (id: string) => {
    try {
      return playlists.headerNow?.(id);
    } catch {
      // Unavailable: the awaited path reads again and reports it.
      return undefined;
    }
  };
  /** Reads in flight by `${country}:${id}`: concurrent misses and refreshes share them. */
  const inflight = new Map<string, Promise<TrackBundle | null>>();

  const rememberTracks = (tracks: Map<string, Track>) => {
    for (const t of tracks.values()) metas.set(t.id, meta(t));
  };

  /** Reads one bundle; `tracks` is a batched metadata read shared by the misses of one call. */
  async function readBundle(
    id: string,
    country: string,
    tracks: Promise<Map<string, Track>>,
  ): Promise<TrackBundle | null> {
    const t = (await tracks).get(id);
    if (!t) return null;
    metas.set(t.id, meta(t));
    const [files, rights] = await Promise.all([catalog.getAudioFiles(id), catalog.getRights(id, country)]);
    return {
      track: meta(t),
      files: files.map((f) => ({
        bitrateKbps: f.bitrateKbps,
        codec: f.codec,
        container: f.container,
        mimeType: f.mimeType,
        init: f.init,
        chunkDurationMs: f.chunkDurationMs,
        chunks: f.chunks.map((c) => ({
          index: c.index,
          key: c.key,
          bytes: c.bytes,
          durationMs: c.durationMs,
        })),
        encoderDelaySamples: f.encoderDelaySamples,
        paddingSamples: f.paddingSamples,
        sampleRate: f.sampleRate,
        loudness: f.loudness,
      })),
      rights: rights.map((r) => ({
        territory: r.territory,
        allowed: r.allowed,
        ...(r.availableFrom !== undefined ? { availableFrom: r.availableFrom } : {}),
        ...(r.availableUntil !== undefined ? { availableUntil: r.availableUntil } : {}),
        ...(r.premiumOnly !== undefined ? { premiumOnly: r.premiumOnly } : {}),
      })),
    };
  }

  /**
   * Starts (synchronously, so a concurrent caller finds it) the read of every id not already
   * being read; one batched metadata read covers them. A found bundle is cached, a missing
   * track is not.
   */
  function startReads(ids: readonly string[], country: string): void {
    const fresh = ids.filter((id) => !inflight.has(`${country}:${id}`));
    if (fresh.length === 0) return;
    const tracks = catalog.getTracks(fresh);
    // Each read below handles a failure of the shared metadata read itself.
    tracks.catch(() => undefined);
    for (const id of fresh) {
      const key = `${country}:${id}`;
      const p = readBundle(id, country, tracks)
        .then((b) => {
          if (b) bundles.set(key, { bundle: b, fetchedAt: now() });
          return b;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
  }

  /** Cached bundles into `out`; the ids not cached; stale ones start their refresh. */
  function fromCache(
    trackIds: readonly string[],
    country: string,
    out: LoadTracksResult,
  ): string[] | undefined {
    let missing: string[] | undefined;
    let stale: string[] | undefined;
    const t = now();
    for (const id of trackIds) {
      const hit = bundles.get(`${country}:${id}`);
      if (!hit) (missing ??= []).push(id);
      else {
        out[id] = hit.bundle;
        if (t - hit.fetchedAt >= ttl) (stale ??= []).push(id);
      }
    }
    if (stale) {
      startReads(stale, country);
      for (const id of stale)
        inflight.get(`${country}:${id}`)?.catch((err: unknown) => deps.onRefreshError?.(err, id));
    }
    return missing;
  }

  function peekTracks({ trackIds, country }: LoadTracksRequest): LoadTracksResult | undefined {
    const out: LoadTracksResult = {};
    return fromCache(trackIds, country, out) ? undefined : out;
  }

  async function loadTracks({ trackIds, country }: LoadTracksRequest): Promise<LoadTracksResult> {
    const out: LoadTracksResult = {};
    const missing = fromCache(trackIds, country, out);
    if (!missing) return out;
    startReads(missing, country);
    const read = await Promise.all(
      missing.map(
        (id) =>
          inflight.get(`${country}:${id}`) ??
          Promise.resolve(bundles.get(`${country}:${id}`)?.bundle ?? null),
      ),
    );
    missing.forEach((id, i) => (out[id] = read[i]!));
    return out;
  }

  async function withArtists(ids: readonly string[]): Promise<ContextTrack[]> {
    // One cache lookup per id on the hot path; the catalog only for ids the cache lacks.
    const out: ContextTrack[] = [];
    let unknown: string[] | undefined;
    for (const id of ids) {
      const m = metas.get(id);
      if (m) out.push({ id, artistId: m.artistId });
      else (unknown ??= []).push(id);
    }
    if (!unknown) return out;
    rememberTracks(await catalog.getTracks(unknown));
    const all: ContextTrack[] = [];
    for (const id of ids) {
      const m = metas.get(id);
      if (m) all.push({ id, artistId: m.artistId });
    }
    return all;
  }

  /**
   * An artist's tracks, album by album (by album id), each album in track order: the
   * catalog keeps them unordered, and a context needs one order that does not change.
   */
  async function artistTrackIds(artistId: string): Promise<string[]> {
    const ids = await catalog.getArtistTrackIds(artistId);
    const missing = ids.filter((t) => !metas.has(t));
    if (missing.length > 0) rememberTracks(await catalog.getTracks(missing));
    const rows = ids.flatMap((t) => metas.get(t) ?? []);
    rows.sort(
      (a, b) =>
        (a.albumId < b.albumId ? -1 : a.albumId > b.albumId ? 1 : 0) ||
        (a.trackNumber ?? 0) - (b.trackNumber ?? 0) ||
        (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    return rows.map((r) => r.id);
  }

  /** Tracks with artists when every id is known (what withArtists answers without a read). */
  function knownArtists(ids: readonly string[]): ContextTrack[] | undefined {
    const out: ContextTrack[] = [];
    for (const id of ids) {
      const m = metas.get(id);
      if (!m) return undefined;
      out.push({ id, artistId: m.artistId });
    }
    return out;
  }

  function peekContext(req: ResolveContextRequest): ResolvedContext | undefined {
    if (req.contextUri === null) {
      const tracks = knownArtists(req.trackIds);
      return tracks && { uri: null, tracks };
    }
    const id = PLAYLIST_URI.exec(req.contextUri)?.[1];
    const known = id === undefined ? undefined : playlistsKnown.get(id);
    if (!known) return undefined;
    const h = headerNow(id!);
    if (!h || h.version !== known.version || h.createdAt !== known.createdAt || !canRead(h, req.userId))
      return undefined;
    return known.context;
  }

  async function resolveContext(req: ResolveContextRequest): Promise<ResolvedContext | null> {
    if (req.contextUri === null) return { uri: null, tracks: await withArtists(req.trackIds) };
    const m = /^(?:spotify:)?(playlist|album|artist):(.+)$/.exec(req.contextUri);
    if (!m) return null;
    const [, kind, id] = m as unknown as [string, string, string];
    // Read before the entries: if the version is the same after, the entries are of that version.
    const before = kind === 'playlist' ? headerNow(id) : undefined;
    let ids: string[];
    try {
      if (kind === 'playlist') ids = await playlists.listPlaylistTrackIds(id, req.userId);
      else if (kind === 'album') ids = await catalog.getAlbumTrackIds(id);
      else ids = await artistTrackIds(id);
    } catch (err) {
      // A private playlist of someone else is "not there" to this user, like an unknown one.
      if (isStorageError(err, 'not_found') || isStorageError(err, 'forbidden')) return null;
      throw err;
    }
    if (ids.length === 0 && kind !== 'playlist') return null;
    const context = { uri: `${kind}:${id}`, tracks: await withArtists(ids) };
    // Kept only when whole: a track the catalog does not know yet may appear there later.
    if (before && context.tracks.length === ids.length) {
      const after = headerNow(id);
      if (after && after.version === before.version && after.createdAt === before.createdAt)
        playlistsKnown.set(id, { version: before.version, createdAt: before.createdAt, context });
    }
    return context;
  }

  return {
    loadTracks,
    peekTracks,
    resolveContext,
    peekContext,
    lookup: (id) => metas.get(id),
    async warm(ids) {
      const unknown = ids.filter((id) => !metas.has(id));
      if (unknown.length > 0) rememberTracks(await catalog.getTracks(unknown));
    },
  };
}
