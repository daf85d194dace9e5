/**
 * `npm run bench -- events [--events N]`: the listening-event pipeline on the real engines.
 * 1. Publish throughput: the JetStream adapter (dedup msgID, bounded in-flight, outbox path
 *    checks) beside raw `js.publish` of the same payloads with the same window, same run.
 * 2. End-to-end lag from `publish()` to the royalty ledger row (embedded LMDB store) with
 *    events paced at 5 000/s: p50 / p99.
 * 3. Royalty consumer throughput with the CQL node as the store, beside the LMDB store.
 * Writes bench-results/events.json: ratio, lag_p50_ms, lag_p99_ms, royalty_events_per_s, ...
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { loadavg } from 'node:os';
import { createTestKeyspace, requireEngine } from '../testkit/engines.ts';
import { openEmbeddedEnv } from '../storage/lmdb-env.ts';
import { createLmdbRoyalties } from '../storage/royalties.lmdb.ts';
import type { ListeningEvent } from '../actors/types.ts';
import type { RoyaltyStore } from '../storage/royalties.ts';
import { applyMigrations } from '../storage/cql-client.ts';
import { createScyllaRoyalties } from '../storage/royalties.scylla.ts';
import { encodeEvent, subjectFor } from '../storage/event-codec.ts';
import { JetStreamEventLog } from '../storage/event-log.jetstream.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import { ensureStream, streamSettings } from '../storage/jetstream-stream.ts';
import { startPipeline } from '../pipeline/start-pipeline.ts';
import { silentLogger, tempDir, uniqueStream } from '../testkit/pipeline.ts';
import { percentile, printTable, writeResults } from './report.ts';

const WINDOW = 1_024;

function events(n: number, tag: string): ListeningEvent[] {
  const base = Date.UTC(2025, 0, 10);
  return Array.from({ length: n }, (_, i) => ({
    event_id: `${tag}-${i}:end`,
    type: 'play.end',
    play_id: `${tag}-${i}`,
    user: `u${i % 500}`,
    track: `t${i % 2000}`,
    artist: `a${i % 300}`,
    ts: base + i,
    ms_played: 45_000,
    context: 'ctx',
    country: 'SE',
    product: i % 3 ? 'premium' : 'free',
    device: 'd',
    reason: 'trackdone',
  }));
}

async function windowed<T>(items: readonly T[], fn: (x: T) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
  return performance.now() - t0;
}

async function consumeAll(
  natsUrl: string,
  stream: ReturnType<typeof uniqueStream>,
  store: RoyaltyStore,
  n: number,
) {
  const source = new JetStreamEventSource({ natsUrl, stream, log: silentLogger });
  let counted = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  const p = await startPipeline({
    source,
    royalties: store,
    log: silentLogger,
    consumers: { royalties: { name: `bench_${Date.now()}` } }, // the shipped batch size
    onCounted: () => {
      if (++counted === n) done();
    },
  });
  await all;
  const ms = performance.now() - t0;
  await p.stop();
  await source.close();
  return (n / ms) * 1000;
}

export default async function bench(args: string[]): Promise<void> {
  const n = Number(args[args.indexOf('--events') + 1]) || 20_000;
  const natsUrl = await requireEngine('nats');
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const streams: string[] = [];

  // 1. Throughput: raw baseline and adapter, same payloads and window.
  const rawStream = uniqueStream('bench_raw');
  await ensureStream(jsm, streamSettings(rawStream));
  streams.push(rawStream.stream);
  const evs = events(n, `tp${Date.now()}`);
  const payloads = evs.map((e) => ({
    subj: subjectFor(rawStream.subjectPrefix, e.type),
    data: encodeEvent(e),
  }));
  const rawMs = await windowed(payloads, (p) => js.publish(p.subj, p.data));
  const adStream = uniqueStream('bench_adapter');
  streams.push(adStream.stream);
  const log = new JetStreamEventLog({
    natsUrl,
    outboxDir: tempDir('bench-outbox'),
    stream: adStream,
    log: silentLogger,
  });
  await log.whenOnline();
  const adapterMs = await windowed(evs, (e) => log.publish(e));
  const rawRate = (n / rawMs) * 1000;
  const adapterRate = (n / adapterMs) * 1000;

  // 2. Lag at 5 000 events/s into the royalty ledger (LMDB store).
  const lagStream = uniqueStream('bench_lag');
  streams.push(lagStream.stream);
  const lagLog = new JetStreamEventLog({
    natsUrl,
    outboxDir: tempDir('bench-outbox2'),
    stream: lagStream,
    log: silentLogger,
  });
  await lagLog.whenOnline();
  const env = await openEmbeddedEnv(tempDir('bench-store'));
  const lagSource = new JetStreamEventSource({ natsUrl, stream: lagStream, log: silentLogger });
  const sentAt = new Map<string, number>();
  const lags: number[] = [];
  const lagN = Math.min(n, 20_000);
  let finished!: () => void;
  const allCounted = new Promise<void>((r) => (finished = r));
  const pipe = await startPipeline({
    source: lagSource,
    royalties: createLmdbRoyalties(env),
    log: silentLogger,
    onCounted: (_row, e) => {
      const t = sentAt.get(e.event_id);
      if (t !== undefined) lags.push(performance.now() - t);
      if (lags.length === lagN) finished();
    },
  });
  const lagEvents = events(lagN, `lag${Date.now()}`);
  const RATE = 5_000;
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < lagEvents.length; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const e = lagEvents[i]!;
    sentAt.set(e.event_id, performance.now());
    pending.push(lagLog.publish(e));
  }
  await Promise.all(pending);
  const offered = (lagN / (performance.now() - start)) * 1000;
  await Promise.race([allCounted, new Promise((r) => setTimeout(r, 60_000))]);
  await pipe.stop();
  await lagSource.close();
  await lagLog.close();

  // 3. Royalty consumer throughput: CQL node vs LMDB, same pre-published events.
  const cqlN = Math.min(n, 5_000);
  const conStream = uniqueStream('bench_consumer');
  streams.push(conStream.stream);
  const conLog = new JetStreamEventLog({
    natsUrl,
    outboxDir: tempDir('bench-outbox3'),
    stream: conStream,
    log: silentLogger,
  });
  await conLog.whenOnline();
  await windowed(events(cqlN, `con${Date.now()}`), (e) => conLog.publish(e));
  await conLog.close();
  const lmdbRate = await consumeAll(
    natsUrl,
    conStream,
    createLmdbRoyalties(await openEmbeddedEnv(tempDir('bench-store2'))),
    cqlN,
  );
  const ks = await createTestKeyspace('bench_events');
  await applyMigrations(ks.client, ks.name);
  const cqlRate = await consumeAll(natsUrl, conStream, createScyllaRoyalties(ks.client, ks.name), cqlN);
  await ks.drop();

  await log.close();
  for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
  await env.close();

  const ratio = adapterRate / rawRate;
  printTable([
    { measure: 'raw js.publish (baseline)', value: Math.round(rawRate), unit: 'events/s' },
    { measure: 'adapter publish (msgID dedup)', value: Math.round(adapterRate), unit: 'events/s' },
    { measure: 'ratio adapter/raw (target >= 0.5)', value: ratio, unit: '' },
    { measure: `lag p50 at ${Math.round(offered)} ev/s offered`, value: percentile(lags, 50), unit: 'ms' },
    { measure: 'lag p99 (target <= 250)', value: percentile(lags, 99), unit: 'ms' },
    { measure: 'lag samples', value: lags.length, unit: `of ${lagN}` },
    { measure: 'royalty consumer, LMDB store (baseline)', value: Math.round(lmdbRate), unit: 'events/s' },
    { measure: 'royalty consumer, CQL store', value: Math.round(cqlRate), unit: 'events/s' },
  ]);
  writeResults('events', {
    ratio,
    raw_publish_per_s: rawRate,
    adapter_publish_per_s: adapterRate,
    lag_p50_ms: percentile(lags, 50),
    lag_p99_ms: percentile(lags, 99),
    lag_offered_per_s: offered,
    lag_samples: lags.length,
    royalty_events_per_s: cqlRate,
    royalty_events_per_s_lmdb: lmdbRate,
    events: n,
    // 2-core machine shared with other work: the lag figure needs headroom over 5 000/s.
    load_avg_1m: loadavg()[0],
  });
}
