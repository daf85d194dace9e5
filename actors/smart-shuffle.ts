/**
 * Smart shuffle: an order of a context in which tracks of the same artist are spread
 * evenly, instead of the clumps a plain Fisher-Yates shuffle produces.
 *
 * Each artist's tracks (in random order within the artist) get evenly spaced slots over
 * [0, 1): slot i of k is (offset + i) / k with a random offset per artist in [0, 1) and a
 * small jitter; the whole order is the tracks sorted by slot. An artist with k of n tracks
 * thus lands roughly every n/k positions. Seeded, so the same seed gives the same order.
 */

import { createPrng, shuffleInPlace } from './prng.ts';

export interface ShuffleTrack {
  artistId: string;
}

/** Fraction of one slot by which a track may move, so equal-size artists do not interleave in lockstep. */
const JITTER = 0.2;

/** Returns a permutation of `tracks` indices. */
export function smartShuffle(tracks: readonly ShuffleTrack[], seed: number): number[] {
  const random = createPrng(seed);
  const byArtist = new Map<string, number[]>();
  for (let i = 0; i < tracks.length; i++) {
    const artist = tracks[i]!.artistId;
    let list = byArtist.get(artist);
    if (!list) byArtist.set(artist, (list = []));
    list.push(i);
  }
  const slots: { index: number; slot: number }[] = [];
  for (const indices of byArtist.values()) {
    shuffleInPlace(indices, random);
    const k = indices.length;
    const offset = random();
    for (let i = 0; i < k; i++) {
      const jitter = (random() - 0.5) * JITTER;
      slots.push({ index: indices[i]!, slot: (offset + i + jitter) / k });
    }
  }
  slots.sort((a, b) => a.slot - b.slot || a.index - b.index);
  return slots.map((s) => s.index);
}

/**
 * Shuffle order that starts with `first` (the track playing when shuffle is turned on, or
 * the one the listener picked), followed by the smart order of the rest.
 */
export function smartShuffleFrom(
  tracks: readonly ShuffleTrack[],
  seed: number,
  first: number | null,
): number[] {
  const order = smartShuffle(tracks, seed);
  if (first === null || first < 0 || first >= tracks.length) return order;
  const at = order.indexOf(first);
  order.splice(at, 1);
  order.unshift(first);
  return order;
}
