/**
 * Catalog port: tracks, their encoded audio files (chunk tables) and territory rights.
 * Written by ingest (origin/), read on every play (session/) and by hydration.
 * Adapters: storage/catalog.lmdb.ts, storage/catalog.scylla.ts; contract suite
 * storage/catalog.contract.ts. The rows extend the shapes the session actor reads
 * (actors/types.ts), so each field is defined once and a catalog row goes to the actor as it is.
 *
 * Contract: writes are idempotent upserts (the last write wins) and survive a restart; reads
 * of unknown ids are empty, never an error; a malformed row (empty or over-long id, bad
 * number, territory not ISO alpha-2 or '*') is `bad_request` and writes nothing.
 */
import type { AudioFileRow, ChunkRow, RightsRow, TrackRow } from '../actors/types.ts';

/** The catalog row of a track: what a play needs (actors/ TrackRow) and the catalog's own fields. */
export interface Track extends TrackRow {
  /** 1-based position on the album, for album contexts. */
  trackNumber: number;
  isrc?: string;
}

/** One chunk of an encoded file; the same index covers the same time at every bitrate. */
export interface ChunkInfo extends ChunkRow {
  sha256?: string;
}

/** One encoded file of a track (fields a play reads: actors/ AudioFileRow). */
export interface AudioFile extends AudioFileRow {
  trackId: string;
  /** Content address of the whole encoded file (hex SHA-256). */
  contentAddress: string;
  chunks: ChunkInfo[];
}

/** Territory rights: `territory` is an ISO 3166-1 alpha-2 code or '*' for worldwide. */
export interface Rights extends RightsRow {
  trackId: string;
}

export interface CatalogStore {
  /**
   * Upsert by id; idempotent. The album and artist indexes follow the track: moving it to
   * another album, artist or track number removes it from the old position.
   */
  putTrack(track: Track): Promise<void>;
  /** Upsert by (trackId, bitrateKbps); idempotent. */
  putAudioFile(file: AudioFile): Promise<void>;
  /** Upsert by (trackId, territory); idempotent. */
  putRights(rights: Rights): Promise<void>;
  /** Batch read; ids that do not exist are absent from the map; a repeated id appears once. */
  getTracks(ids: readonly string[]): Promise<Map<string, Track>>;
  /** Every encoded bitrate of a track, ascending by bitrate; [] when none. */
  getAudioFiles(trackId: string): Promise<AudioFile[]>;
  /** Rights rows for a track in a territory plus its worldwide ('*') row; [] when none. */
  getRights(trackId: string, territory: string): Promise<Rights[]>;
  /** Track ids of an album in track-number order; [] when unknown. */
  getAlbumTrackIds(albumId: string): Promise<string[]>;
  /** Track ids of an artist (for radio seeds), unordered; [] when unknown. */
  getArtistTrackIds(artistId: string): Promise<string[]>;
  /** Every track id in the catalog (small catalogs, demo and radio index build). */
  listTrackIds(): Promise<string[]>;
}
