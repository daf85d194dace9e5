/** CQL catalog adapter (tables in scylla/schema.cql). Prepared statements only. */
import type { Client, types } from 'cassandra-driver';
import type { AudioFile, CatalogStore, Rights, Track } from './catalog.ts';
import { validateAudioFile, validateRights, validateTrack } from './catalog-validate.ts';
import { exec, execAllPages, IDEMPOTENT_WRITE, READ } from './cql-client.ts';

/** Concurrent single-partition reads per batch: token-aware routing sends each to its replica. */
const READ_FANOUT = 64;

const rowToTrack = (r: types.Row): Track => ({
  id: r.track_id,
  title: r.title ?? '',
  artistId: r.artist_id,
  artistName: r.artist_name ?? '',
  albumId: r.album_id,
  albumName: r.album_name ?? '',
  trackNumber: r.track_number ?? 0,
  durationMs: r.duration_ms ?? 0,
  ...(r.isrc ? { isrc: r.isrc } : {}),
});

const rowToRights = (r: types.Row): Rights => ({
  trackId: r.track_id,
  territory: r.territory,
  allowed: r.allowed === true,
  ...(r.available_from != null ? { availableFrom: Number(r.available_from) } : {}),
  ...(r.available_until != null ? { availableUntil: Number(r.available_until) } : {}),
  ...(r.premium_only ? { premiumOnly: true } : {}),
});

export function createScyllaCatalog(client: Client, ks: string): CatalogStore {
  const q = {
    getTrack: `SELECT * FROM ${ks}.tracks WHERE track_id = ?`,
    putTrack: `INSERT INTO ${ks}.tracks (track_id, title, artist_id, artist_name, album_id, album_name, track_number, duration_ms, isrc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    putAlbum: `INSERT INTO ${ks}.album_tracks (album_id, track_number, track_id) VALUES (?, ?, ?)`,
    delAlbum: `DELETE FROM ${ks}.album_tracks WHERE album_id = ? AND track_number = ? AND track_id = ?`,
    putArtist: `INSERT INTO ${ks}.artist_tracks (artist_id, track_id) VALUES (?, ?)`,
    delArtist: `DELETE FROM ${ks}.artist_tracks WHERE artist_id = ? AND track_id = ?`,
    putFile: `INSERT INTO ${ks}.audio_files (track_id, bitrate_kbps, codec, container, mime_type, content_address, chunk_duration_ms, encoder_delay_samples, padding_samples, sample_rate, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    getFiles: `SELECT body FROM ${ks}.audio_files WHERE track_id = ?`,
    putRights: `INSERT INTO ${ks}.rights (track_id, territory, allowed, available_from, available_until, premium_only) VALUES (?, ?, ?, ?, ?, ?)`,
    getRights: `SELECT * FROM ${ks}.rights WHERE track_id = ? AND territory IN ?`,
    album: `SELECT track_id FROM ${ks}.album_tracks WHERE album_id = ?`,
    artist: `SELECT track_id FROM ${ks}.artist_tracks WHERE artist_id = ?`,
    allTracks: `SELECT track_id FROM ${ks}.tracks`,
  };

  const store: CatalogStore = {
    async putTrack(t) {
      validateTrack(t);
      const old = (await exec(client, q.getTrack, [t.id], READ)).first();
      if (old && (old.album_id !== t.albumId || old.track_number !== t.trackNumber))
        await exec(client, q.delAlbum, [old.album_id, old.track_number, t.id], IDEMPOTENT_WRITE);
      if (old && old.artist_id !== t.artistId)
        await exec(client, q.delArtist, [old.artist_id, t.id], IDEMPOTENT_WRITE);
      await Promise.all([
        exec(
          client,
          q.putTrack,
          [
            t.id,
            t.title,
            t.artistId,
            t.artistName,
            t.albumId,
            t.albumName,
            t.trackNumber,
            t.durationMs,
            t.isrc ?? null,
          ],
          IDEMPOTENT_WRITE,
        ),
        exec(client, q.putAlbum, [t.albumId, t.trackNumber, t.id], IDEMPOTENT_WRITE),
        exec(client, q.putArtist, [t.artistId, t.id], IDEMPOTENT_WRITE),
      ]);
    },
    async putAudioFile(f) {
      validateAudioFile(f);
      await exec(
        client,
        q.putFile,
        [
          f.trackId,
          f.bitrateKbps,
          f.codec,
          f.container,
          f.mimeType,
          f.contentAddress,
          f.chunkDurationMs,
          f.encoderDelaySamples,
          f.paddingSamples,
          f.sampleRate,
          JSON.stringify(f),
        ],
        IDEMPOTENT_WRITE,
      );
    },
    async putRights(r) {
      validateRights(r);
      await exec(
        client,
        q.putRights,
        [
          r.trackId,
          r.territory,
          r.allowed,
          r.availableFrom ?? null,
          r.availableUntil ?? null,
          r.premiumOnly ?? false,
        ],
        IDEMPOTENT_WRITE,
      );
    },
    async getTracks(ids) {
      const out = new Map<string, Track>();
      const unique = [...new Set(ids)];
      for (let i = 0; i < unique.length; i += READ_FANOUT) {
        const rows = await Promise.all(
          unique
            .slice(i, i + READ_FANOUT)
            .map((id) => exec(client, q.getTrack, [id], READ).then((rs) => rs.first())),
        );
        for (const r of rows) if (r) out.set(r.track_id, rowToTrack(r));
      }
      return out;
    },
    async getAudioFiles(trackId) {
      const rs = await exec(client, q.getFiles, [trackId], READ);
      return rs.rows.map((r) => JSON.parse(r.body) as AudioFile);
    },
    async getRights(trackId, territory) {
      const territories = territory === '*' ? ['*'] : [territory, '*'];
      const rs = await exec(client, q.getRights, [trackId, territories], READ);
      return rs.rows.map(rowToRights);
    },
    async getAlbumTrackIds(albumId) {
      return (await execAllPages(client, q.album, [albumId])).map((r) => r.track_id as string);
    },
    async getArtistTrackIds(artistId) {
      return (await execAllPages(client, q.artist, [artistId])).map((r) => r.track_id as string);
    },
    async listTrackIds() {
      return (await execAllPages(client, q.allTracks, [])).map((r) => r.track_id as string);
    },
  };
  return store;
}
