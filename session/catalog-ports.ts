/**
 * The actor's read ports over the store ports: `loadTracks` (metadata + audio files + rights
 * in one batched call) and `resolveContext` (playlist / album / artist / explicit list ->
 * tracks with artists). A short-lived LRU keeps bundles hot, since every play and prefetch
 * reads the same few tracks; it also answers the metadata lookups of state frames.
 */
import { LRUCache } from 'lru-cache';
import type { ContextTrack, LoadTracksRequest, LoadTracksResult, ResolveContextRequest, ResolvedContext, TrackBundle, TrackMeta } from '../actors/types.ts';
import type { CatalogStore, Track } from '../storage/catalog.ts';
import { isStorageError } from '../storage/errors.ts';
import type { PlaylistStore } from '../storage/playlists.ts';

export interface CatalogPortsDeps {
  catalog: CatalogStore;
  playlists: PlaylistStore;
  /** Bundles are cached this long (rights windows move, so keep it short). */
  cacheTtlMs?: number;
  cacheMax?: number;
}

export interface CatalogPorts {
  loadTracks(req: LoadTracksRequest): Promise<LoadTracksResult>;
  resolveContext(req: ResolveContextRequest): Promise<ResolvedContext | null>;
  /** Metadata of a track seen recently (synchronous, for state frames). */
  lookup(trackId: string): TrackMeta | undefined;
  /** Warms the metadata cache for ids about to be shown. */
  warm(trackIds: readonly string[]): Promise<void>;
}

const meta = (t: Track): TrackMeta => ({
  id: t.id,
  title: t.title,
  artistId: t.artistId,
  artistName: t.artistName,
  albumId: t.albumId,
  albumName: t.albumName,
  trackNumber: t.trackNumber,
  durationMs: t.durationMs,
});

export function createCatalogPorts(deps: CatalogPortsDeps): CatalogPorts {
  const { catalog, playlists } = deps;
  const bundles = new LRUCache<string, TrackBundle>({ max: deps.cacheMax ?? 5000, ttl: deps.cacheTtlMs ?? 30_000 });
  const metas = new LRUCache<string, TrackMeta>({ max: deps.cacheMax ?? 20_000 });

  const rememberTracks = (tracks: Map<string, Track>) => {
    for (const t of tracks.values()) metas.set(t.id, meta(t));
  };

  async function loadTracks({ trackIds, country }: LoadTracksRequest): Promise<LoadTracksResult> {
    const out: LoadTracksResult = {};
    const missing: string[] = [];
    for (const id of trackIds) {
      const hit = bundles.get(`${country}:${id}`);
      if (hit) out[id] = hit;
      else missing.push(id);
    }
    if (missing.length === 0) return out;
    const tracks = await catalog.getTracks(missing);
    rememberTracks(tracks);
    await Promise.all(
      missing.map(async (id) => {
        const t = tracks.get(id);
        if (!t) {
          out[id] = null;
          return;
        }
        const [files, rights] = await Promise.all([catalog.getAudioFiles(id), catalog.getRights(id, country)]);
        const bundle: TrackBundle = {
          track: meta(t),
          files: files.map((f) => ({
            bitrateKbps: f.bitrateKbps,
            codec: f.codec,
            container: f.container,
            mimeType: f.mimeType,
            init: f.init,
            chunkDurationMs: f.chunkDurationMs,
            chunks: f.chunks.map((c) => ({ index: c.index, key: c.key, bytes: c.bytes, durationMs: c.durationMs })),
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
        bundles.set(`${country}:${id}`, bundle);
        out[id] = bundle;
      }),
    );
    return out;
  }

  async function withArtists(ids: string[]): Promise<ContextTrack[]> {
    const tracks = await catalog.getTracks(ids);
    rememberTracks(tracks);
    const out: ContextTrack[] = [];
    for (const id of ids) {
      const t = tracks.get(id);
      if (t) out.push({ id, artistId: t.artistId });
    }
    return out;
  }

  async function resolveContext(req: ResolveContextRequest): Promise<ResolvedContext | null> {
    if (req.contextUri === null) return { uri: null, tracks: await withArtists(req.trackIds) };
    const m = /^(?:spotify:)?(playlist|album|artist):(.+)$/.exec(req.contextUri);
    if (!m) return null;
    const [, kind, id] = m as unknown as [string, string, string];
    let ids: string[];
    try {
      if (kind === 'playlist') ids = await playlists.listPlaylistTrackIds(id, req.userId);
      else if (kind === 'album') ids = await catalog.getAlbumTrackIds(id);
      else ids = (await catalog.getArtistTrackIds(id)).sort();
    } catch (err) {
      // A private playlist of someone else is "not there" to this user, like an unknown one.
      if (isStorageError(err, 'not_found') || isStorageError(err, 'forbidden')) return null;
      throw err;
    }
    if (ids.length === 0 && kind !== 'playlist') return null;
    return { uri: `${kind}:${id}`, tracks: await withArtists(ids) };
  }

  return {
    loadTracks,
    resolveContext,
    lookup: (id) => metas.get(id),
    async warm(ids) {
      const unknown = ids.filter((id) => !metas.has(id));
      if (unknown.length > 0) rememberTracks(await catalog.getTracks(unknown));
    },
  };
}
