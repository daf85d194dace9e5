/**
 * `play_p99_ms_journaled` for `npm run bench -- cluster`: the server-side play latency (play
 * frame in -> its ack out, as the session router measures it) of one in-process cluster node
 * at `rate` plays/s, with the acknowledged-command journal on, beside the same node with it
 * off, in the same run (alternated rounds, so a load swing of the shared machine hits both).
 * With the journal on, an ack leaves only once its step's state is in JetStream, so the
 * figure includes that publish's round trip.
 *
 * The clients run in this process too (raw sockets, MessagePack frames): their CPU is the
 * same for both figures, but an ack that waits for I/O (the journal's publish) also waits for
 * the event loop they share, while without the journal a cached play is answered in the step
 * of its frame and waits for nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import { parseConfig } from '../app/config.ts';
import { startApp } from '../app/start-app.ts';
import { openBenchDevice } from './bench-device.ts';
import { percentile } from './report.ts';

export interface JournalPlayFigures {
  rate: number;
  /** A bare JetStream publish round trip (1 KiB, one at a time) in the same run: the floor. */
  publish: { p50: number; p99: number };
  on: RoundFigures;
  off: RoundFigures;
}

interface RoundFigures {
  p50: number;
  p99: number;
  plays: number;
  /** The process's CPU time (user + system) per play offered, us: the node and its clients. */
  cpuUsPerPlay: number;
  /** Share of the measured time the event loop was busy (0-1). */
  loopBusy: number;
  /**
   * As the device sees it: play sent -> its ack read, ms, over the plays sent in the measured
   * window; one never answered within the round counts as the round's length. This includes
   * the wait of a frame in the socket for the event loop, which the server-side figure starts
   * after, so it shows a node that does not keep up with or without the journal.
   */
  device: { p50: number; p99: number; answered: number };
}

interface RoundSamples {
  latencies: number[];
  device: number[];
  answered: number;
  cpuUs: number;
  sent: number;
  loopBusy: number;
}

interface Options {
  natsUrl: string;
  /** Plays per second offered. */
  rate: number;
  /** Listeners (one device each): 2 plays/s each, as the session bench. */
  listeners: number;
  /** Measured seconds per round (after a warm-up second). */
  seconds: number;
  rounds: number;
}

/** One node, journal `on` or off: its server-side play latencies over `seconds`. */
async function round(o: Options, journal: boolean, tag: string): Promise<RoundSamples> {
  const dir = mkdtempSync(join(tmpdir(), 'journal-bench-'));
  // Not the events stream's name: its subjects (`<stream lower case>.>`) would hold ours.
  const name = `jbc_${tag}`;
  const stream = `JB_${tag.toUpperCase()}`;
  const recorder = { on: false, samples: [] as number[] };
  const app = await startApp(
    parseConfig({
      PORT: '0',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      RATE_LIMIT: '100000/100000',
      SESSION_GRACE_MS: '600000',
      HIBERNATE_AFTER_MS: '600000',
      NATS_URL: o.natsUrl,
      EVENTS_STREAM: stream,
      NODE_ID: 'bench',
      CLUSTER_NAME: name,
      CLUSTER_JOURNAL: journal ? 'on' : 'off',
    }),
    {
      log: pino({ level: 'silent' }),
      demo: 'fixture',
      pipeline: false,
      onPlayLatency: (ms) => recorder.on && recorder.samples.push(ms),
    },
  );
  const sockets: WebSocket[] = [];
  // Each append's own time (call to landed), to tell the publish from the wait behind it.
  const appendLat: number[] = [];
  let appends = 0;
  const j = app.cluster?.journal;
  if (j) {
    const append = j.append.bind(j);
    (j as { append: typeof append }).append = (snapshot) => {
      const t = performance.now();
      appends++;
      return append(snapshot).finally(() => recorder.on && appendLat.push(performance.now() - t));
    };
  }
  try {
    for (let i = 0; i < o.listeners; i++) {
      const user = `jb-${tag}-${i}`;
      const token = await app.server.auth.mint({ userId: user, plan: 'premium', country: 'SE' });
      sockets.push(await openBenchDevice(app.server.wsUrl, token, `${user}-d`));
    }
    const answers = new Map<string, number>();
    const t0 = performance.now();
    const warmEnd = t0 + 1_000;
    const end = warmEnd + o.seconds * 1_000;
    // Send time of play n (request id n + 10), and its round trip once acknowledged (NaN: not yet).
    const capacity = Math.ceil(o.rate * (o.seconds + 2));
    const sentAt = new Float64Array(capacity);
    const roundTrip = new Float64Array(capacity).fill(Number.NaN);
    for (const ws of sockets)
      ws.on('message', (data: Buffer) => {
        if (data.length > 256) return;
        const r = decodeServerFrame(new Uint8Array(data));
        if (!r.ok || (r.frame.t !== 'ack' && r.frame.t !== 'error')) return;
        const k = r.frame.t === 'ack' ? 'ack' : `${r.frame.code}/${r.frame.reason ?? ''}`;
        answers.set(k, (answers.get(k) ?? 0) + 1);
        const n = (r.frame.id ?? 0) - 10;
        if (r.frame.t === 'ack' && n >= 0 && n < capacity) roundTrip[n] = performance.now() - sentAt[n]!;
      });
    const playable = app.demo.trackUris.length;
    let sent = 0;
    let sentAtWarm = 0;
    let cpu0: NodeJS.CpuUsage | undefined;
    let elu0: EventLoopUtilization | undefined;
    let cpuUs = 0;
    let loopBusy = 0;
    await new Promise<void>((done) => {
      const tick = setInterval(() => {
        const now = performance.now();
        recorder.on = now >= warmEnd;
        if (recorder.on && !cpu0) {
          cpu0 = process.cpuUsage();
          elu0 = performance.eventLoopUtilization();
          sentAtWarm = sent;
        }
        if (now >= end) {
          const cpu = process.cpuUsage(cpu0);
          cpuUs = cpu.user + cpu.system;
          loopBusy = performance.eventLoopUtilization(elu0).utilization;
          clearInterval(tick);
          recorder.on = false;
          done();
          return;
        }
        const due = Math.floor(((now - t0) / 1000) * o.rate);
        for (; sent < due && sent < capacity; sent++) {
          const ws = sockets[sent % sockets.length]!;
          sentAt[sent] = now;
          ws.send(
            encodeFrame({
              t: 'play',
              id: sent + 10,
              context: app.demo.playlistUri,
              offset: { index: sent % playable },
            }),
          );
        }
      }, 1);
    });
    if (j)
      console.log(
        `  ${appends} appends; append p50 ${percentile(appendLat, 50).toFixed(2)} ms, p99 ${percentile(appendLat, 99).toFixed(2)} ms`,
      );
    console.log(
      `  ${sent} plays sent; answers ${JSON.stringify(Object.fromEntries(answers))}; ` +
        `${(cpuUs / (sent - sentAtWarm)) | 0} us CPU per play, loop busy ${(loopBusy * 100).toFixed(0)} %`,
    );
    const trips: number[] = [];
    let answered = 0;
    for (let n = sentAtWarm; n < sent; n++) {
      const rt = roundTrip[n]!;
      if (Number.isNaN(rt)) trips.push(end - sentAt[n]!);
      else {
        trips.push(rt);
        answered++;
      }
    }
    return { latencies: recorder.samples, device: trips, answered, cpuUs, sent: sent - sentAtWarm, loopBusy };
  } finally {
    for (const ws of sockets) ws.terminate();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    const nc = await connect({ servers: o.natsUrl });
    try {
      // Every stream and KV bucket the node made under the cluster's name (leases, listeners,
      // tickets, journal: the list grows with the cluster), and the events stream.
      const jsm = await jetstreamManager(nc);
      const ours: string[] = [stream];
      for await (const info of jsm.streams.list())
        if (info.config.name.includes(name)) ours.push(info.config.name);
      for (const s of ours) await jsm.streams.delete(s).catch(() => undefined);
    } finally {
      await nc.close();
    }
  }
}

