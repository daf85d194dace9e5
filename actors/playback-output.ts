/**
 * Builds the `playback` and `prefetch` outputs of a track from its bundle: picks the audio
 * files, signs chunk URLs (`/o/<chunk key>`) with the injected signer, and fixes expiries
 * so that the same track signed again within its expiry gives the very same URLs.
 */

import { startBitrate } from './bitrate.ts';
import type { AudioFileRow, PlaybackOutput, PrefetchItem, SignedChunk, TrackBundle } from './types.ts';

export type SignUrl = (path: string, expiresAtMs: number) => string;

export interface ExpiryPolicy {
  urlTtlMs: number;
  urlExpiryBucketMs: number;
  urlRenewLeadMs: number;
}

export const chunkPath = (key: string): string => `/o/${key}`;

/** Expiry for URLs signed at `now`: ttl ahead, rounded down to the bucket. */
export const bucketExpiry = (now: number, p: ExpiryPolicy): number =>
  Math.floor((now + p.urlTtlMs) / p.urlExpiryBucketMs) * p.urlExpiryBucketMs;

/**
 * The expiry to sign a track's URLs with: the one it was last signed with, while it has
 * more than two renew leads left (so prefetched URLs and the playback's URLs match), else
 * a fresh bucket.
 */
export function expiryFor(previous: number | undefined, now: number, p: ExpiryPolicy): number {
  if (previous !== undefined && previous - now > 2 * p.urlRenewLeadMs) return previous;
  return bucketExpiry(now, p);
}

/** The file at exactly `kbps`, else the closest below, else the lowest. */
export function fileAt(bundle: TrackBundle, kbps: number): AudioFileRow {
  let best: AudioFileRow | undefined;
  let lowest: AudioFileRow | undefined;
  for (const f of bundle.files) {
    if (f.bitrateKbps <= kbps && (!best || f.bitrateKbps > best.bitrateKbps)) best = f;
    if (!lowest || f.bitrateKbps < lowest.bitrateKbps) lowest = f;
  }
  const file = best ?? lowest;
  if (!file) throw new Error(`track ${bundle.track.id} has no audio files`);
  return file;
}

export const rungs = (bundle: TrackBundle): number[] => bundle.files.map((f) => f.bitrateKbps);

/** Chunk index that covers a position. */
export function chunkIndexAt(file: AudioFileRow, positionMs: number): number {
  if (file.chunks.length === 0) return 0;
  const i = Math.floor(positionMs / Math.max(1, file.chunkDurationMs));
  return Math.min(Math.max(0, i), file.chunks.length - 1);
}

/**
 * A file's chunk URLs, chunk sizes and init URL, signed for one expiry. Shared by every
 * play that uses the file at that expiry: never mutated.
 */
export interface SignedFile {
  exp: number;
  urls: string[];
  sizes: number[];
  init: string;
}

export type FileSigner = (file: AudioFileRow, exp: number) => SignedFile;

/**
 * Signs whole files once per expiry. Bundles are the catalog cache's shared objects, and
 * expiries are bucketed, so every play of a track in one bucket, by any listener, reuses the
 * same arrays: one signature per chunk per bucket instead of one per chunk per play, and
 * the session layer can encode the URL list once (protocol/ `encodeOnce`). A pure memo:
 * `sign` is deterministic (same path and expiry, same URL).
 */
export function fileSigner(sign: SignUrl): FileSigner {
  const signed = new WeakMap<AudioFileRow, SignedFile>();
  return (file, exp) => {
    let s = signed.get(file);
    if (s === undefined || s.exp !== exp) {
      s = {
        exp,
        urls: file.chunks.map((c) => sign(chunkPath(c.key), exp)),
        sizes: file.chunks.map((c) => c.bytes),
        init: sign(chunkPath(file.init.key), exp),
      };
      signed.set(file, s);
    }
    return s;
  };
}

function signChunk(sign: SignUrl, file: AudioFileRow, index: number, exp: number): SignedChunk {
  const c = file.chunks[index]!;
  return { index: c.index, url: sign(chunkPath(c.key), exp), bytes: c.bytes };
}

export interface PlaybackSpec {
  playId: string;
  bundle: TrackBundle;
  bitrateKbps: number;
  /** Bitrate of the first chunk: the start bitrate, or the play bitrate when its chunks were prefetched. */
  firstChunkKbps: number;
  positionMs: number;
  playing: boolean;
  expiresAt: number;
  renewal: boolean;
}

export function buildPlayback(signFile: FileSigner, s: PlaybackSpec): PlaybackOutput {
  const file = fileAt(s.bundle, s.bitrateKbps);
  const first = fileAt(s.bundle, s.firstChunkKbps);
  const signed = signFile(file, s.expiresAt);
  const signedFirst = first === file ? signed : signFile(first, s.expiresAt);
  const firstIndex = chunkIndexAt(first, s.positionMs);
  const firstChunk = first.chunks[firstIndex]!;
  return {
    type: 'playback',
    playId: s.playId,
    track: s.bundle.track,
    codec: file.codec,
    container: file.container,
    mimeType: file.mimeType,
    bitrateKbps: file.bitrateKbps,
    positionMs: s.positionMs,
    playing: s.playing,
    init: { url: signed.init, bytes: file.init.bytes },
    chunks: {
      count: file.chunks.length,
      durationMs: file.chunkDurationMs,
      bytes: signed.sizes,
      urls: signed.urls,
    },
    firstChunk: {
      index: firstChunk.index,
      url: signedFirst.urls[firstIndex]!,
      bytes: firstChunk.bytes,
      bitrateKbps: first.bitrateKbps,
      init: { url: signedFirst.init, bytes: first.init.bytes },
    },
    expiresAt: s.expiresAt,
    gapless: {
      encoderDelaySamples: file.encoderDelaySamples,
      paddingSamples: file.paddingSamples,
      sampleRate: file.sampleRate,
    },
    loudness: file.loudness,
    renewal: s.renewal,
  };
}

export function buildPrefetchItem(
  sign: SignUrl,
  bundle: TrackBundle,
  bitrateKbps: number,
  chunkCount: number,
  expiresAt: number,
): PrefetchItem {
  const file = fileAt(bundle, bitrateKbps);
  const n = Math.min(chunkCount, file.chunks.length);
  const chunks: SignedChunk[] = [];
  for (let i = 0; i < n; i++) chunks.push(signChunk(sign, file, i, expiresAt));
  return {
    trackId: bundle.track.id,
    bitrateKbps: file.bitrateKbps,
    init: { url: sign(chunkPath(file.init.key), expiresAt), bytes: file.init.bytes },
    chunks,
    expiresAt,
  };
}

/** Start bitrate of a track for a given play bitrate. */
export const firstChunkKbps = (bundle: TrackBundle, startKbps: number, playKbps: number): number =>
  startBitrate(rungs(bundle), startKbps, playKbps);
