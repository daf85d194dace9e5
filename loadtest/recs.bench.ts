/**
 * `npm run bench -- recs [users]`: recommendations, measured honestly in one run.
 *
 * 1. Discover Weekly on the month generator's world with planted tastes
 *    (pipeline/jobs/generate-month.ts: communities, popularity skew, noise), November 2026:
 *    implicit ALS trained on the plays before W48, tested on W48's streams of tracks new to
 *    each listener; precision@10, NDCG@10, recall@30 beside popularity and random under the
 *    same rules (target dw_lift = DW / popularity precision >= 3).
 * 2. Autoplay on that world's learned index: the share of answered tracks whose artist
 *    belongs to the seed listener's community (beside random tracks' share) and the artist
 *    spacing violations (must be 0).
 * 3. The ANN index at 100 000 tracks x 64 dimensions (clustered vectors, as embeddings are):
 *    recall@10 of the HNSW search against exact search over the same vectors (target
 *    >= 0.95), and its bytes per track on disk.
 * 4. One autoplay request over NATS against that 100 000-track index with a 100 000-track
 *    embedded catalog (rights read and checked per answer): p50/p99 beside a bare NATS
 *    request/reply echo of the same payload in the same run (target p99 <= 5 ms).
 *
 * Needs NATS (NATS_URL, else the launcher's) and the ALS venv (ALS_PYTHON, else
 * .cache/python/venv). Writes bench-results/recs.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import { createPrng } from '../actors/prng.ts';
import type { RadioRequest } from '../actors/types.ts';
import { openStores } from '../app/open-stores.ts';
import { parseConfig } from '../app/config.ts';
import { engineUrls } from '../deploy/engine-urls.ts';
import { spacingViolations } from '../radio/answer-rules.ts';
import { isoWeek, learnedIndex } from '../radio/discover-weekly.ts';
import { IndexHolder } from '../radio/index-holder.ts';
import { RadioService } from '../radio/radio-service.ts';
import { natsRadioPort, serveRadio } from '../radio/radio-transport.ts';
import { evaluateWorld } from '../radio/recs-eval.ts';
import { generateMonth } from '../pipeline/jobs/generate-month.ts';
import { buildIndex, publishIndex, type VectorIndex } from '../radio/vector-index.ts';
import type { Stores } from '../storage/stores.ts';
import { percentile, printTable, writeResults } from './report.ts';

const ANN_TRACKS = 100_000;
const ANN_DIM = 64;
const ANN_QUERIES = 1_000;
const RADIO_REQUESTS = 2_000;

/** Clustered unit vectors: 500 centres, each track a centre plus noise. */
function clusteredVectors(n: number, dim: number, seed: number): Float32Array {
  const rnd = createPrng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() || 1e-9)) * Math.cos(2 * Math.PI * rnd());
  const centres = Array.from({ length: 500 }, () => Float32Array.from({ length: dim }, gauss));
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = centres[i % centres.length]!;
    for (let d = 0; d < dim; d++) out[i * dim + d] = c[d]! + 0.6 * gauss();
  }
  return out;
}

export async function writeCatalog(stores: Stores, index: VectorIndex): Promise<void> {
  const { trackIds, artistIds } = index.set;
  for (let i = 0; i < trackIds.length; i += 2_000) {
    const batch: Promise<void>[] = [];
    for (let k = i; k < Math.min(trackIds.length, i + 2_000); k++) {
      const id = trackIds[k]!;
      const key = k.toString(16).padStart(64, '0');
      batch.push(
        stores.catalog.putTrack({
          id,
          title: id,
          artistId: artistIds[k]!,
          artistName: artistIds[k]!,
          albumId: `al${k % 5000}`,
          albumName: 'x',
          trackNumber: 1,
          durationMs: 200_000,
        }),
        stores.catalog.putAudioFile({
          trackId: id,
          bitrateKbps: 96,
          codec: 'opus',
          container: 'webm',
          mimeType: 'audio/webm; codecs="opus"',
          init: { key, bytes: 10 },
          chunkDurationMs: 2000,
          chunks: [{ index: 0, key, bytes: 10, durationMs: 2000 }],
          encoderDelaySamples: 0,
          paddingSamples: 0,
          sampleRate: 48000,
          loudness: { integratedLufs: -14, replayGainDb: 0 },
          contentAddress: key,
        }),
        stores.catalog.putRights({ trackId: id, territory: '*', allowed: true }),
      );
      // 2 % of tracks blocked in SE (where the requests come from), spread over every cluster.
      if (k % 47 === 3)
        batch.push(stores.catalog.putRights({ trackId: id, territory: 'SE', allowed: false }));
    }
    await Promise.all(batch);
  }
}

