/**
 * Content vectors: for tracks the weekly model has not learned (new releases, the demo
 * catalog on first start), a vector from what we know without plays: metadata (artist,
 * album, genre tags), hashed into fixed dimensions, and what ingest can measure of the
 * audio (loudness, dynamics, spectral balance; radio/audio-features.ts). They live in their
 * own index (`content`), not projected into the ALS space: a projection would be a map
 * learned from tracks that have both kinds of vector, and a cold catalog has none; and
 * "same artist, same album, similar sound" is a meaningful neighbourhood on its own.
 */
import { createHash } from 'node:crypto';
import type { AudioFeatures } from './audio-features.ts';
import { buildIndex, type VectorIndex } from './vector-index.ts';

export const CONTENT_DIMENSIONS = 48;
/** Dimensions for hashed metadata; the rest carry the audio measures. */
const HASHED = 40;

export interface ContentFacts {
  trackId: string;
  artistId: string;
  albumId: string;
  genres?: readonly string[];
  audio?: AudioFeatures;
}

/** Feature hashing: a token adds ±weight to two dimensions picked by its hash. */
function addToken(v: Float32Array, token: string, weight: number): void {
  const h = createHash('sha256').update(token).digest();
  for (let k = 0; k < 2; k++) {
    const dim = h.readUInt32LE(k * 4) % HASHED;
    const sign = h[8 + k]! & 1 ? 1 : -1;
    v[dim]! += sign * weight;
  }
}

/** Audio measures scaled to about [-1, 1] around typical music values. */
function audioDims(a: AudioFeatures): number[] {
  const clamp = (x: number) => Math.max(-1, Math.min(1, Number.isFinite(x) ? x : 0));
  const bands = a.bandsDb.map((b) => clamp((b - a.rmsDb) / 20));
  return [
    clamp((a.loudnessLufs + 14) / 10),
    clamp((a.loudnessRangeLu - 8) / 8),
    clamp((a.crestDb - 12) / 8),
    clamp(a.zeroCrossingRate * 20 - 1),
    ...bands,
  ].slice(0, CONTENT_DIMENSIONS - HASHED);
}

export function contentVector(f: ContentFacts): Float32Array {
  const v = new Float32Array(CONTENT_DIMENSIONS);
  addToken(v, `artist:${f.artistId}`, 1);
  addToken(v, `album:${f.albumId}`, 0.6);
  for (const g of f.genres ?? []) addToken(v, `genre:${g.toLowerCase()}`, 0.5);
  if (f.audio) audioDims(f.audio).forEach((x, i) => (v[HASHED + i] = x * 0.5));
  // A track alone in its artist and album still gets a direction of its own.
  addToken(v, `track:${f.trackId}`, 0.05);
  return v;
}

/** The content index over `facts`; its version names what it covers, so an unchanged catalog keeps it. */
export function buildContentIndex(facts: readonly ContentFacts[]): VectorIndex {
  const vectors = new Float32Array(facts.length * CONTENT_DIMENSIONS);
  facts.forEach((f, i) => vectors.set(contentVector(f), i * CONTENT_DIMENSIONS));
  const version =
    'c-' +
    createHash('sha256')
      .update(
        JSON.stringify(facts.map((f) => [f.trackId, f.artistId, f.albumId, f.genres ?? [], f.audio ?? null])),
      )
      .digest('hex')
      .slice(0, 16);
  return buildIndex('content', version, {
    trackIds: facts.map((f) => f.trackId),
    artistIds: facts.map((f) => f.artistId),
    dimensions: CONTENT_DIMENSIONS,
    vectors,
  });
}
