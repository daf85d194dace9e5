/**
 * Synthetic month of listening with planted tastes, deterministic from a seed. One world for
 * every job: the royalty jobs (reconcile, payouts, fraud) and Discover Weekly's training and
 * honest evaluation (radio/recs-eval.ts).
 *
 * - Ordinary listeners in sessions (plays under and over 30 s, skips, plays on blocked
 *   tracks, free and premium, several territories). Each belongs to a community; each
 *   community favours a set of artists, and a third of the artists are shared by two
 *   communities (overlapping tastes). Popularity is skewed (Zipf across artists and within
 *   each artist's catalogue); a share of every listener's plays is noise (any track, by
 *   global popularity).
 * - Rights: some tracks blocked in every territory, some in one country (a play there ends
 *   `blocked`).
 * - A few fraud-like listeners (round the clock, one track on loop, streams just past 30 s,
 *   never a skip), and duplicate events re-sent later in the stream (same event ids).
 * Used by tests (reference computations), the recs benchmark and `npm run job -- generate`,
 * which also writes the world's catalog and listeners into the stores (app/generated-catalog.ts).
 */
import type { EndReason, ListeningEvent, Plan } from '../../actors/types.ts';
import { createPrng } from '../../actors/prng.ts';

export interface GenerateOptions {
  /** `YYYY-MM` (UTC). */
  month: string;
  seed?: number;
  users?: number;
  tracks?: number;
  artists?: number;
  /** Taste communities among ordinary listeners. */
  communities?: number;
  /** Share of an ordinary listener's plays that ignore their community. */
  noise?: number;
  /** Average plays per ordinary user over the month. */
  playsPerUser?: number;
  /** Share of events sent a second (or third) time. */
  duplicateRate?: number;
  /** Share of tracks blocked in every territory. */
  blockedRate?: number;
  /** Share of tracks blocked in one country. */
  blockedInCountryRate?: number;
  /** Fraud-like users of each kind. */
  fraudUsersPerKind?: number;
}

export type FraudKind = 'round_the_clock' | 'loop' | 'just_past_30s';

export interface GeneratedTrack {
  id: string;
  artistId: string;
  albumId: string;
  /** The home community of its artist. */
  community: number;
  /** Countries where it is blocked; every country for the tracks in `blockedTracks`. */
  blockedIn: string[];
}

export interface GeneratedUser {
  id: string;
  country: string;
  plan: Plan;
  community: number;
}

/** One distinct play as its `play.end` event says it; `ts` is the end. */
export interface GeneratedPlay {
  userId: string;
  trackId: string;
  ts: number;
  msPlayed: number;
  country: string;
}

export interface GeneratedMonth {
  month: string;
  /** In publish order, duplicates included. */
  events: ListeningEvent[];
  /** Distinct plays, in time order (fraud-like listeners included). */
  plays: GeneratedPlay[];
  tracks: GeneratedTrack[];
  /** Ordinary listeners (fraud-like ones are in `fraudUsers`). */
  users: GeneratedUser[];
  trackArtist: Map<string, string>;
  blockedTracks: Set<string>;
  fraudUsers: Map<string, FraudKind>;
}

export const COUNTRIES = ['SE', 'US', 'DE', 'BR', 'JP'];
const HOUR = 3600_000;

