/**
 * Synthetic month of listening, deterministic from a seed: ordinary listeners in sessions
 * (plays under and over 30 s, skips, plays on blocked tracks, free and premium, several
 * territories), a few fraud-like listeners (round the clock, one track on loop, streams just
 * past 30 s, never a skip), and duplicate events re-sent later in the stream (same event ids).
 * Used by tests (reference computations) and by `npm run job -- generate` to demo the jobs.
 */
import type { EndReason, ListeningEvent } from '../../actors/types.ts';
import { createPrng } from '../../actors/prng.ts';

export interface GenerateOptions {
  /** `YYYY-MM` (UTC). */
  month: string;
  seed?: number;
  users?: number;
  tracks?: number;
  artists?: number;
  /** Average plays per ordinary user over the month. */
  playsPerUser?: number;
  /** Share of events sent a second (or third) time. */
  duplicateRate?: number;
  /** Share of tracks blocked in every territory. */
  blockedRate?: number;
  /** Fraud-like users of each kind. */
  fraudUsersPerKind?: number;
}

export type FraudKind = 'round_the_clock' | 'loop' | 'just_past_30s';

export interface GeneratedMonth {
  month: string;
  /** In publish order, duplicates included. */
  events: ListeningEvent[];
  trackArtist: Map<string, string>;
  blockedTracks: Set<string>;
  fraudUsers: Map<string, FraudKind>;
  /** Distinct plays generated. */
  plays: number;
}

const COUNTRIES = ['SE', 'US', 'DE', 'BR', 'JP'];
const HOUR = 3600_000;

export function generateMonth(opts: GenerateOptions): GeneratedMonth {
  const rnd = createPrng(opts.seed ?? 1); // the shuffle's seeded mulberry32
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const [y, m] = opts.month.split('-').map(Number) as [number, number];
  const start = Date.UTC(y, m - 1, 1);
  const end = Date.UTC(y, m, 1);
  const nTracks = opts.tracks ?? 200;
  const nArtists = opts.artists ?? 40;
  const trackArtist = new Map<string, string>();
  for (let i = 0; i < nTracks; i++) trackArtist.set(`trk${i}`, `art${i % nArtists}`);
  const tracks = [...trackArtist.keys()];
  const blockedTracks = new Set(tracks.filter(() => rnd() < (opts.blockedRate ?? 0.03)));
  const playable = tracks.filter((t) => !blockedTracks.has(t));
  const events: ListeningEvent[] = [];
  const fraudUsers = new Map<string, FraudKind>();
  let plays = 0;

  const emitPlay = (
    user: string,
    country: string,
    product: 'free' | 'premium',
    track: string,
    at: number,
    ms: number,
    reason: EndReason,
  ) => {
    const play_id = `${user}-p${++plays}`;
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
  };

  const nUsers = opts.users ?? 50;
  const perUser = opts.playsPerUser ?? 40;
  for (let u = 0; u < nUsers; u++) {
    const user = `usr${u}`;
    const country = pick(COUNTRIES);
    const product = rnd() < 0.4 ? 'free' : 'premium';
    let left = Math.max(1, Math.round(perUser * (0.5 + rnd())));
    while (left > 0) {
      // A session: a few consecutive plays starting at a random time of the month.
      let at = start + Math.floor(rnd() * (end - start - 6 * HOUR));
      const len = Math.min(left, 1 + Math.floor(rnd() * 8));
      for (let i = 0; i < len; i++) {
        const blocked = rnd() < 0.04 && blockedTracks.size > 0;
        const track = blocked ? pick([...blockedTracks]) : pick(playable);
        const r = rnd();
        const ms = blocked
          ? 0
          : r < 0.25
            ? Math.floor(rnd() * 29_999)
            : r < 0.3
              ? 30_000
              : 30_001 + Math.floor(rnd() * 240_000);
        const reason: EndReason = blocked ? 'blocked' : ms < 30_000 || rnd() < 0.1 ? 'skip' : 'trackdone';
        emitPlay(user, country, product, track, at, ms, reason);
        at += ms + 1_000;
      }
      left -= len;
    }
  }

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
  return { month: opts.month, events: out, trackArtist, blockedTracks, fraudUsers, plays };
}
