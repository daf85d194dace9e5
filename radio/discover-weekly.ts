/**
 * Discover Weekly: per listener, 30 tracks they never played, at most 2 per artist, playable
 * in their country, from an implicit-feedback ALS model of everyone's listening.
 *
 * TypeScript holds the data and the rules; Python does the math (radio/als/train.py, in the
 * launcher's venv): this module turns plays into (user, item, weight) triples, writes them as
 * plain arrays, runs the trainer, and reads back the item factors (the radio's learned index)
 * and each listener's best unplayed items, which the rules below cut to the playlist.
 *
 * Weight of a play: 1 when it reached 30 s (a stream), else `SKIP_WEIGHT` x its share of
 * 30 s: a skip says little, and a quick skip less.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { buildIndex, type PopularTracks, type VectorIndex } from './vector-index.ts';

const run = promisify(execFile);

export const PLAYLIST_LENGTH = 30;
export const MAX_PER_ARTIST = 2;
export const STREAM_MS = 30_000;
const SKIP_WEIGHT = 0.1;
/** Most played tracks kept per country in the index (cold-start answers of the radio). */
const POPULAR_PER_COUNTRY = 200;

export interface Play {
  userId: string;
  trackId: string;
  ts: number;
  msPlayed: number;
  country: string;
}

export interface AlsParams {
  factors: number;
  iterations: number;
  regularization: number;
  alpha: number;
  seed: number;
  /** Best unplayed items returned per listener, before the rules. */
  candidates: number;
}

export const DEFAULT_ALS: AlsParams = {
  factors: 64,
  iterations: 10,
  regularization: 0.05,
  alpha: 20,
  seed: 7,
  candidates: 200,
};

export class DiscoverWeeklyError extends Error {
  constructor(
    readonly code: 'bad_request' | 'no_history' | 'trainer_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DiscoverWeeklyError';
  }
}

/** `2026-W49` -> its Monday 00:00 UTC and the next Monday (ISO 8601 weeks). */
export function isoWeek(week: string): { start: number; end: number } {
  const m = /^(\d{4})-W(\d{2})$/.exec(week);
  if (!m)
    throw new DiscoverWeeklyError('bad_request', `--week: expected YYYY-Www (e.g. 2026-W49), got '${week}'`);
  const [year, n] = [Number(m[1]), Number(m[2])];
  // Week 1 holds January 4th; its Monday starts the ISO year.
  const jan4 = Date.UTC(year, 0, 4);
  const monday1 = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * 86_400_000;
  const start = monday1 + (n - 1) * 7 * 86_400_000;
  const weeksInYear = isoWeekOf(Date.UTC(year, 11, 28)).week;
  if (n < 1 || n > weeksInYear)
    throw new DiscoverWeeklyError('bad_request', `--week: ${year} has no week ${n}`);
  return { start, end: start + 7 * 86_400_000 };
}

/** The ISO week of an instant. */
export function isoWeekOf(ts: number): { year: number; week: number; label: string } {
  const d = new Date(ts);
  const day = (d.getUTCDay() + 6) % 7;
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return { year, week, label: `${year}-W${String(week).padStart(2, '0')}` };
}

export interface Interactions {
  users: string[];
  items: string[];
  rows: Int32Array;
  cols: Int32Array;
  weights: Float32Array;
  /** Items each listener played (any length), by user index. */
  played: Set<number>[];
  /** Listener's country: the one of their latest play. */
  countryOf: string[];
  /** Streams per country per item, for the popular lists. */
  streams: Map<string, Map<number, number>>;
}

export const playWeight = (msPlayed: number) =>
  msPlayed >= STREAM_MS ? 1 : SKIP_WEIGHT * Math.max(0, msPlayed / STREAM_MS);

