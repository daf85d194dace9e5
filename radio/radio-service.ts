/**
 * The radio (autoplay) service: given what a session played and is about to finish, the next
 * tracks to keep the music going. One answer:
 * 1. seeds: the end of the context (the request) and the listener's last plays (history);
 * 2. a query vector, the mean of the seeds' vectors, searched in the learned index (ALS item
 *    factors) when a seed is in it, else in the content index (tracks too new for the model);
 * 3. then the most played tracks of the listener's country, then of everywhere, so a listener
 *    with no seeds at all (cold start) still gets music;
 * 4. the rules of answer-rules.ts over that ranking: playable now for this listener
 *    (actors/entitlement.ts on the catalog's rights), not excluded (context, queue, what
 *    autoplay gave this session: the request's `exclude`), not in the last 50 plays, once
 *    each, artists spaced.
 * Reads go through the catalog and history ports; the playability facts of a track in a
 * country are cached briefly (RIGHTS_CACHE_MS), the window itself is checked at answer time.
 */
import { LRUCache } from 'lru-cache';
import { checkEntitlement } from '../actors/entitlement.ts';
import type { Plan, RadioRequest, TrackBundle } from '../actors/types.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import type { HistoryStore } from '../storage/history.ts';
import { pickAutoplay, type Candidate } from './answer-rules.ts';
import type { IndexHolder, Indexes } from './index-holder.ts';
import type { VectorIndex } from './vector-index.ts';

/** Plays of the listener's history never returned again. */
export const RECENT_PLAYS = 50;
/** Most tracks one request may ask for. */
export const MAX_ANSWER = 50;
/** History tracks (newest) that join the context's end as seeds. */
const HISTORY_SEEDS = 5;
const RIGHTS_CACHE_MS = 60_000;

export type AnswerSource = 'learned' | 'content' | 'popular' | 'none';

export interface RadioAnswer {
  trackIds: string[];
  /** Where the first track came from (tests, logs, the benchmark). */
  source: AnswerSource;
  indexVersions: { learned?: string; content?: string };
}

export class RadioRequestError extends Error {
  readonly code = 'bad_request';
  constructor(message: string) {
    super(message);
    this.name = 'RadioRequestError';
  }
}

const PLANS: readonly Plan[] = ['free', 'premium'];
const isIdList = (x: unknown, max: number): x is string[] =>
  Array.isArray(x) &&
  x.length <= max &&
  x.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 128);

/** Checks a request from the wire; `RadioRequestError` naming the field at fault. */
export function parseRadioRequest(x: unknown): RadioRequest {
  if (typeof x !== 'object' || x === null) throw new RadioRequestError('request: expected an object');
  const r = x as Record<string, unknown>;
  if (typeof r.userId !== 'string' || r.userId.length === 0 || r.userId.length > 128)
    throw new RadioRequestError('userId: expected a non-empty string');
  if (!isIdList(r.seedTrackIds, 100))
    throw new RadioRequestError('seedTrackIds: expected at most 100 track ids');
  if (!isIdList(r.exclude, 10_000)) throw new RadioRequestError('exclude: expected at most 10000 track ids');
  if (!Number.isInteger(r.count) || (r.count as number) < 1 || (r.count as number) > MAX_ANSWER)
    throw new RadioRequestError(`count: expected an integer 1..${MAX_ANSWER}`);
  if (typeof r.country !== 'string' || !/^[A-Z]{2}$/.test(r.country))
    throw new RadioRequestError('country: expected ISO 3166-1 alpha-2 (two upper-case letters)');
  if (!PLANS.includes(r.plan as Plan)) throw new RadioRequestError(`plan: expected ${PLANS.join('|')}`);
  return {
    userId: r.userId,
    seedTrackIds: r.seedTrackIds,
    exclude: r.exclude,
    count: r.count as number,
    country: r.country,
    plan: r.plan as Plan,
  };
}

export interface RadioServiceDeps {
  catalog: Pick<CatalogStore, 'getTracks' | 'getRights' | 'getAudioFiles'>;
  history: Pick<HistoryStore, 'readHistory'>;
  indexes: IndexHolder;
  now: () => number;
}

/** What decides whether a track may play in a country; null: the track does not exist. */
type Facts = TrackBundle | null;

export class RadioService {
  private readonly facts = new LRUCache<string, { facts: Facts }>({ max: 200_000, ttl: RIGHTS_CACHE_MS });

  constructor(private readonly deps: RadioServiceDeps) {}

