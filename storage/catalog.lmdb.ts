/** Embedded catalog adapter: LMDB tables laid out like the CQL ones (see scylla/schema.cql). */
import type { AudioFile, CatalogStore, Rights, Track } from './catalog.ts';
import { validateAudioFile, validateRights, validateTrack } from './catalog-validate.ts';
import { type EmbeddedEnv, openTable, prefixEnd } from './lmdb-env.ts';

export function createLmdbCatalog(env: EmbeddedEnv): CatalogStore {
  const tracks = openTable<Track>(env, 'tracks'); // [trackId]
  const audioFiles = openTable<AudioFile>(env, 'audio_files'); // [trackId, bitrate]
  const rights = openTable<Rights>(env, 'rights'); // [trackId, territory]
  const albumTracks = openTable<true>(env, 'album_tracks'); // [albumId, trackNumber, trackId]
  const artistTracks = openTable<true>(env, 'artist_tracks'); // [artistId, trackId]

  const store: CatalogStore = {
    async putTrack(track) {
      validateTrack(track);
      await env.transaction(() => {
        const old = tracks.get([track.id]);
        // Keep the album and artist indexes exact when a track moves album or artist.
        if (old) {
          albumTracks.removeSync([old.albumId, old.trackNumber, old.id]);
          artistTracks.removeSync([old.artistId, old.id]);
        }
        tracks.putSync([track.id], track);
        albumTracks.putSync([track.albumId, track.trackNumber, track.id], true);
        artistTracks.putSync([track.artistId, track.id], true);
      });
    },
    async putAudioFile(file) {
      validateAudioFile(file);
      await audioFiles.put([file.trackId, file.bitrateKbps], file);
    },
    async putRights(r) {
      validateRights(r);
      await rights.put([r.trackId, r.territory], r);
    },
    async getTracks(ids) {
      const out = new Map<string, Track>();
      if (ids.length === 0) return out;
      // Synchronous gets: LMDB reads are memory-mapped and take microseconds, while getMany
      // goes through the libuv pool and then waits for a busy event loop (measured p99 2-3 ms).
      for (const id of ids) {
        const t = tracks.get([id]);
        if (t) out.set(t.id, t);
      }
      return out;
    },
    async getAudioFiles(trackId) {
      return [...audioFiles.getRange({ start: [trackId], end: prefixEnd([trackId]) }).map((e) => e.value)];
    },
    async getRights(trackId, territory) {
      const keys =
        territory === '*'
          ? [[trackId, '*']]
          : [
              [trackId, territory],
              [trackId, '*'],
            ];
      return keys.map((k) => rights.get(k)).filter((r): r is Rights => r !== undefined);
    },
    async getAlbumTrackIds(albumId) {
      return [...albumTracks.getKeys({ start: [albumId], end: prefixEnd([albumId]) })].map(
        (k) => (k as unknown[])[2] as string,
      );
    },
    async getArtistTrackIds(artistId) {
      return [...artistTracks.getKeys({ start: [artistId], end: prefixEnd([artistId]) })].map(
        (k) => (k as unknown[])[1] as string,
      );
    },
    async listTrackIds() {
      // A one-element array key decodes as its element.
      return [...tracks.getKeys({})].map((k) => (Array.isArray(k) ? k[0] : k) as string);
    },
  };
  return store;
}
