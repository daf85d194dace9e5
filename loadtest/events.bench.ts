/**
 * `npm run bench -- events [--events N] [--rate R] [--seconds S] [--royalty-events N]`: the
 * listening-event pipeline on the real engines. `--royalty-only` runs only part 3
 * (no results file); `--royalty-ab [--rounds N]` only a same-run A/B of the CQL royalty
 * consumer (see royaltyAB).
 * 1. Publish throughput and per-publish latency (call to PubAck): our JetStream adapter (dedup
 *    id, outbox checks, bounded in-flight, pipelined acks) beside the baseline a practitioner
 *    would write with nats.js: `js.publish` with the same dedup id, the same payloads and the
 *    same window of publishes in flight, on a connection with `noAsyncTraces` (its throughput
 *    setting). Same run, same stream settings.
 * 2. End-to-end lag, `publish()` call to the royalty ledger row (embedded LMDB store), with
 *    events offered at `--rate` (default 58 000/s, the issue's target) for `--seconds`.
 * 3. Royalty consumer throughput with the CQL node as the store, beside the LMDB store, over
 *    the same pre-published events.
 * Writes bench-results/events.json: adapter_publish_per_s, ratio, lag_p99_ms,
 * royalty_events_per_s (CQL), royalty_events_per_s_lmdb, and the baselines' figures.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * A stream of its own for one part of the bench. JetStream reserves a stream's max bytes when
 * it is created; each part holds at most ~70 MB, so 1 GiB rather than the 8 GiB default lets
 * the bench run beside other streams on a shared server (at 8 GiB its third stream was refused
 * for "insufficient storage resources" and the bench waited for it forever).
 */
const benchStream = (tag: string) => ({ ...uniqueStream(tag), maxBytes: 1024 ** 3 });

/** Our adapter on a bench stream of its own (named in `streams`, deleted at the end), online. */
async function openBenchLog(natsUrl: string, tag: string, streams: string[]) {
  const stream = benchStream(tag);
  streams.push(stream.stream);
  const log = new JetStreamEventLog({
    natsUrl,
    outboxDir: tempDir(`${tag}-outbox`),
    stream,
    log: silentLogger,
    publishTimeoutMs: 30_000,
  });
  await log.whenOnline();
  return { log, stream };
}

/** Publishes in flight at once, for the adapter and the baseline alike. */
const WINDOW = 4_096;
const TARGET_RATE = 58_000;

function events(n: number, tag: string, base = Date.UTC(2025, 0, 10)): ListeningEvent[] {
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

/** Runs `fn` over items, WINDOW at a time; elapsed ms and each call's latency. */
async function windowed<T>(
  items: readonly T[],
  fn: (x: T) => Promise<unknown>,
): Promise<{ ms: number; latencies: number[] }> {
  const latencies: number[] = new Array(items.length);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (next < items.length) {
        const i = next++;
        const s = performance.now();
        await fn(items[i]!);
        latencies[i] = performance.now() - s;
      }
    }),
  );
  return { ms: performance.now() - t0, latencies };
}

async function consumeAll(
  natsUrl: string,
  stream: ReturnType<typeof benchStream>,
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

/**
 * CPU seconds used so far by the engine process whose command line contains every `parts`
 * (read from /proc; undefined elsewhere or when not found). On a machine shared with other
 * work, wall-clock rates swing with the load; CPU per event does not.
 */
function engineCpuSeconds(parts: string[]): number | undefined {
  try {
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      let cmd: string;
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      } catch {
        continue;
      }
      if (!parts.every((p) => cmd.includes(p))) continue;
      // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    }
  } catch {
    // no /proc
  }
  return undefined;
}

/** Runs `fn` and reports this process's and an engine's CPU microseconds per item. */
async function cpuPer<T>(items: number, engine: string[], fn: () => Promise<T>) {
  const e0 = engineCpuSeconds(engine);
  const c0 = process.cpuUsage();
  const result = await fn();
  const c = process.cpuUsage(c0);
  const e1 = engineCpuSeconds(engine);
  return {
    result,
    nodeUs: (c.user + c.system) / items,
    engineUs: e0 !== undefined && e1 !== undefined ? ((e1 - e0) * 1e6) / items : NaN,
  };
}

const arg = (args: string[], name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) || dflt : dflt;
};

