/**
 * A synthetic world with planted tastes, for Discover Weekly's honest evaluation and tests:
 * listeners belong to communities; each community favours a set of artists (sets overlap:
 * an artist may be shared by two communities); track popularity is skewed (Zipf) inside each
 * artist's catalogue and across artists; a share of every listener's plays is noise (any
 * track, by global popularity); some plays are skips. Deterministic from the seed.
 * Weeks are ISO weeks; train on the first ones, test on the last (radio/recs-eval.ts).
 */
import { createPrng } from '../actors/prng.ts';
import type { Plan } from '../actors/types.ts';
import type { Play } from './discover-weekly.ts';

export interface TasteWorldOptions {
  seed?: number;
  users?: number;
  tracks?: number;
  artists?: number;
  communities?: number;
  /** Plays per listener per week (on average). */
  playsPerWeek?: number;
  /** Share of plays that ignore the listener's community. */
  noise?: number;
  /** Monday 00:00 UTC of the first week. */
  start: number;
  weeks?: number;
}

export interface WorldTrack {
  id: string;
  artistId: string;
  albumId: string;
  /** Community whose artists include this track's artist first. */
  community: number;
  /** Countries where it is blocked (rights), for the playable rule. */
  blockedIn: string[];
}

export interface WorldUser {
  id: string;
  country: string;
  plan: Plan;
  community: number;
}

export interface TasteWorld {
  users: WorldUser[];
  tracks: WorldTrack[];
  /** In time order. */
  plays: Play[];
  start: number;
  weeks: number;
}

export const WORLD_COUNTRIES = ['SE', 'US', 'DE', 'BR', 'JP'];
const WEEK_MS = 7 * 86_400_000;

export function generateTasteWorld(o: TasteWorldOptions): TasteWorld {
  const rnd = createPrng(o.seed ?? 1);
  const nUsers = o.users ?? 500;
  const nTracks = o.tracks ?? 1000;
  const nArtists = o.artists ?? Math.max(4, Math.floor(nTracks / 10));
  const nComm = o.communities ?? 10;
  const weeks = o.weeks ?? 4;
  const noise = o.noise ?? 0.15;
  const perWeek = o.playsPerWeek ?? 12;

  // Artists: a home community, and a second one for a third of them (overlapping tastes).
  const artistComms: number[][] = [];
  for (let a = 0; a < nArtists; a++) {
    const home = a % nComm;
    artistComms.push(rnd() < 0.33 ? [home, Math.floor(rnd() * nComm)] : [home]);
  }
  // Artist weight: Zipf over artists; track weight: Zipf inside the artist.
  const tracks: WorldTrack[] = [];
  const weight: number[] = [];
  const perArtist = new Map<number, number>();
  for (let i = 0; i < nTracks; i++) {
    const a = i % nArtists;
    const k = perArtist.get(a) ?? 0;
    perArtist.set(a, k + 1);
    const blockedIn = rnd() < 0.03 ? [WORLD_COUNTRIES[Math.floor(rnd() * WORLD_COUNTRIES.length)]!] : [];
    tracks.push({
      id: `w${i}`,
      artistId: `wa${a}`,
      albumId: `wal${a}-${Math.floor(k / 10)}`,
      community: artistComms[a]![0]!,
      blockedIn,
    });
    weight.push(1 / (1 + Math.floor(a / nComm)) ** 0.8 / (1 + k) ** 0.9);
  }
  // Cumulative weights, per community and overall, for sampling.
  const sampler = (ids: number[]) => {
    const cum: number[] = [];
    let s = 0;
    for (const i of ids) cum.push((s += weight[i]!));
    return () => {
      const x = rnd() * s;
      let lo = 0;
      let hi = cum.length - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      return ids[lo]!;
    };
  };
  const byComm = Array.from({ length: nComm }, (_, c) =>
    sampler(
      tracks
        .map((t, i) => ({ t, i }))
        .filter(({ t }) => artistComms[Number(t.artistId.slice(2))]!.includes(c))
        .map(({ i }) => i),
    ),
  );
  const anyTrack = sampler(tracks.map((_, i) => i));

  const users: WorldUser[] = [];
  const plays: Play[] = [];
  for (let u = 0; u < nUsers; u++) {
    const user: WorldUser = {
      id: `wu${u}`,
      country: WORLD_COUNTRIES[Math.floor(rnd() * WORLD_COUNTRIES.length)]!,
      plan: rnd() < 0.4 ? 'free' : 'premium',
      community: Math.floor(rnd() * nComm),
    };
    users.push(user);
    for (let w = 0; w < weeks; w++) {
      const n = Math.max(1, Math.round(perWeek * (0.5 + rnd())));
      for (let p = 0; p < n; p++) {
        const ti = rnd() < noise ? anyTrack() : byComm[user.community]!();
        const t = tracks[ti]!;
        if (t.blockedIn.includes(user.country)) continue;
        const skip = rnd() < 0.2;
        plays.push({
          userId: user.id,
          trackId: t.id,
          ts: o.start + w * WEEK_MS + Math.floor(rnd() * (WEEK_MS - 600_000)),
          msPlayed: skip ? Math.floor(rnd() * 29_000) : 30_000 + Math.floor(rnd() * 200_000),
          country: user.country,
        });
      }
    }
  }
  plays.sort((a, b) => a.ts - b.ts || (a.userId < b.userId ? -1 : 1));
  return { users, tracks, plays, start: o.start, weeks };
}