/** Aggregates plays into one weight per (listener, track), ids sorted so the run is repeatable. */
export function buildInteractions(plays: Iterable<Play>): Interactions {
  const byPair = new Map<string, Map<string, number>>();
  const latest = new Map<string, { ts: number; country: string }>();
  const streamsByCountry = new Map<string, Map<string, number>>();
  for (const p of plays) {
    let row = byPair.get(p.userId);
    if (!row) byPair.set(p.userId, (row = new Map()));
    row.set(p.trackId, (row.get(p.trackId) ?? 0) + playWeight(p.msPlayed));
    const l = latest.get(p.userId);
    if (!l || p.ts >= l.ts) latest.set(p.userId, { ts: p.ts, country: p.country });
    if (p.msPlayed >= STREAM_MS) {
      let c = streamsByCountry.get(p.country);
      if (!c) streamsByCountry.set(p.country, (c = new Map()));
      c.set(p.trackId, (c.get(p.trackId) ?? 0) + 1);
    }
  }
  const users = [...byPair.keys()].sort();
  const itemSet = new Set<string>();
  for (const row of byPair.values()) for (const t of row.keys()) itemSet.add(t);
  const items = [...itemSet].sort();
  const itemIndex = new Map(items.map((t, i) => [t, i]));
  const n = [...byPair.values()].reduce((s, r) => s + r.size, 0);
  const rows = new Int32Array(n);
  const cols = new Int32Array(n);
  const weights = new Float32Array(n);
  const played: Set<number>[] = [];
  let k = 0;
  users.forEach((u, ui) => {
    const set = new Set<number>();
    for (const [t, w] of [...byPair.get(u)!.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const ii = itemIndex.get(t)!;
      rows[k] = ui;
      cols[k] = ii;
      weights[k++] = w;
      set.add(ii);
    }
    played.push(set);
  });
  const streams = new Map<string, Map<number, number>>();
  for (const [c, m] of streamsByCountry)
    streams.set(c, new Map([...m].map(([t, s]) => [itemIndex.get(t)!, s])));
  return {
    users,
    items,
    rows,
    cols,
    weights,
    played,
    countryOf: users.map((u) => latest.get(u)!.country),
    streams,
  };
}

export interface TrainResult {
  itemFactors: Float32Array;
  factors: number;
  /** users x candidates item indices, best first; -1 pads. */
  candidates: Int32Array;
  trainSeconds: number;
}

/** Runs radio/als/train.py with `python` (the launcher's venv) on the interactions. */
export async function trainAls(
  python: string,
  data: Interactions,
  params: AlsParams = DEFAULT_ALS,
): Promise<TrainResult> {
  if (data.users.length === 0 || data.items.length === 0)
    throw new DiscoverWeeklyError('no_history', 'no plays in the training weeks: nothing to learn from');
  const dir = mkdtempSync(join(tmpdir(), 'als-'));
  try {
    const le = (a: Int32Array | Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    writeFileSync(
      join(dir, 'params.json'),
      JSON.stringify({ ...params, users: data.users.length, items: data.items.length }),
    );
    writeFileSync(join(dir, 'rows.i32'), le(data.rows));
    writeFileSync(join(dir, 'cols.i32'), le(data.cols));
    writeFileSync(join(dir, 'weights.f32'), le(data.weights));
    const script = new URL('./als/train.py', import.meta.url).pathname;
    try {
      await run(python, [script, dir], {
        env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string; code?: string };
      const hint =
        e.code === 'ENOENT'
          ? ` (no Python at ${python}: \`npm run infra -- up python\` creates the venv)`
          : '';
      throw new DiscoverWeeklyError(
        'trainer_failed',
        `ALS trainer failed${hint}: ${(e.stderr ?? e.message).trim().slice(-800)}`,
        { cause: err },
      );
    }
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as {
      train_seconds: number;
      factors: number;
    };
    const f32 = (name: string) => {
      const b = readFileSync(join(dir, name));
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const i32 = (name: string) => {
      const b = readFileSync(join(dir, name));
      return new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const itemFactors = f32('item_factors.f32');
    const candidates = i32('candidates.i32');
    if (
      itemFactors.length !== data.items.length * result.factors ||
      candidates.length !== data.users.length * params.candidates
    )
      throw new DiscoverWeeklyError('trainer_failed', 'ALS trainer wrote arrays of the wrong size');
    return { itemFactors, factors: result.factors, candidates, trainSeconds: result.train_seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PlaylistRules {
  artistOf(trackId: string): string | undefined;
  /** May this listener (country, plan as stored) play the track at the week's start? */
  playable(userIndex: number, trackId: string): boolean;
}

/**
 * Each listener's playlist: their candidates in model order, never played, playable, at most
 * MAX_PER_ARTIST per artist; topped up from their country's most streamed tracks (then
 * everyone's) under the same rules when the model's candidates run short.
 */
export function weeklyPlaylists(
  data: Interactions,
  train: TrainResult,
  rules: PlaylistRules,
  perUserCandidates: number,
): string[][] {
  const popularAll = popularOrder(data, undefined);
  const popularBy = new Map<string, number[]>();
  return data.users.map((_, u) => {
    const out: string[] = [];
    const perArtist = new Map<string, number>();
    const taken = new Set<number>();
    const consider = (ii: number) => {
      if (ii < 0 || out.length >= PLAYLIST_LENGTH || taken.has(ii) || data.played[u]!.has(ii)) return;
      const t = data.items[ii]!;
      const artist = rules.artistOf(t);
      if (artist === undefined || (perArtist.get(artist) ?? 0) >= MAX_PER_ARTIST || !rules.playable(u, t))
        return;
      taken.add(ii);
      perArtist.set(artist, (perArtist.get(artist) ?? 0) + 1);
      out.push(t);
    };
    for (let k = 0; k < perUserCandidates; k++) consider(train.candidates[u * perUserCandidates + k]!);
    const country = data.countryOf[u]!;
    if (out.length < PLAYLIST_LENGTH) {
      let pop = popularBy.get(country);
      if (!pop) popularBy.set(country, (pop = popularOrder(data, country)));
      for (const ii of pop) consider(ii);
      for (const ii of popularAll) consider(ii);
    }
    return out;
  });
}

/** Item indices by streams (in a country, or everywhere), most first, ties by index. */
function popularOrder(data: Interactions, country: string | undefined): number[] {
  const counts = new Map<number, number>();
  for (const [c, m] of data.streams) {
    if (country !== undefined && c !== country) continue;
    for (const [ii, s] of m) counts.set(ii, (counts.get(ii) ?? 0) + s);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([ii]) => ii);
}

/** The learned index: item factors, with each country's most streamed tracks for cold starts. */
export function learnedIndex(
  week: string,
  data: Interactions,
  train: TrainResult,
  artistOf: (t: string) => string | undefined,
): VectorIndex {
  const keep = data.items.map((t, i) => ({ t, i, a: artistOf(t) })).filter((x) => x.a !== undefined);
  const vectors = new Float32Array(keep.length * train.factors);
  keep.forEach((x, k) =>
    vectors.set(
      train.itemFactors.subarray(x.i * train.factors, (x.i + 1) * train.factors),
      k * train.factors,
    ),
  );
  const popular: PopularTracks = {};
  const entry = (ii: number) => ({ trackId: data.items[ii]!, artistId: artistOf(data.items[ii]!)! });
  for (const c of data.streams.keys())
    popular[c] = popularOrder(data, c)
      .filter((ii) => artistOf(data.items[ii]!) !== undefined)
      .slice(0, POPULAR_PER_COUNTRY)
      .map(entry);
  popular['*'] = popularOrder(data, undefined)
    .filter((ii) => artistOf(data.items[ii]!) !== undefined)
    .slice(0, POPULAR_PER_COUNTRY)
    .map(entry);
  const digest = createHash('sha256').update(Buffer.from(vectors.buffer)).digest('hex').slice(0, 8);
  return buildIndex(
    'learned',
    `als-${week}-${digest}`,
    { trackIds: keep.map((x) => x.t), artistIds: keep.map((x) => x.a!), dimensions: train.factors, vectors },
    popular,
  );
}