export default async function recsBench(args: string[]): Promise<void> {
  const users = Number(args[0] ?? 5_000);
  const config = parseConfig({
    ALS_PYTHON: process.env.ALS_PYTHON,
    INFRA_CACHE_DIR: process.env.INFRA_CACHE_DIR,
  });
  const work = mkdtempSync(join(tmpdir(), 'recs-bench-'));
  try {
    // 1. Discover Weekly.
    console.log(`generated month 2026-11: ${users} listeners; training ALS on the weeks before W48...`);
    // The month generator's planted tastes (communities, popularity skew, noise); no bots.
    const world = generateMonth({
      month: '2026-11',
      seed: 11,
      users,
      tracks: Math.round(users * 0.6),
      artists: Math.round(users * 0.06),
      communities: 20,
      playsPerUser: 48,
      noise: 0.15,
      fraudUsersPerKind: 0,
    });
    const started = performance.now();
    const ev = await evaluateWorld(config.radio.alsPython, world, isoWeek('2026-W48').start);
    const jobSeconds = (performance.now() - started) / 1000;
    const lift = ev.dw.precisionAt10 / Math.max(1e-9, ev.popularity.precisionAt10);

    // 2. Autoplay on the learned index of that model.
    const trackById = new Map(world.tracks.map((t) => [t.id, t]));
    const learned = learnedIndex('bench', ev.data, ev.train, (t) => trackById.get(t)?.artistId);
    const worldDir = join(work, 'world');
    publishIndex(join(worldDir, 'radio'), learned);
    const worldStores = await openStores({ dataDir: join(worldDir, 'store') });
    await writeCatalog(worldStores, learned);
    const worldHolder = new IndexHolder(join(worldDir, 'radio'));
    if (worldHolder.refresh().failed.length) throw new Error('the world index did not load');
    const worldRadio = new RadioService({
      catalog: worldStores.catalog,
      history: worldStores.history,
      indexes: worldHolder,
      now: Date.now,
    });
    // Community of an artist: the communities whose listeners stream it most in training.
    const artistComms = new Map<string, Set<number>>();
    const userComm = new Map(world.users.map((u) => [u.id, u.community]));
    const tally = new Map<string, Map<number, number>>();
    for (const p of world.plays) {
      const a = trackById.get(p.trackId)!.artistId;
      const m = tally.get(a) ?? new Map<number, number>();
      m.set(userComm.get(p.userId)!, (m.get(userComm.get(p.userId)!) ?? 0) + 1);
      tally.set(a, m);
    }
    for (const [a, m] of tally) {
      const top = Math.max(...m.values());
      artistComms.set(a, new Set([...m].filter(([, n]) => n >= top / 2).map(([c]) => c)));
    }
    let inCommunity = 0;
    let answered = 0;
    let violations = 0;
    let randomIn = 0;
    const rnd = createPrng(5);
    for (const u of world.users.slice(0, 500)) {
      const mine = world.plays
        .filter((p) => p.userId === u.id && p.msPlayed >= 30_000)
        .slice(-5)
        .map((p) => p.trackId);
      if (mine.length < 2) continue;
      const a = await worldRadio.answer({
        userId: u.id,
        seedTrackIds: mine,
        exclude: mine,
        count: 10,
        country: 'US',
        plan: 'premium',
      });
      const artists = a.trackIds.map((t) => trackById.get(t)!.artistId);
      const seam = mine.slice(-2).map((t) => trackById.get(t)!.artistId);
      violations += spacingViolations([...seam, ...artists]) - spacingViolations(seam);
      for (const art of artists) {
        answered++;
        if (artistComms.get(art)?.has(u.community)) inCommunity++;
        const r = world.tracks[Math.floor(rnd() * world.tracks.length)]!;
        if (artistComms.get(r.artistId)?.has(u.community)) randomIn++;
      }
    }
    await worldStores.close();

    // 3. ANN at 100 000 x 64.
    console.log(`ANN: building HNSW over ${ANN_TRACKS} x ${ANN_DIM}...`);
    // Queries are fresh draws from the same clusters, not points of the index.
    const drawn = clusteredVectors(ANN_TRACKS + ANN_QUERIES, ANN_DIM, 3);
    const vectors = drawn.slice(0, ANN_TRACKS * ANN_DIM);
    const ids = Array.from({ length: ANN_TRACKS }, (_, i) => `x${i}`);
    const artists = ids.map((_, i) => `xa${Math.floor(i / 10)}`);
    const buildStart = performance.now();
    const ann = buildIndex(
      'learned',
      'bench-100k',
      { trackIds: ids, artistIds: artists, dimensions: ANN_DIM, vectors },
      { '*': [] },
    );
    const buildSeconds = (performance.now() - buildStart) / 1000;
    const annDir = join(work, 'ann');
    const indexBytes = publishIndex(join(annDir, 'radio'), ann);
    let hits = 0;
    const searchUs: number[] = [];
    for (let q = 0; q < ANN_QUERIES; q++) {
      const query = drawn.subarray((ANN_TRACKS + q) * ANN_DIM, (ANN_TRACKS + q + 1) * ANN_DIM);
      const t0 = performance.now();
      const approx = ann.search(query, 10);
      searchUs.push((performance.now() - t0) * 1000);
      const exact = new Set(ann.exact(query, 10).map((n) => n.trackId));
      hits += approx.filter((n) => exact.has(n.trackId)).length;
    }
    const recall = hits / (ANN_QUERIES * 10);

    // 4. Radio over NATS on the 100 000-track index and catalog.
    console.log('radio over NATS: writing a 100 000-track catalog...');
    const stores = await openStores({ dataDir: join(annDir, 'store') });
    await writeCatalog(stores, ann);
    const holder = new IndexHolder(join(annDir, 'radio'));
    const loaded = holder.refresh();
    if (loaded.failed.length) throw new Error(`index did not load: ${JSON.stringify(loaded.failed)}`);
    const service = new RadioService({
      catalog: stores.catalog,
      history: stores.history,
      indexes: holder,
      now: Date.now,
    });
    const natsUrl = process.env.NATS_URL ?? engineUrls().natsUrl;
    const serverNc = await connect({ servers: natsUrl });
    const clientNc = await connect({ servers: natsUrl });
    const subject = `bench.radio.${process.pid}`;
    const sub = serveRadio(serverNc, service, { subject });
    const echo = serverNc.subscribe(`${subject}.echo`, {
      callback: (_e, m) => {
        m.respond(m.data);
      },
    });
    await serverNc.flush();
    const port = natsRadioPort(() => clientNc, { subject, timeoutMs: 1_000, attempts: 1 });
    const rr = createPrng(23);
    const request = (): RadioRequest => {
      const base = Math.floor(rr() * ANN_TRACKS);
      const seeds = [0, 500, 1000, 1500, 2000].map((d) => ids[(base + d) % ANN_TRACKS]!);
      return {
        userId: `bench${Math.floor(rr() * 10_000)}`,
        seedTrackIds: seeds,
        exclude: seeds,
        count: 10,
        country: 'SE',
        plan: 'premium',
      };
    };
    const radioMs: number[] = [];
    const echoMs: number[] = [];
    const enc = new TextEncoder();
    const probe = await service.answer(request());
    if (probe.trackIds.length !== 10) throw new Error(`radio answered ${JSON.stringify(probe)}`);
    for (let i = 0; i < 200; i++) await port(request()); // warm-up: JIT, connections
    for (let i = 0; i < RADIO_REQUESTS; i++) {
      const r = request();
      // Alternate so background load hits both.
      let t0 = performance.now();
      const got = await port(r);
      radioMs.push(performance.now() - t0);
      if (got.length !== 10) throw new Error(`radio answered ${got.length} tracks`);
      t0 = performance.now();
      await clientNc.request(`${subject}.echo`, enc.encode(JSON.stringify(r)), { timeout: 1_000 });
      echoMs.push(performance.now() - t0);
    }
    await sub.drain();
    await echo.drain();
    await serverNc.close();
    await clientNc.close();
    await stores.close();

    const figures = {
      dw_precision_at_10: ev.dw.precisionAt10,
      pop_precision_at_10: ev.popularity.precisionAt10,
      random_precision_at_10: ev.random.precisionAt10,
      dw_lift: lift,
      dw_ndcg_at_10: ev.dw.ndcgAt10,
      pop_ndcg_at_10: ev.popularity.ndcgAt10,
      dw_recall_at_30: ev.dw.recallAt30,
      pop_recall_at_30: ev.popularity.recallAt30,
      random_recall_at_30: ev.random.recallAt30,
      train_seconds: ev.trainSeconds,
      job_seconds: jobSeconds,
      world: {
        listeners: ev.users,
        test_listeners: ev.testUsers,
        tracks: world.tracks.length,
        plays: world.plays.length,
        communities: 20,
      },
      radio_community_share: inCommunity / Math.max(1, answered),
      random_community_share: randomIn / Math.max(1, answered),
      radio_artist_spacing_violations: violations,
      ann_recall_at_10: recall,
      ann_tracks: ANN_TRACKS,
      ann_dimensions: ANN_DIM,
      ann_build_seconds: buildSeconds,
      ann_search_p50_us: percentile(searchUs, 50),
      index_bytes_per_track: indexBytes / ANN_TRACKS,
      radio_p50_ms: percentile(radioMs, 50),
      radio_p99_ms: percentile(radioMs, 99),
      nats_echo_p50_ms: percentile(echoMs, 50),
      nats_echo_p99_ms: percentile(echoMs, 99),
      radio_p99_ratio_to_echo: percentile(radioMs, 99) / percentile(echoMs, 99),
      load_avg_1m: loadavg()[0] ?? 0,
      targets: { dw_lift: 3, ann_recall_at_10: 0.95, radio_p99_ms: 5, radio_artist_spacing_violations: 0 },
    };
    printTable([
      {
        figure: 'DW precision@10',
        ours: figures.dw_precision_at_10,
        baseline: figures.pop_precision_at_10,
        'baseline is': 'popularity',
        target: 'lift >= 3',
      },
      { figure: 'DW lift', ours: figures.dw_lift, baseline: 1, 'baseline is': 'popularity', target: '>= 3' },
      {
        figure: 'DW NDCG@10',
        ours: figures.dw_ndcg_at_10,
        baseline: figures.pop_ndcg_at_10,
        'baseline is': 'popularity',
        target: '',
      },
      {
        figure: 'DW recall@30',
        ours: figures.dw_recall_at_30,
        baseline: figures.random_recall_at_30,
        'baseline is': 'random',
        target: '',
      },
      { figure: 'train seconds', ours: figures.train_seconds, baseline: '', 'baseline is': '', target: '' },
      {
        figure: 'radio community share',
        ours: figures.radio_community_share,
        baseline: figures.random_community_share,
        'baseline is': 'random tracks',
        target: '',
      },
      { figure: 'radio spacing violations', ours: violations, baseline: 0, 'baseline is': '', target: '0' },
      {
        figure: 'ANN recall@10 (100k x 64)',
        ours: recall,
        baseline: 1,
        'baseline is': 'exact search',
        target: '>= 0.95',
      },
      {
        figure: 'index bytes per track',
        ours: figures.index_bytes_per_track,
        baseline: ANN_DIM * 4,
        'baseline is': 'raw vector',
        target: '',
      },
      {
        figure: 'radio p99 ms (NATS)',
        ours: figures.radio_p99_ms,
        baseline: figures.nats_echo_p99_ms,
        'baseline is': 'NATS echo',
        target: '<= 5',
      },
    ]);
    console.log(`load average (1 min): ${figures.load_avg_1m.toFixed(2)}`);
    writeResults('recs', figures);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