  async answer(req: RadioRequest): Promise<RadioAnswer> {
    const indexes = this.deps.indexes.current(); // one pair for the whole request
    const versions = {
      ...(indexes.learned ? { learned: indexes.learned.meta.version } : {}),
      ...(indexes.content ? { content: indexes.content.meta.version } : {}),
    };
    const recent = (await this.deps.history.readHistory(req.userId, { limit: RECENT_PLAYS })).entries.map(
      (e) => e.trackId,
    );
    const excluded = new Set([...req.exclude, ...recent, ...req.seedTrackIds]);
    const seeds = [...req.seedTrackIds, ...recent.slice(0, HISTORY_SEEDS)];
    const ranked = rankCandidates(indexes, seeds, req.country, req.count);
    const leadIn = await this.artistsOf(indexes, req.seedTrackIds.slice(-2));

    // Facts are read for a prefix of the ranking, widened until the answer is full.
    let answer: string[] = [];
    let checked = 0;
    for (let want = req.count * 3; ; want *= 2) {
      const prefix = ranked.list.slice(0, want);
      await this.loadFacts(
        prefix.slice(checked).map((c) => c.trackId),
        req.country,
      );
      checked = prefix.length;
      const now = this.deps.now();
      answer = pickAutoplay(prefix, {
        count: req.count,
        excluded,
        leadInArtists: leadIn,
        playable: (id) => {
          const f = this.facts.get(`${id}|${req.country}`)?.facts;
          return !!f && checkEntitlement(f, { country: req.country, plan: req.plan }, now).ok;
        },
      });
      if (answer.length >= req.count || checked >= ranked.list.length) break;
    }
    const first = answer[0];
    const source: AnswerSource = first === undefined ? 'none' : (ranked.sourceOf.get(first) ?? 'popular');
    return { trackIds: answer, source, indexVersions: versions };
  }

  private async artistsOf(indexes: Indexes, trackIds: string[]): Promise<string[]> {
    const known = trackIds.map((id) => indexes.learned?.artistOf(id) ?? indexes.content?.artistOf(id));
    if (known.every((a) => a !== undefined)) return known as string[];
    const rows = await this.deps.catalog.getTracks(trackIds);
    return trackIds.map((id, i) => known[i] ?? rows.get(id)?.artistId ?? `?${id}`);
  }

  private async loadFacts(trackIds: string[], country: string): Promise<void> {
    const missing = trackIds.filter((id) => !this.facts.has(`${id}|${country}`));
    if (missing.length === 0) return;
    const rows = await this.deps.catalog.getTracks(missing);
    await Promise.all(
      missing.map(async (id) => {
        const track = rows.get(id);
        if (!track) return this.facts.set(`${id}|${country}`, { facts: null });
        const [rights, files] = await Promise.all([
          this.deps.catalog.getRights(id, country),
          this.deps.catalog.getAudioFiles(id),
        ]);
        // Only whether a file has chunks matters here: keep one chunk of each, not the table.
        const slim = files.map((f) => ({ ...f, chunks: f.chunks.slice(0, 1) }));
        this.facts.set(`${id}|${country}`, { facts: { track, files: slim, rights } });
      }),
    );
  }
}

/** Unit-length mean of the seeds' vectors in one index; undefined when no seed is in it. */
function queryVector(index: VectorIndex | undefined, seeds: readonly string[]): Float32Array | undefined {
  if (!index) return undefined;
  const q = new Float32Array(index.set.dimensions);
  let n = 0;
  for (const id of seeds) {
    const v = index.vectorOf(id);
    if (!v) continue;
    let norm = 0;
    for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
    norm = Math.sqrt(norm) || 1;
    for (let i = 0; i < v.length; i++) q[i]! += v[i]! / norm;
    n++;
  }
  return n === 0 ? undefined : q;
}

/** Nearest neighbours searched per request: enough to survive the filters. */
const neighboursFor = (count: number) => 64 + count * 8;

/** The ranking: learned neighbours, content neighbours, popular in the country, popular anywhere. */
export function rankCandidates(
  indexes: Indexes,
  seeds: readonly string[],
  country: string,
  count: number,
): { list: Candidate[]; sourceOf: Map<string, AnswerSource> } {
  const list: Candidate[] = [];
  const sourceOf = new Map<string, AnswerSource>();
  const add = (cs: Iterable<Candidate>, source: AnswerSource) => {
    for (const c of cs) {
      if (sourceOf.has(c.trackId)) continue;
      sourceOf.set(c.trackId, source);
      list.push(c);
    }
  };
  const learnedQuery = queryVector(indexes.learned, seeds);
  if (learnedQuery) add(indexes.learned!.search(learnedQuery, neighboursFor(count)), 'learned');
  const contentQuery = queryVector(indexes.content, seeds);
  if (contentQuery) add(indexes.content!.search(contentQuery, neighboursFor(count)), 'content');
  const popular = indexes.learned?.popular ?? {};
  add(popular[country] ?? [], 'popular');
  add(popular['*'] ?? [], 'popular');
  return { list, sourceOf };
}
