/**
 * The encoding ladder and its options: `DEFAULT_*` constants, one parse step.
 *
 * Why WebM/Opus:
 * - Chromium plays `audio/webm; codecs="opus"` through Media Source Extensions, so the
 *   browser player can append an init segment and then chunks of any rung (Firefox too).
 * - Opus is the best-sounding open codec at low bitrates: 24 kbps is still listenable, which
 *   makes a tiny first chunk that starts playback at once on any network.
 * - libopus emits fixed 20 ms frames (960 samples at 48 kHz), so chunk boundaries at a
 *   multiple of 20 ms fall exactly on packet boundaries at every bitrate: alignment across
 *   the ladder is exact, not approximate (see webm-segments.ts).
 * - Opus always runs at 48 kHz internally; we resample every input to 48 kHz once, so every
 *   sample count (pre-skip, padding, chunk length) is in one unit.
 * - The Opus header carries the pre-skip and the WebM muxer writes the end padding as
 *   DiscardPadding: exactly what gapless playback needs.
 */

export const LADDER_KBPS = [24, 96, 160, 320] as const;
export const CODEC = 'opus';
export const CONTAINER = 'webm';
export const MIME_TYPE = 'audio/webm; codecs="opus"';
/** Opus frame length; chunk lengths must be a multiple of it. */
export const FRAME_MS = 20;
export const DEFAULT_CHUNK_MS = 4000;
/** Relative block timestamps in a WebM cluster are int16 milliseconds. */
export const MAX_CHUNK_MS = 30_000;
/** Loudness target of the replay gain (the common streaming reference level). */
export const DEFAULT_TARGET_LUFS = -14;
/** Positive gain is capped so the true peak stays below this (no clipping after gain). */
export const TRUE_PEAK_CEILING_DBTP = -1;
export const DEFAULT_INGEST_WORKERS = 2;
/** libopus effort 0..10; 10 is best quality per bit (the demo build uses less: it is ~40 % faster). */
export const DEFAULT_OPUS_COMPLEXITY = 10;
/** libopus accepts at most 256 kbps per channel: a mono input's 320 rung is encoded at 256. */
export const OPUS_MAX_KBPS_PER_CHANNEL = 256;

export interface IngestOptions {
  chunkMs: number;
  targetLufs: number;
  workers: number;
  ladderKbps: readonly number[];
  opusComplexity: number;
}

export const defaultIngestOptions = (): IngestOptions => ({
  chunkMs: DEFAULT_CHUNK_MS,
  targetLufs: DEFAULT_TARGET_LUFS,
  workers: DEFAULT_INGEST_WORKERS,
  ladderKbps: LADDER_KBPS,
  opusComplexity: DEFAULT_OPUS_COMPLEXITY,
});

export class IngestConfigError extends Error {
  override readonly name = 'IngestConfigError';
}

/** Reads INGEST_CHUNK_MS, INGEST_TARGET_LUFS, INGEST_WORKERS; rejects impossible values. */
export function parseIngestOptions(env: Record<string, string | undefined> = {}): IngestOptions {
  const o = defaultIngestOptions();
  const num = (name: string): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new IngestConfigError(`${name}: expected a number, got '${raw}'`);
    return n;
  };
  const chunkMs = num('INGEST_CHUNK_MS');
  if (chunkMs !== undefined) {
    if (!Number.isInteger(chunkMs) || chunkMs % FRAME_MS !== 0 || chunkMs < 500 || chunkMs > MAX_CHUNK_MS) {
      throw new IngestConfigError(
        `INGEST_CHUNK_MS: expected a multiple of ${FRAME_MS} in 500..${MAX_CHUNK_MS}, got ${chunkMs}`,
      );
    }
    o.chunkMs = chunkMs;
  }
  const lufs = num('INGEST_TARGET_LUFS');
  if (lufs !== undefined) {
    if (lufs > 0 || lufs < -40)
      throw new IngestConfigError(`INGEST_TARGET_LUFS: expected -40..0, got ${lufs}`);
    o.targetLufs = lufs;
  }
  const workers = num('INGEST_WORKERS');
  if (workers !== undefined) {
    if (!Number.isInteger(workers) || workers < 1 || workers > 16) {
      throw new IngestConfigError(`INGEST_WORKERS: expected 1..16, got ${workers}`);
    }
    o.workers = workers;
  }
  return o;
}