export function generateMonth(opts: GenerateOptions): GeneratedMonth {
  const rnd = createPrng(opts.seed ?? 1); // the shuffle's seeded mulberry32
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const [y, m] = opts.month.split('-').map(Number) as [number, number];
  const start = Date.UTC(y, m - 1, 1);
  const end = Date.UTC(y, m, 1);
  const nTracks = opts.tracks ?? 200;
  const nArtists = opts.artists ?? 40;
  const nComm = Math.max(1, opts.communities ?? 8);
  const noise = opts.noise ?? 0.15;

  // Artists: a home community, and a second one for a third of them (overlapping tastes).
  const artistComms: number[][] = [];
  for (let a = 0; a < nArtists; a++) {
    const home = a % nComm;
    artistComms.push(rnd() < 0.33 ? [home, Math.floor(rnd() * nComm)] : [home]);
  }
  const tracks: GeneratedTrack[] = [];
  // Zipf over artists (the first of each community most popular) and inside each catalogue.
  const weight: number[] = [];
  const perArtist = new Map<number, number>();
  const blockedTracks = new Set<string>();
  for (let i = 0; i < nTracks; i++) {
    const a = i % nArtists;
    const k = perArtist.get(a) ?? 0;
    perArtist.set(a, k + 1);
    const id = `trk${i}`;
    let blockedIn: string[] = [];
    if (rnd() < (opts.blockedRate ?? 0.03)) {
      blockedTracks.add(id);
      blockedIn = [...COUNTRIES];
    } else if (rnd() < (opts.blockedInCountryRate ?? 0.03)) blockedIn = [pick(COUNTRIES)];
    tracks.push({
      id,
      artistId: `art${a}`,
      albumId: `alb${a}-${Math.floor(k / 10)}`,
      community: artistComms[a]![0]!,
      blockedIn,
    });
    weight.push(1 / (1 + Math.floor(a / nComm)) ** 0.8 / (1 + k) ** 0.9);
  }
  const trackArtist = new Map(tracks.map((t) => [t.id, t.artistId]));
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
      return tracks[ids[lo]!]!.id;
    };
  };
  const open = tracks.map((t, i) => ({ t, i })).filter(({ t }) => !blockedTracks.has(t.id));
  const anyTrack = sampler(open.map(({ i }) => i));
  const byComm = Array.from({ length: nComm }, (_, c) => {
    const ids = open.filter(({ i }) => artistComms[i % nArtists]!.includes(c)).map(({ i }) => i);
    return ids.length ? sampler(ids) : anyTrack;
  });
  const blockedIn = new Map(tracks.map((t) => [t.id, t.blockedIn]));
  const events: ListeningEvent[] = [];
  const plays: GeneratedPlay[] = [];
  const fraudUsers = new Map<string, FraudKind>();
  let playN = 0;

  const emitPlay = (
    user: string,
    country: string,
    product: Plan,
    track: string,
    at: number,
    ms: number,
    reason: EndReason,
  ) => {
    const play_id = `${user}-p${++playN}`;
    const base = {
      play_id,
      user,
      track,
      artist: trackArtist.get(track)!,
      context: `ctx:${user}`,
      country,
      product,
      device: `${user}-dev`,
    };
    events.push({ ...base, event_id: `${play_id}:start`, type: 'play.start', ts: at, ms_played: 0 });
    if (ms >= 30_000 && reason !== 'blocked') {
      events.push({
        ...base,
        event_id: `${play_id}:progress30`,
        type: 'play.progress',
        ts: at + 30_000,
        ms_played: 30_000,
      });
    }
    events.push({
      ...base,
      event_id: `${play_id}:end`,
      type: 'play.end',
      ts: at + ms,
      ms_played: ms,
      reason,
    });
    plays.push({ userId: user, trackId: track, ts: at + ms, msPlayed: ms, country });
  };

  const users: GeneratedUser[] = [];
  const nUsers = opts.users ?? 50;
  const perUser = opts.playsPerUser ?? 40;
  for (let u = 0; u < nUsers; u++) {
    const user: GeneratedUser = {
      id: `usr${u}`,
      country: pick(COUNTRIES),
      plan: rnd() < 0.4 ? 'free' : 'premium',
      community: Math.floor(rnd() * nComm),
    };
    users.push(user);
    let left = Math.max(1, Math.round(perUser * (0.5 + rnd())));
    while (left > 0) {
      // A session: a few consecutive plays starting at a random time of the month.
      let at = start + Math.floor(rnd() * (end - start - 6 * HOUR));
      const len = Math.min(left, 1 + Math.floor(rnd() * 8));
      for (let i = 0; i < len; i++) {
        const track =
          rnd() < 0.04 && blockedTracks.size > 0
            ? pick([...blockedTracks])
            : rnd() < noise
              ? anyTrack()
              : byComm[user.community]!();
        const blocked = blockedIn.get(track)!.includes(user.country);
        const r = rnd();
        const ms = blocked
          ? 0
          : r < 0.25
            ? Math.floor(rnd() * 29_999)
            : r < 0.3
              ? 30_000
              : 30_001 + Math.floor(rnd() * 240_000);
        const reason: EndReason = blocked ? 'blocked' : ms < 30_000 || rnd() < 0.1 ? 'skip' : 'trackdone';
        emitPlay(user.id, user.country, user.plan, track, at, ms, reason);
        at += ms + 1_000;
      }
      left -= len;
    }
  }

  const playable = open.map(({ t }) => t.id);
  const fraudN = opts.fraudUsersPerKind ?? 1;
  for (let f = 0; f < fraudN; f++) {
    const clock = `bot-clock${f}`;
    fraudUsers.set(clock, 'round_the_clock');
    // Every hour of every day, one full play.
    for (let at = start; at + 200_000 < end; at += HOUR)
      emitPlay(clock, 'US', 'premium', pick(playable), at, 180_000, 'trackdone');
    const loop = `bot-loop${f}`;
    fraudUsers.set(loop, 'loop');
    const song = playable[f % playable.length]!;
    let at = start + 3 * HOUR;
    for (let i = 0; i < 200; i++, at += 200_000 + (i % 24 === 0 ? 20 * HOUR : 0))
      emitPlay(loop, 'SE', 'free', song, at, 190_000, 'trackdone');
    const past = `bot-past30${f}`;
    fraudUsers.set(past, 'just_past_30s');
    at = start + 5 * HOUR;
    for (let i = 0; i < 150; i++, at += 40_000 + (i % 30 === 0 ? 22 * HOUR : 0)) {
      emitPlay(past, 'DE', 'premium', pick(playable), at, 30_000 + Math.floor(rnd() * 1_500), 'skip');
    }
  }

  // Duplicates: re-send some events later in the stream, as client retries would.
  const dupRate = opts.duplicateRate ?? 0.1;
  const out: ListeningEvent[] = [];
  const later: { at: number; e: ListeningEvent }[] = [];
  events.forEach((e, i) => {
    out.push(e);
    if (rnd() < dupRate) later.push({ at: i + 1 + Math.floor(rnd() * 50), e });
    while (later.length && later[0]!.at <= i) out.push(later.shift()!.e);
    later.sort((a, b) => a.at - b.at);
  });
  for (const l of later) out.push(l.e);
  plays.sort((a, b) => a.ts - b.ts || (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0));
  return { month: opts.month, events: out, plays, tracks, users, trackArtist, blockedTracks, fraudUsers };
}
