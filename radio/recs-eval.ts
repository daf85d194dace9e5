/**
 * Honest evaluation of Discover Weekly on a world with planted tastes (the month generator's,
 * pipeline/jobs/generate-month.ts, handed in by the caller): train on the plays before the
 * test week, test on that week's streams of tracks the listener had not played before. Reports
 * precision@10, NDCG@10 and recall@30 of the playlists beside a popularity baseline (the
 * most streamed tracks they have not played, under the same rules) and random picks, all in
 * the same run.
 */
import { createPrng } from '../actors/prng.ts';
import {
  buildInteractions,
  DEFAULT_ALS,
  MAX_PER_ARTIST,
  PLAYLIST_LENGTH,
  STREAM_MS,
  trainAls,
  weeklyPlaylists,
  type AlsParams,
  type Interactions,
  type Play,
  type TrainResult,
} from './discover-weekly.ts';

/** What the evaluation reads of a generated world. */
export interface EvalWorld {
  users: readonly { id: string; country: string }[];
  tracks: readonly { id: string; artistId: string; blockedIn: readonly string[] }[];
  /** In time order. */
  plays: readonly Play[];
}

const WEEK_MS = 7 * 86_400_000;

export interface RankingScores {
  precisionAt10: number;
  ndcgAt10: number;
  recallAt30: number;
}

export interface RecsEvaluation {
  users: number;
  testUsers: number;
  dw: RankingScores;
  popularity: RankingScores;
  random: RankingScores;
  trainSeconds: number;
  data: Interactions;
  train: TrainResult;
  playlists: string[][];
}

function score(lists: string[][], truth: Set<string>[]): RankingScores {
  let p = 0;
  let n = 0;
  let r = 0;
  let users = 0;
  lists.forEach((list, u) => {
    const t = truth[u]!;
    if (t.size === 0) return;
    users++;
    const top10 = list.slice(0, 10);
    const hits10 = top10.filter((x) => t.has(x)).length;
    p += hits10 / 10;
    let dcg = 0;
    top10.forEach((x, i) => (dcg += t.has(x) ? 1 / Math.log2(i + 2) : 0));
    let idcg = 0;
    for (let i = 0; i < Math.min(10, t.size); i++) idcg += 1 / Math.log2(i + 2);
    n += dcg / idcg;
    r += list.slice(0, 30).filter((x) => t.has(x)).length / t.size;
  });
  const d = Math.max(1, users);
  return { precisionAt10: p / d, ndcgAt10: n / d, recallAt30: r / d };
}

export async function evaluateWorld(
  python: string,
  world: EvalWorld,
  /** Monday 00:00 UTC of the test week (radio/discover-weekly.ts `isoWeek`). */
  testStart: number,
  params: AlsParams = DEFAULT_ALS,
): Promise<RecsEvaluation> {
  const testEnd = testStart + WEEK_MS;
  const data = buildInteractions(world.plays.filter((p) => p.ts < testStart));
  const train = await trainAls(python, data, params);
  const trackById = new Map(world.tracks.map((t) => [t.id, t]));
  const userById = new Map(world.users.map((u) => [u.id, u]));
  const artistOf = (t: string) => trackById.get(t)?.artistId;
  const playable = (u: number, t: string) =>
    !trackById.get(t)!.blockedIn.includes(userById.get(data.users[u]!)!.country);
  const playlists = weeklyPlaylists(data, train, { artistOf, playable }, params.candidates);

  // Truth: last week's streams of tracks new to the listener.
  const userIndex = new Map(data.users.map((u, i) => [u, i]));
  const truth = data.users.map(() => new Set<string>());
  for (const p of world.plays) {
    if (p.ts < testStart || p.ts >= testEnd || p.msPlayed < STREAM_MS) continue;
    const u = userIndex.get(p.userId);
    if (u === undefined) continue;
    const ii = data.items.indexOf(p.trackId);
    if (ii >= 0 && data.played[u]!.has(ii)) continue;
    truth[u]!.add(p.trackId);
  }

  // Baselines under the same rules (never played, playable, at most 2 per artist).
  const streams = new Map<string, number>();
  for (const p of world.plays)
    if (p.ts < testStart && p.msPlayed >= STREAM_MS)
      streams.set(p.trackId, (streams.get(p.trackId) ?? 0) + 1);
  const byPopularity = world.tracks
    .map((t) => t.id)
    .sort((a, b) => (streams.get(b) ?? 0) - (streams.get(a) ?? 0) || (a < b ? -1 : 1));
  const rnd = createPrng(99);
  const pick = (u: number, order: string[]) => {
    const out: string[] = [];
    const per = new Map<string, number>();
    const playedIds = new Set([...data.played[u]!].map((ii) => data.items[ii]!));
    for (const t of order) {
      if (out.length >= PLAYLIST_LENGTH) break;
      const a = artistOf(t)!;
      if (playedIds.has(t) || (per.get(a) ?? 0) >= MAX_PER_ARTIST || !playable(u, t)) continue;
      per.set(a, (per.get(a) ?? 0) + 1);
      out.push(t);
    }
    return out;
  };
  const popularity = data.users.map((_, u) => pick(u, byPopularity));
  const random = data.users.map((_, u) => {
    const order = world.tracks.map((t) => t.id);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return pick(u, order);
  });
  return {
    users: data.users.length,
    testUsers: truth.filter((t) => t.size > 0).length,
    dw: score(playlists, truth),
    popularity: score(popularity, truth),
    random: score(random, truth),
    trainSeconds: train.trainSeconds,
    data,
    train,
    playlists,
  };
}