/** `n` publishes of 1 KiB to a scratch stream, one after another: each round trip, ms. */
async function publishRoundTrips(natsUrl: string, tag: string, n: number): Promise<number[]> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const stream = `JBP_${tag.toUpperCase()}`;
  const out: number[] = [];
  try {
    await jsm.streams.add({ name: stream, subjects: [`jbp_${tag}.>`], max_msgs_per_subject: 1 });
    const js = jsm.jetstream();
    const payload = new Uint8Array(1024);
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await js.publish(`jbp_${tag}.${i % 100}`, payload);
      out.push(performance.now() - t0);
    }
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
  return out;
}

export async function journaledPlayLatency(o: Options): Promise<JournalPlayFigures> {
  const on: RoundSamples[] = [];
  const off: RoundSamples[] = [];
  const run = `${process.pid.toString(36)}${Date.now().toString(36)}`;
  // The first node this process starts stalls for seconds (once per process: its background
  // start-up work), which hit whichever round came first: a short round, not counted, takes it.
  console.log('warm-up round (not counted)...');
  await round({ ...o, seconds: 2 }, false, `${run}_warm`);
  for (let r = 0; r < o.rounds; r++) {
    // Off first in odd rounds, on first in even ones.
    for (const journal of r % 2 === 0 ? [false, true] : [true, false]) {
      const samples = await round(o, journal, `${run}_${r}_${journal ? 'on' : 'off'}`);
      (journal ? on : off).push(samples);
      console.log(
        `journal ${journal ? 'on ' : 'off'} round ${r + 1}: ${samples.latencies.length} plays, p99 ${percentile(samples.latencies, 99).toFixed(2)} ms`,
      );
    }
  }
  const fig = (rounds: RoundSamples[]): RoundFigures => {
    const s = rounds.flatMap((r) => r.latencies);
    const sent = rounds.reduce((n, r) => n + r.sent, 0);
    const d = rounds.flatMap((r) => r.device);
    return {
      device: {
        p50: +percentile(d, 50).toFixed(3),
        p99: +percentile(d, 99).toFixed(3),
        answered: +(rounds.reduce((n, r) => n + r.answered, 0) / Math.max(1, sent)).toFixed(3),
      },
      p50: +percentile(s, 50).toFixed(3),
      p99: +percentile(s, 99).toFixed(3),
      plays: s.length,
      cpuUsPerPlay: Math.round(rounds.reduce((n, r) => n + r.cpuUs, 0) / Math.max(1, sent)),
      loopBusy: +(rounds.reduce((n, r) => n + r.loopBusy, 0) / Math.max(1, rounds.length)).toFixed(2),
    };
  };
  const publish = await publishRoundTrips(o.natsUrl, run, 500);
  return {
    rate: o.rate,
    publish: { p50: +percentile(publish, 50).toFixed(3), p99: +percentile(publish, 99).toFixed(3) },
    on: fig(on),
    off: fig(off),
  };
}
