/**
 * Catalog port: tracks, their encoded audio files (chunk tables) and territory rights.
 * Written by ingest (origin/), read on every play (session/) and by hydration.
 * Adapters: storage/catalog.lmdb.ts, storage/catalog.scylla.ts; contract suite
 * storage/catalog.contract.ts.
 *
 * Contract: writes are idempotent upserts (the last write wins) and survive a restart; reads
 * of unknown ids are empty, never an error; a malformed row (empty or over-long id, bad
 * number, territory not ISO alpha-2 or '*') is `bad_request` and writes nothing.
 */

export interface Track {
  id: string;
  title: string;
  artistId: string;
  artistName: string;
  albumId: string;
  albumName: string;
  /** 1-based position on the album, for album contexts. */
  trackNumber: number;
  durationMs: number;
  isrc?: string;
}

/** One chunk of an encoded file; the same index covers the same time at every bitrate. */
export interface ChunkInfo {
  index: number;
  /** Content address (hex SHA-256) of the chunk object in the object store. */
  key: string;
  bytes: number;
  durationMs: number;
  sha256?: string;
}

export interface AudioFile {
  trackId: string;
  bitrateKbps: number;
  codec: string; // e.g. 'opus'
  container: string; // e.g. 'webm'
  mimeType: string; // e.g. 'audio/webm; codecs="opus"'
  /** Content address of the whole encoded file (hex SHA-256). */
  contentAddress: string;
  /** Init segment object (headers) that precedes any chunk for MSE. */
  init: { key: string; bytes: number };
  chunkDurationMs: number;
  chunks: ChunkInfo[];
  /** Gapless trim values, in samples at `sampleRate`. */
  encoderDelaySamples: number;
  paddingSamples: number;
  sampleRate: number;
  /** EBU R128 integrated loudness and the gain to apply (not baked in). */
  loudness: { integratedLufs: number; replayGainDb: number };
}

/** Territory rights: `territory` is an ISO 3166-1 alpha-2 code or '*' for worldwide. */
export interface Rights {
  trackId: string;
  territory: string;
  allowed: boolean;
  /** Release window, epoch ms; absent means open-ended. */
  availableFrom?: number;
  availableUntil?: number;
  /** Only premium listeners may play it on demand. */
  premiumOnly?: boolean;
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