/** Part 3: the royalty consumer into LMDB and into the CQL node over the same pre-published events. */
async function royaltyRun(natsUrl: string, royaltyN: number, streams: string[]) {
  const { log: conLog, stream: conStream } = await openBenchLog(natsUrl, 'bench_consumer', streams);
  await windowed(events(royaltyN, `con${Date.now()}`), (e) => conLog.publish(e));
  await conLog.close();
  const cassandra = ['CassandraDaemon'];
  // The keyspace first: the node's work for a new schema settles while the LMDB store runs,
  // rather than in the CQL consumer's measured time.
  const ks = await createTestKeyspace('bench_events');
  await applyMigrations(ks.client, ks.name);
  const lmdbStore = createLmdbRoyalties(await openEmbeddedEnv(tempDir('bench-store2')));
  const lmdbCpu = await cpuPer(royaltyN, cassandra, () =>
    consumeAll(natsUrl, conStream, lmdbStore, royaltyN),
  );
  const lmdbRate = lmdbCpu.result;
  const cqlStore = createScyllaRoyalties(ks.client, ks.name);
  const cqlCpu = await cpuPer(royaltyN, cassandra, () => consumeAll(natsUrl, conStream, cqlStore, royaltyN));
  const cqlRate = cqlCpu.result;
  // Exact counts: every play counted once in its month (the bench's events are all of 2025-01).
  const streamsCounted = async (store: RoyaltyStore) =>
    (await store.trackCounts('2025-01')).reduce((sum, c) => sum + c.streams, 0);
  const [cqlStreams, lmdbStreams] = [await streamsCounted(cqlStore), await streamsCounted(lmdbStore)];
  await ks.drop();

  return { lmdbCpu, cqlCpu, lmdbRate, cqlRate, cqlStreams, lmdbStreams, conStream };
}

/**
 * `--royalty-ab`: the CQL consumer's blind writes beside the reading path it replaced
 * (`recordStreams`: write, read back per partition, delete losers), alternated on the same
 * pre-published events, a fresh keyspace each; prints each round's rate and CPU per event.
 */
async function royaltyAB(natsUrl: string, royaltyN: number, rounds: number) {
  const stream = benchStream('bench_royalty_ab');
  const log = new JetStreamEventLog({ natsUrl, outboxDir: tempDir('bench-ab'), stream, log: silentLogger });
  await log.whenOnline();
  await windowed(events(royaltyN, `ab${Date.now()}`), (e) => log.publish(e));
  await log.close();
  const rows: { measure: string; value: string; unit: string }[] = [];
  // One keyspace for every round (creating keyspaces keeps the node busy for a while after);
  // later rounds write the same rows again, which costs the node the same as the first time.
  const ks = await createTestKeyspace('bench_royalty_ab');
  await applyMigrations(ks.client, ks.name);
  for (let r = 0; r < rounds; r++) {
    // The order alternates, so neither side always runs on a colder process.
    for (const reading of r % 2 ? [false, true] : [true, false]) {
      // Before: main at 2b9c12f (batches of 32 rows, every batch read back); after: this tree.
      const blind = createScyllaRoyalties(ks.client, ks.name, reading ? { batchRows: 32 } : {});
      const store: RoyaltyStore = reading
        ? { ...blind, recordStreamsBlind: async (plays) => void (await blind.recordStreams(plays)) }
        : blind;
      const cpu = await cpuPer(royaltyN, ['CassandraDaemon'], () =>
        consumeAll(natsUrl, stream, store, royaltyN),
      );
      const counted = (await blind.trackCounts('2025-01')).reduce((sum, c) => sum + c.streams, 0);
      rows.push({
        measure: `round ${r + 1}, ${reading ? 'before: write + read back + delete' : 'after: blind writes'}`,
        value: `${Math.round(cpu.result)} (${cpu.nodeUs.toFixed(1)} / ${cpu.engineUs.toFixed(1)} us, ${counted} counted)`,
        unit: 'events/s (CPU per event node / CQL node)',
      });
    }
  }
  await ks.drop();
  const nc = await connect({ servers: natsUrl });
  await (await jetstreamManager(nc)).streams.delete(stream.stream).catch(() => undefined);
  await nc.close();
  rows.push({ measure: 'load average (1 min)', value: loadavg()[0]!.toFixed(2), unit: '' });
  printTable(rows);
}

