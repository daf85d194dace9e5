/**
 * `npm run bench -- storage [--views N] [--inserts N]`: the storage layer on the real engines.
 * 1. Warm view of a 100-track playlist (page and tracks from Redis in one round trip) beside a
 *    bare Redis MGET of the same 100 track keys on its own connection, interleaved one for one
 *    so load hits both (target: view p99 <= 2 x MGET p99); and beside the view read from the
 *    CQL node alone (entries + batched catalog read).
 * 2. Playlist insert throughput (append, version LWT) on the CQL node beside the embedded LMDB store:
 *    one editor on one playlist (commit latency bound), and 16 editors on 16 playlists.
 * 3. History append throughput (32 in flight) on the CQL node beside the embedded store.
 * Writes bench-results/storage.json: view_warm_p99_ms, mget_p99_ms, view_over_mget_p99,
 * view_cql_p99_ms, insert_per_s_cql, insert_per_s_embedded, ...
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { deleteRedisPrefix, requireEngine, testNamespace } from '../testkit/engines.ts';
import { TRACK_KEY_PREFIX } from '../storage/cache.ts';
import { createRedisTrackCache } from '../storage/cache.redis.ts';
import { createPlaylistViewer } from '../storage/hydration.ts';
import { openStores, type Stores } from '../app/open-stores.ts';
import { percentile, printTable, writeResults } from './report.ts';

const arg = (args: string[], name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/** Sequential appends to one playlist (each one LWT-versioned commit); ops per second. */
async function insertRate(stores: Stores, n: number): Promise<number> {
  const p = await stores.playlists.createPlaylist({ ownerId: 'bench', name: 'inserts' });
  const t0 = performance.now();
  for (let i = 0; i < n; i++)
    await stores.playlists.editPlaylist(p.id, 'bench', { kind: 'insert', trackIds: [`t${i % 100}`] });
  return n / ((performance.now() - t0) / 1000);
}

/** Appends from `writers` editors, each on its own playlist (no contention): ops per second. */
async function parallelInsertRate(stores: Stores, writers: number, perWriter: number): Promise<number> {
  const lists = await Promise.all(
    Array.from({ length: writers }, (_, i) =>
      stores.playlists.createPlaylist({ ownerId: 'bench', name: `w${i}` }),
    ),
  );
  const t0 = performance.now();
  await Promise.all(
    lists.map(async (p) => {
      for (let i = 0; i < perWriter; i++)
        await stores.playlists.editPlaylist(p.id, 'bench', { kind: 'insert', trackIds: [`t${i % 100}`] });
    }),
  );
  return (writers * perWriter) / ((performance.now() - t0) / 1000);
}

async function historyRate(stores: Stores, n: number, inFlight = 32): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const base = Date.UTC(2026, 0, 1);
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < n) {
        const i = next++;
        await stores.history.appendHistory({
          userId: `u${i % 50}`,
          playId: `p${i}`,
          trackId: `t${i % 100}`,
          ts: base + i * 1000,
          msPlayed: 31_000,
        });
      }
    }),
  );
  return n / ((performance.now() - t0) / 1000);
}

async function seed(stores: Stores): Promise<string> {
  const ids = Array.from({ length: 100 }, (_, i) => `t${i}`);
  await Promise.all(
    ids.map((id, i) =>
      stores.catalog.putTrack({
        id,
        title: `Track ${i}`,
        artistId: `ar${i % 7}`,
        artistName: 'Artist',
        albumId: `al${i % 10}`,
        albumName: 'Album',
        trackNumber: i + 1,
        durationMs: 200_000,
      }),
    ),
  );
  const p = await stores.playlists.createPlaylist({ ownerId: 'bench', name: 'hundred' });
  await stores.playlists.editPlaylist(p.id, 'bench', { kind: 'insert', trackIds: ids });
  return p.id;
}

