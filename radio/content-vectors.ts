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

/**
 * The content index over `facts`, plus every track of `base` (the index in force) that
 * `facts` do not name, its vector kept as published: a new release's vector is added without
 * measuring the rest of the catalog again. Its version names what it covers, so an unchanged
 * catalog keeps it.
 */
export function buildContentIndex(facts: readonly ContentFacts[], base?: VectorIndex): VectorIndex {
  const named = new Set(facts.map((f) => f.trackId));
  // A base of another shape (an older format) is not mixed in: its tracks get new vectors.
  const kept =
    base && base.set.dimensions === CONTENT_DIMENSIONS
      ? base.set.trackIds.filter((id) => !named.has(id))
      : [];
  const trackIds = [...kept, ...facts.map((f) => f.trackId)];
  const vectors = new Float32Array(trackIds.length * CONTENT_DIMENSIONS);
  kept.forEach((id, i) => vectors.set(base!.vectorOf(id)!, i * CONTENT_DIMENSIONS));
  facts.forEach((f, i) => vectors.set(contentVector(f), (kept.length + i) * CONTENT_DIMENSIONS));
  const described = facts.map((f) => [f.trackId, f.artistId, f.albumId, f.genres ?? [], f.audio ?? null]);
  const version =
    'c-' +
    createHash('sha256')
      // Without a base (or nothing kept of it), the same facts name the same version as ever.
      .update(JSON.stringify(kept.length ? [base!.meta.version, kept, described] : described))
      .digest('hex')
      .slice(0, 16);
  return buildIndex('content', version, {
    trackIds,
    artistIds: [...kept.map((id) => base!.artistOf(id)!), ...facts.map((f) => f.artistId)],
    dimensions: CONTENT_DIMENSIONS,
    vectors,
  });
}