export default async function bench(args: string[]): Promise<void> {
  const n = arg(args, '--events', 100_000);
  const rate = arg(args, '--rate', TARGET_RATE);
  const seconds = arg(args, '--seconds', 3);
  const royaltyN = arg(args, '--royalty-events', 20_000);
  const natsUrl = await requireEngine('nats');
  if (args.includes('--royalty-ab')) return royaltyAB(natsUrl, royaltyN, arg(args, '--rounds', 2));
  if (args.includes('--royalty-only')) {
    // Developing the consumer: part 3 alone, printed, no results file.
    const streams: string[] = [];
    const r = await royaltyRun(natsUrl, royaltyN, streams);
    const nc = await connect({ servers: natsUrl });
    for (const s of streams) await (await jetstreamManager(nc)).streams.delete(s).catch(() => undefined);
    await nc.close();
    printTable([
      {
        measure: 'royalty consumer, LMDB / CQL',
        value: `${Math.round(r.lmdbRate)} / ${Math.round(r.cqlRate)}`,
        unit: 'events/s',
      },
      { measure: 'CPU per event, LMDB consumer: node', value: r.lmdbCpu.nodeUs.toFixed(1), unit: 'us' },
      {
        measure: 'CPU per event, CQL consumer: node / CQL node',
        value: `${r.cqlCpu.nodeUs.toFixed(1)} / ${r.cqlCpu.engineUs.toFixed(1)}`,
        unit: 'us',
      },
      {
        measure: 'streams counted, CQL / LMDB',
        value: `${r.cqlStreams} / ${r.lmdbStreams}`,
        unit: `of ${royaltyN}`,
      },
      { measure: 'load average (1 min)', value: loadavg()[0]!.toFixed(2), unit: '' },
    ]);
    return;
  }
  const nc = await connect({ servers: natsUrl, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const streams: string[] = [];

  // 1. Throughput: baseline and adapter, same payloads, same dedup ids, same window.
  const rawStream = benchStream('bench_raw');
  await ensureStream(jsm, streamSettings(rawStream));
  streams.push(rawStream.stream);
  const evs = events(n, `tp${Date.now()}`);
  const payloads = evs.map((e) => ({
    subj: subjectFor(rawStream.subjectPrefix, e.type),
    data: encodeEvent(e),
    id: e.event_id,
  }));
  // The shared nats-server, told apart from private ones (tests) by its port.
  const natsProc = ['nats-server', `-p ${new URL(natsUrl).port}`];
  const rawCpu = await cpuPer(n, natsProc, () =>
    windowed(payloads, (p) => js.publish(p.subj, p.data, { msgID: p.id, timeout: 30_000 })),
  );
  const raw = rawCpu.result;
  const { log } = await openBenchLog(natsUrl, 'bench_adapter', streams);
  const oursCpu = await cpuPer(n, natsProc, () => windowed(evs, (e) => log.publish(e)));
  const ours = oursCpu.result;
  await log.close();
  // Each stream reserves its max_bytes of the server's store: free them before the next phase.
  for (const s of streams.splice(0)) await jsm.streams.delete(s).catch(() => undefined);
  const rawRate = (n / raw.ms) * 1000;
  const adapterRate = (n / ours.ms) * 1000;

  // 2. Lag at the offered rate into the royalty ledger (LMDB store).
  const { log: lagLog, stream: lagStream } = await openBenchLog(natsUrl, 'bench_lag', streams);
  const env = await openEmbeddedEnv(tempDir('bench-store'));
  const lagSource = new JetStreamEventSource({ natsUrl, stream: lagStream, log: silentLogger });
  const lagN = Math.round(rate * seconds);
  const lagEvents = events(lagN, `lag${Date.now()}`);
  const sentAt = new Float64Array(lagN);
  const index = new Map(lagEvents.map((e, i) => [e.event_id, i]));
  const lags: number[] = [];
  let finished!: () => void;
  const allCounted = new Promise<void>((r) => (finished = r));
  const pipe = await startPipeline({
    source: lagSource,
    royalties: createLmdbRoyalties(env),
    log: silentLogger,
    consumers: { royalties: { name: `bench_lag_${Date.now()}` } },
    onCounted: (_row, e) => {
      const i = index.get(e.event_id);
      if (i !== undefined) lags.push(performance.now() - sentAt[i]!);
      if (lags.length === lagN) finished();
    },
  });
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  // Paced by the clock: every turn publishes what is due by now (a turn is ~1 ms or more).
  for (let i = 0; i < lagN;) {
    const due = Math.min(lagN, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    for (; i < due; i++) {
      sentAt[i] = performance.now();
      pending.push(lagLog.publish(lagEvents[i]!));
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(pending);
  const offered = (lagN / (performance.now() - start)) * 1000;
  await Promise.race([allCounted, new Promise((r) => setTimeout(r, 60_000))]);
  await pipe.stop();
  await lagSource.close();
  await lagLog.close();

  // 3. Royalty consumer throughput: CQL node vs LMDB, same pre-published events.
  const roy = await royaltyRun(natsUrl, royaltyN, streams);
  const { lmdbCpu, cqlCpu } = roy;
  const [lmdbRate, cqlRate, cqlStreams, lmdbStreams] = [
    roy.lmdbRate,
    roy.cqlRate,
    roy.cqlStreams,
    roy.lmdbStreams,
  ];

  for (const s of streams) await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
  await env.close();

  const ratio = adapterRate / rawRate;
  const load = loadavg()[0]!;
  printTable([
    { measure: 'baseline: js.publish (msgID, noAsyncTraces)', value: Math.round(rawRate), unit: 'events/s' },
    {
      measure: '  its publish latency p50 / p99',
      value: `${percentile(raw.latencies, 50).toFixed(1)} / ${percentile(raw.latencies, 99).toFixed(1)}`,
      unit: 'ms',
    },
    {
      measure: `adapter publish (target >= ${TARGET_RATE})`,
      value: Math.round(adapterRate),
      unit: 'events/s',
    },
    {
      measure: '  its publish latency p50 / p99',
      value: `${percentile(ours.latencies, 50).toFixed(1)} / ${percentile(ours.latencies, 99).toFixed(1)}`,
      unit: 'ms',
    },
    { measure: 'ratio adapter / baseline', value: ratio, unit: '' },
    {
      measure: 'CPU per event, baseline: node / nats-server',
      value: `${rawCpu.nodeUs.toFixed(1)} / ${rawCpu.engineUs.toFixed(1)}`,
      unit: 'us',
    },
    {
      measure: 'CPU per event, adapter: node / nats-server',
      value: `${oursCpu.nodeUs.toFixed(1)} / ${oursCpu.engineUs.toFixed(1)}`,
      unit: 'us',
    },
    { measure: `lag p50 at ${Math.round(offered)} ev/s offered`, value: percentile(lags, 50), unit: 'ms' },
    { measure: 'lag p99 (target <= 1000)', value: percentile(lags, 99), unit: 'ms' },
    { measure: 'lag samples', value: lags.length, unit: `of ${lagN}` },
    { measure: 'royalty consumer, LMDB store', value: Math.round(lmdbRate), unit: 'events/s' },
    {
      measure: 'royalty consumer, CQL store (target >= 20000)',
      value: Math.round(cqlRate),
      unit: 'events/s',
    },
    {
      measure: 'royalty streams counted, CQL / LMDB',
      value: `${cqlStreams} / ${lmdbStreams}`,
      unit: `of ${royaltyN} plays`,
    },
    { measure: 'CPU per event, LMDB consumer: node', value: lmdbCpu.nodeUs.toFixed(1), unit: 'us' },
    {
      measure: 'CPU per event, CQL consumer: node / CQL node',
      value: `${cqlCpu.nodeUs.toFixed(1)} / ${cqlCpu.engineUs.toFixed(1)}`,
      unit: 'us',
    },
    { measure: 'load average (1 min)', value: load, unit: '' },
  ]);
  writeResults('events', {
    adapter_publish_per_s: adapterRate,
    ratio,
    lag_p99_ms: percentile(lags, 99),
    royalty_events_per_s: cqlRate,
    royalty_events_per_s_lmdb: lmdbRate,
    royalty_counts_exact: cqlStreams === royaltyN && lmdbStreams === royaltyN,
    raw_publish_per_s: rawRate,
    raw_publish_p50_ms: percentile(raw.latencies, 50),
    raw_publish_p99_ms: percentile(raw.latencies, 99),
    adapter_publish_p50_ms: percentile(ours.latencies, 50),
    adapter_publish_p99_ms: percentile(ours.latencies, 99),
    raw_cpu_us_per_event: rawCpu.nodeUs,
    raw_nats_cpu_us_per_event: rawCpu.engineUs,
    adapter_cpu_us_per_event: oursCpu.nodeUs,
    adapter_nats_cpu_us_per_event: oursCpu.engineUs,
    royalty_lmdb_cpu_us_per_event: lmdbCpu.nodeUs,
    royalty_cql_cpu_us_per_event: cqlCpu.nodeUs,
    royalty_cql_node_cpu_us_per_event: cqlCpu.engineUs,
    lag_p50_ms: percentile(lags, 50),
    lag_offered_per_s: offered,
    lag_samples: lags.length,
    lag_events: lagN,
    events: n,
    royalty_events: royaltyN,
    window: WINDOW,
    // 2-core machine shared with other work: give figures with the load they were measured at.
    load_avg_1m: load,
  });
}