export default async function storageBench(args: string[]): Promise<void> {
  const views = arg(args, 'views', 2000);
  const insertsCql = arg(args, 'inserts', 300);
  const insertsEmbedded = insertsCql * 5;
  const historyN = arg(args, 'history', 3000);

  const cql = await requireEngine('cql');
  const redisUrl = await requireEngine('redis');
  const ns = testNamespace('bench_storage');
  const stores = await openStores({
    scyllaContactPoints: cql.contactPoints,
    localDataCenter: cql.localDataCenter,
    keyspace: ns.keyspace,
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-storage-'));
  const embedded = await openStores({ dataDir: dir });
  const cache = await createRedisTrackCache(redisUrl, ns.redisPrefix);
  // The baseline's own connection, configured as the cache's, so neither queues behind the other.
  const bare = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const playlistId = await seed(stores);
    const viewer = createPlaylistViewer({ playlists: stores.playlists, catalog: stores.catalog, cache });
    const view = () => viewer.viewPlaylist(playlistId, { limit: 100 }, 'bench');
    // Baseline: the same view with every track read from the CQL node (no cache).
    const viewCql = async () => {
      const page = await stores.playlists.listEntries(playlistId, 'bench', { limit: 100 });
      const tracks = await stores.catalog.getTracks(page.entries.map((e) => e.trackId));
      if (tracks.size !== 100) throw new Error(`expected 100 tracks, got ${tracks.size}`);
    };
    const trackKeys = Array.from({ length: 100 }, (_, i) => `${ns.redisPrefix}${TRACK_KEY_PREFIX}t${i}`);
    const mget = async () => {
      const values = await bare.mget(trackKeys);
      if (values.some((v) => v === null)) throw new Error('MGET baseline missed a track');
    };
    await view(); // fills the page and the tracks
    await view();
    for (let i = 0; i < 50; i++) await Promise.all([view(), viewCql(), mget()]); // JIT, prepared statements
    // Interleaved, alternating which goes first, so background load falls on both alike.
    const warm: number[] = [];
    const bareMget: number[] = [];
    const once = async (fn: () => Promise<unknown>, into: number[]) => {
      const t0 = performance.now();
      await fn();
      into.push(performance.now() - t0);
    };
    const warmView = async () => {
      const v = await view();
      if (v.items.length !== 100 || v.items.some((i) => !i.track)) throw new Error('view incomplete');
    };
    for (let i = 0; i < views; i++) {
      if (i % 2) {
        await once(warmView, warm);
        await once(mget, bareMget);
      } else {
        await once(mget, bareMget);
        await once(warmView, warm);
      }
    }
    const cold = await timed(Math.min(views, 400), viewCql);
    // The path before the page cache (issue 14): entries from the CQL node, tracks by one MGET.
    const idsFromCql = await timed(Math.min(views, 400), async () => {
      const page = await stores.playlists.listEntries(playlistId, 'bench', { limit: 100 });
      const tracks = await cache.getTracks(page.entries.map((e) => e.trackId));
      if (tracks.size !== 100) throw new Error(`expected 100 cached tracks, got ${tracks.size}`);
    });

    const insCql = await insertRate(stores, insertsCql);
    const insEmb = await insertRate(embedded, insertsEmbedded);
    const parCql = await parallelInsertRate(stores, 16, Math.ceil(insertsCql / 8));
    const parEmb = await parallelInsertRate(embedded, 16, Math.ceil(insertsEmbedded / 8));
    const histCql = await historyRate(stores, historyN);
    const histEmb = await historyRate(embedded, historyN * 3);

    const figures = {
      view_warm_p50_ms: percentile(warm, 50),
      view_warm_p90_ms: percentile(warm, 90),
      view_warm_p99_ms: percentile(warm, 99),
      view_warm_p999_ms: percentile(warm, 99.9),
      mget_p50_ms: percentile(bareMget, 50),
      mget_p90_ms: percentile(bareMget, 90),
      mget_p99_ms: percentile(bareMget, 99),
      mget_p999_ms: percentile(bareMget, 99.9),
      view_over_mget_p99: percentile(warm, 99) / percentile(bareMget, 99),
      view_over_mget_p50: percentile(warm, 50) / percentile(bareMget, 50),
      view_ids_from_cql_p50_ms: percentile(idsFromCql, 50),
      view_ids_from_cql_p99_ms: percentile(idsFromCql, 99),
      view_cql_p50_ms: percentile(cold, 50),
      view_cql_p99_ms: percentile(cold, 99),
      view_p99_ratio_cql_over_warm: percentile(cold, 99) / percentile(warm, 99),
      insert_per_s_cql: insCql,
      insert_per_s_embedded: insEmb,
      insert_per_s_cql_16_playlists: parCql,
      insert_per_s_embedded_16_playlists: parEmb,
      history_append_per_s_cql: histCql,
      history_append_per_s_embedded: histEmb,
      views,
      inserts_cql: insertsCql,
      inserts_embedded: insertsEmbedded,
      target_view_over_mget_p99: 2,
    };
    printTable([
      {
        measure: 'view 100 tracks, warm (one Redis round trip)',
        p50_ms: figures.view_warm_p50_ms,
        p99_ms: figures.view_warm_p99_ms,
        per_s: '',
      },
      {
        measure: 'bare MGET of the same 100 keys (baseline)',
        p50_ms: figures.mget_p50_ms,
        p99_ms: figures.mget_p99_ms,
        per_s: '',
      },
      {
        measure: 'ratio view/MGET (target p99 <= 2)',
        p50_ms: figures.view_over_mget_p50,
        p99_ms: figures.view_over_mget_p99,
        per_s: '',
      },
      {
        measure: 'view, entries from CQL + MGET (before the page cache)',
        p50_ms: figures.view_ids_from_cql_p50_ms,
        p99_ms: figures.view_ids_from_cql_p99_ms,
        per_s: '',
      },
      {
        measure: 'view 100 tracks, CQL only (baseline)',
        p50_ms: figures.view_cql_p50_ms,
        p99_ms: figures.view_cql_p99_ms,
        per_s: '',
      },
      { measure: 'p99 ratio CQL/warm', p50_ms: '', p99_ms: figures.view_p99_ratio_cql_over_warm, per_s: '' },
      { measure: 'playlist insert (LWT), CQL', p50_ms: '', p99_ms: '', per_s: insCql },
      { measure: 'playlist insert, embedded LMDB', p50_ms: '', p99_ms: '', per_s: insEmb },
      { measure: 'playlist insert, CQL, 16 playlists at once', p50_ms: '', p99_ms: '', per_s: parCql },
      { measure: 'playlist insert, embedded, 16 playlists at once', p50_ms: '', p99_ms: '', per_s: parEmb },
      { measure: 'history append, CQL (32 in flight)', p50_ms: '', p99_ms: '', per_s: histCql },
      { measure: 'history append, embedded (32 in flight)', p50_ms: '', p99_ms: '', per_s: histEmb },
    ]);
    writeResults('storage', figures);
  } finally {
    await deleteRedisPrefix(bare, ns.redisPrefix).catch(() => undefined);
    bare.disconnect();
    await cache.close();
    if (stores.backend.kind === 'scylla')
      await stores.backend.client
        .execute(`DROP KEYSPACE IF EXISTS ${ns.keyspace}`, [], { prepare: false })
        .catch(() => undefined);
    await stores.close();
    await embedded.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
