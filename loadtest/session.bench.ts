/**
 * `npm run bench -- session [--quick] [--plays | --round-trips] [--profile <file>]`: the
 * session server under load, on 127.0.0.1. `--plays` runs only part 2, `--round-trips` only
 * part 1 (no results file); `--profile` writes a CPU profile of the server over the
 * full-rate play window, or the second session round trip run (loadtest/README.md).
 *
 *   1. Round-trip command throughput through the full path (decode, validate, actor,
 *      encode ack + state) with 500 connections, beside a raw uWebSockets.js echo server
 *      answering the same frames, in the same run: `throughput_ratio` (target >= 0.7).
 *   2. Play latency at 1 000 plays/s over 500 listeners: server-side (play frame in ->
 *      playback + prefetch + ack out, from the server's own hook) `play_p50_ms`,
 *      `play_p99_ms` (target p99 <= 2 ms), and client-side round trips (send -> ack, matched
 *      by request id; they include the time a frame waits before the server reads it), plus
 *      server CPU per play (`play_cpu_us`: the session path with its listening events
 *      published to the event log; the pipeline's consumers do not run during the window,
 *      their CPU is measured apart afterwards on the backlog the plays left,
 *      `pipeline_cpu_us_per_play`; target <= 100 us), with its split by thread (Linux), on a
 *      warm server (one unmeasured round first, `play_cpu_cold_us`); the same at half the
 *      rate, to separate queueing from cost.
 *   3. Heap per busy session (one device, playing): `heap_per_busy_session_bytes`.
 *   4. Heap per idle connected session (one device each), server heap delta after GC, with
 *      the sessions hibernated (`heap_per_session_bytes`, target <= 4 096 B at 19 400
 *      sessions) beside the same sessions awake (the baseline); measured last; and the hello
 *      rate. Then the first command to each of 2 000 hibernated sessions: the server's wake
 *      time (`wake_p99_ms`) and the client round trip beside that of the same command to
 *      the same sessions awake. Clients live in a separate process so they do not pollute
 *      the server's heap.
 *
 * The server runs in this process; clients run in a child process (this same file with
 * `--worker <mode>`), talking JSON lines over stdio.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import uWS from '@trufflesuite/uws-js-unofficial';
import WebSocket from 'ws';
import { unpack } from 'msgpackr';
import pino from 'pino';
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import { createAuthenticator } from '../session/auth.ts';
import { parseConfig } from '../app/config.ts';
import { startPipeline } from '../pipeline/start-pipeline.ts';
import type { App } from '../app/start-app.ts';
import { openBenchDevice } from './bench-device.ts';
import { percentile, printTable, writeResults } from './report.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RT_CONNECTIONS = 500;
const PLAY_RATE = 1000;
// 2 plays/s per listener: a play resolves before the next one of the same listener supersedes it.
const PLAY_CONNECTIONS = 500;
const HEAP_SESSIONS_TARGET = 20_000;

// ---------------------------------------------------------------------------------------
// Worker side (clients, separate process)
// ---------------------------------------------------------------------------------------

interface WorkerArgs {
  mode: 'rt' | 'play' | 'idle' | 'busy';
  url: string;
  connections: number;
  userPrefix: string;
  /** false: raw echo server (no hello). */
  hello: boolean;
  warmupMs: number;
  durationMs: number;
  context?: string;
  contextLength?: number;
  rate?: number;
}

const out = (msg: object) => process.stdout.write(JSON.stringify(msg) + '\n');

/**
 * Load-generator tokens: HS256 signed synchronously with node:crypto (jose signs through
 * WebCrypto on the thread pool, which throttles 20 000 mints). The server verifies them with
 * jose like any token; the first one is cross-checked against jose here.
 */
function fastMinter(secret: string): (user: string) => string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = b64({ alg: 'HS256', typ: 'JWT' });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return (user) => {
    const body = `${head}.${b64({ plan: 'premium', country: 'SE', sub: user, exp })}`;
    return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
  };
}

async function openMany(a: WorkerArgs): Promise<WebSocket[]> {
  const secret = parseConfig({}).server.jwtSecret;
  const mint = fastMinter(secret);
  const check = await createAuthenticator(secret).verify(mint('probe'));
  if (!check.ok) throw new Error(`bench token minting is wrong: ${check.message}`);
  const sockets: WebSocket[] = new Array(a.connections);
  let next = 0;
  const lane = async () => {
    while (next < a.connections) {
      const i = next++;
      const user = `${a.userPrefix}${i}`;
      const token = a.hello ? mint(user) : '';
      sockets[i] = await openBenchDevice(a.url, token, `${user}-d`, a.hello);
    }
  };
  await Promise.all(Array.from({ length: Math.min(200, a.connections) }, lane));
  return sockets;
}

/** Closed loop: each connection keeps one command in flight; counts answers in the window. */
async function runRoundTrips(a: WorkerArgs, sockets: WebSocket[]): Promise<void> {
  let counting = false;
  let answered = 0;
  let stop = false;
  const frames = [
    encodeFrame({ t: 'volume', id: 2, percent: 40 }),
    encodeFrame({ t: 'volume', id: 2, percent: 60 }),
  ];
  await new Promise<void>((done) => {
    let finished = 0;
    for (const [i, ws] of sockets.entries()) {
      let k = i;
      const send = () => ws.send(frames[k++ & 1]!);
      ws.on('message', (data: Buffer) => {
        // The session answers ack (plus a state broadcast); the echo answers the frame itself.
        if (a.hello && data[0] !== 0x82) return; // ack is a 2-entry map {t, id}
        if (counting) answered++;
        if (stop) {
          if (++finished === sockets.length) done();
          return;
        }
        send();
      });
      send();
    }
    let cpu0 = process.cpuUsage();
    setTimeout(() => {
      counting = true;
      cpu0 = process.cpuUsage();
      out({ counting: true });
      setTimeout(() => {
        counting = false;
        stop = true;
        const cpu = process.cpuUsage(cpu0);
        const cpuUs = cpu.user + cpu.system;
        out({
          result: {
            roundTripsPerS: answered / (a.durationMs / 1000),
            clientCpuShare: cpuUs / 1000 / a.durationMs,
            clientCpuUsPerRt: cpuUs / Math.max(1, answered),
          },
        });
        setTimeout(done, 300);
      }, a.durationMs);
    }, a.warmupMs);
  });
}

/**
 * Open loop at a fixed rate of plays spread over the connections. Each answer (ack or
 * error) is matched to its request id: the client-side round trip (send -> answer) of the
 * plays sent inside the measuring window, after a warm-up. Only small frames are decoded
 * (answers are ~20-150 bytes; playback, prefetch and state are larger), without schema
 * validation, so the load generator stays cheap and does not inflate the round trips.
 */
async function runPlays(a: WorkerArgs, sockets: WebSocket[]): Promise<void> {
  const rate = a.rate!;
  let sent = 0;
  let errors = 0;
  let acks = 0;
  const sentAt = new Map<number, number>();
  const rtts: number[] = [];
  const t0 = performance.now();
  const windowStart = t0 + a.warmupMs;
  const end = windowStart + a.durationMs;
  let outstanding = 0;
  let drained: (() => void) | undefined;
  for (const ws of sockets) {
    ws.on('message', (data: Buffer) => {
      if (data.length > 256) return;
      const f = unpack(data) as { t?: string; id?: number };
      if (f.t !== 'ack' && f.t !== 'error') return;
      if (f.t === 'error') errors++;
      else acks++;
      const at = f.id === undefined ? undefined : sentAt.get(f.id);
      if (at === undefined) return;
      sentAt.delete(f.id!);
      rtts.push(performance.now() - at);
      if (--outstanding === 0) drained?.();
    });
  }
  await new Promise<void>((done) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(tick);
        done();
        return;
      }
      const due = Math.floor(((now - t0) / 1000) * rate);
      while (sent < due) {
        const ws = sockets[sent % sockets.length]!;
        const id = (sent % 1_000_000) + 10;
        // A context play, so each play also sends a prefetch for the tracks after it.
        ws.send(
          encodeFrame({ t: 'play', id, context: a.context!, offset: { index: sent % a.contextLength! } }),
        );
        const at = performance.now();
        if (at >= windowStart) {
          sentAt.set(id, at);
          outstanding++;
        }
        sent++;
      }
    }, 1);
  });
  const seconds = (performance.now() - t0) / 1000;
  // Answers still on their way: wait for them (bounded), so a backlog shows up as latency.
  if (outstanding > 0) {
    await new Promise<void>((r) => {
      drained = r;
      setTimeout(r, 5000);
    });
  }
  out({
    result: {
      sent,
      acks,
      errors,
      seconds,
      measured: rtts.length + sentAt.size,
      unanswered: sentAt.size,
      rttP50: percentile(rtts, 50),
      rttP99: percentile(rtts, 99),
    },
  });
}

/**
 * One request to each of the first `count` sockets, paced at `rate`/s: the round trip
 * (send -> ack) of each. Used on hibernated sessions (the first command wakes them), then
 * on the same sessions awake.
 */
async function requestEach(sockets: WebSocket[], count: number, rate: number, frame: Uint8Array) {
  const rtts: number[] = [];
  const n = Math.min(count, sockets.length);
  await new Promise<void>((done) => {
    let answered = 0;
    for (let i = 0; i < n; i++) {
      const ws = sockets[i]!;
      const t = setTimeout(
        () => {
          const at = performance.now();
          const onMessage = (data: Buffer) => {
            if (data[0] !== 0x82) return; // the ack ({t, id}); the state broadcast is larger
            ws.off('message', onMessage);
            rtts.push(performance.now() - at);
            if (++answered === n) done();
          };
          ws.on('message', onMessage);
          ws.send(frame);
        },
        (i * 1000) / rate,
      );
      t.unref();
    }
  });
  return { n, rttP50: percentile(rtts, 50), rttP99: percentile(rtts, 99) };
}

/** Idle sessions: held open, answering the main side's requests (one JSON line each on stdin). */
async function holdIdle(sockets: WebSocket[]): Promise<void> {
  const lines = createInterface({ input: process.stdin });
  let volume = 10;
  for await (const line of lines) {
    const cmd = JSON.parse(line) as { t: 'exit' } | { t: 'volume'; count: number; rate: number };
    if (cmd.t === 'exit') break;
    volume = volume === 10 ? 20 : 10;
    const frame = encodeFrame({ t: 'volume', id: 2, percent: volume });
    out({ result: await requestEach(sockets, cmd.count, cmd.rate, frame) });
  }
  lines.close();
}

/** Busy sessions: each plays the context once (paced), then they are held open, playing. */
async function startPlaying(a: WorkerArgs, sockets: WebSocket[]): Promise<void> {
  const frame = encodeFrame({ t: 'play', id: 2, context: a.context!, offset: { index: 0 } });
  const r = await requestEach(sockets, sockets.length, a.rate!, frame);
  out({ result: r });
  await new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
}

async function worker(a: WorkerArgs): Promise<void> {
  const opening = performance.now();
  const sockets = await openMany(a);
  out({ ready: sockets.length, openSeconds: (performance.now() - opening) / 1000 });
  if (a.mode === 'rt') await runRoundTrips(a, sockets);
  else if (a.mode === 'play') await runPlays(a, sockets);
  else if (a.mode === 'busy') await startPlaying(a, sockets);
  else await holdIdle(sockets);
  for (const ws of sockets) ws.terminate();
  out({ done: true });
}

interface PlayResult {
  sent: number;
  acks: number;
  errors: number;
  seconds: number;
  /** Plays sent inside the window, and those of them never answered. */
  measured: number;
  unanswered: number;
  rttP50: number;
  rttP99: number;
}

// ---------------------------------------------------------------------------------------
// Main side (server, this process)
// ---------------------------------------------------------------------------------------

function spawnWorker(args: WorkerArgs): {
  child: ChildProcessWithoutNullStreams;
  next: () => Promise<Record<string, unknown>>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--worker', JSON.stringify(args)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(`[worker] ${d}`));
  const lines = createInterface({ input: child.stdout });
  const queue: Record<string, unknown>[] = [];
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  lines.on('line', (l) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(l) as Record<string, unknown>;
    } catch {
      return;
    }
    const w = waiting.shift();
    if (w) w(m);
    else queue.push(m);
  });
  const exited = new Promise<never>((_, reject) =>
    lines.once('close', () => reject(new Error('worker exited'))),
  );
  exited.catch(() => undefined); // a normal exit after `done` is not an error
  return {
    child,
    next: () =>
      Promise.race([
        queue.length
          ? Promise.resolve(queue.shift()!)
          : new Promise<Record<string, unknown>>((r) => waiting.push(r)),
        exited,
      ]),
  };
}

function startEcho(): Promise<{ port: number; close: () => void }> {
  const app = uWS.App();
  // The same limits as the session transport, answering each frame with itself.
  app.ws('/*', {
    maxPayloadLength: 16 * 1024 * 8,
    maxBackpressure: 1 << 20,
    compression: uWS.DISABLED,
    idleTimeout: 120,
    message: (ws, message, isBinary) => {
      ws.send(message, isBinary, false);
    },
  });
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (token) => {
      if (!token) return reject(new Error('echo: cannot listen'));
      resolve({ port: uWS.us_socket_local_port(token), close: () => uWS.us_listen_socket_close(token) });
    });
  });
}

function gcFn(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function heapAfterGc(gc: () => void): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

type BenchApp = Awaited<ReturnType<typeof import('../app/start-app.ts').startApp>>;

/**
 * Hibernates every live session that can be, until all have (the play phases' sessions
 * pause once their device's grace is over), bounded: the heap is then measured with no
 * session changing underneath. Returns how long the last pass took, per session hibernated.
 */
async function hibernateAll(
  app: BenchApp,
  timeoutMs: number,
): Promise<{ usPerSession: number; all: boolean }> {
  const { registry, hibernation } = app.server;
  const deadline = performance.now() + timeoutMs;
  let usPerSession = 0;
  for (;;) {
    const t0 = performance.now();
    const n = hibernation.hibernateNow();
    if (n > 0) usPerSession = ((performance.now() - t0) * 1000) / n;
    if (hibernation.hibernated >= registry.size) return { usPerSession, all: true };
    if (performance.now() > deadline) return { usPerSession, all: false };
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Heap per playing session: `count` listeners each start the demo context and keep playing. */
async function busyHeap(app: BenchApp, gc: () => void, count: number) {
  await hibernateAll(app, 30_000);
  const base = await heapAfterGc(gc);
  const busy = spawnWorker({
    mode: 'busy',
    url: app.server.wsUrl,
    connections: count,
    userPrefix: 'busy',
    hello: true,
    warmupMs: 0,
    durationMs: 0,
    context: app.demo.playlistUri,
    rate: 500,
  });
  await busy.next(); // ready
  await busy.next(); // every play answered
  const loaded = await heapAfterGc(gc);
  busy.child.stdin.write('x\n');
  await busy.next(); // done
  return { perSession: (loaded - base) / count, count };
}

/**
 * The first command to hibernated sessions: each wakes its actor. Server side, the wake
 * itself (decode + resume, from the server's hook); client side, the round trip beside that
 * of the same command to the same sessions awake, right after. A first round, unmeasured,
 * pays what any session's first command costs (its first snapshot save, a first encoding):
 * measured, it made a never-hibernated session's first command look ~100x slower than its
 * second on this machine.
 */
async function wakeLatency(
  app: BenchApp,
  idle: ReturnType<typeof spawnWorker>,
  wakes: number[],
  count: number,
): Promise<{ wakeP50: number; wakeP99: number; asleep: PlayResultLite; awake: PlayResultLite; n: number }> {
  const round = async () => {
    idle.child.stdin.write(JSON.stringify({ t: 'volume', count, rate: 1000 }) + '\n');
    return ((await idle.next()) as { result: PlayResultLite }).result;
  };
  await round();
  // Their first saves, armed by the round above, written before the measured rounds.
  await new Promise((r) => setTimeout(r, 2000));
  app.server.hibernation.hibernateNow();
  wakes.length = 0;
  const asleep = await round();
  const sample = [...wakes];
  const awake = await round();
  return {
    wakeP50: percentile(sample, 50),
    wakeP99: percentile(sample, 99),
    asleep,
    awake,
    n: sample.length,
  };
}

interface PlayResultLite {
  n: number;
  rttP50: number;
  rttP99: number;
}

async function roundTrips(url: string, hello: boolean, prefix: string, quick: boolean): Promise<number> {
  const w = spawnWorker({
    mode: 'rt',
    url,
    connections: RT_CONNECTIONS,
    userPrefix: prefix,
    hello,
    warmupMs: 1000,
    durationMs: quick ? 1500 : 3000,
  });
  await w.next(); // ready
  await w.next(); // the window starts
  const cpu0 = process.cpuUsage();
  const m = (await w.next()) as {
    result: { roundTripsPerS: number; clientCpuShare: number; clientCpuUsPerRt: number };
  };
  const cpu = process.cpuUsage(cpu0);
  await w.next(); // done
  const r = m.result;
  const windowMs = quick ? 1500 : 3000;
  const serverUs = cpu.user + cpu.system;
  // Which side bounds the loop: a process near a whole core (the server: this process, every
  // thread) is the limit; both well below it is a machine short of CPU.
  console.log(
    `  ${prefix}: ${Math.round(r.roundTripsPerS)}/s; client process ${(r.clientCpuShare * 100).toFixed(0)} % of a core (${r.clientCpuUsPerRt.toFixed(1)} us per round trip), server ${((serverUs / 1000 / windowMs) * 100).toFixed(0)} % (${(serverUs / Math.max(1, r.roundTripsPerS * (windowMs / 1000))).toFixed(1)} us)`,
  );
  return r.roundTripsPerS;
}

/**
 * CPU of the pipeline's consumers per play, measured apart from the session path: started
 * after the plays on the backlog they left in the event log, until the process has been
 * quiet (below 5 % of a core) for half a second, then stopped.
 */
async function consumerCpuPerPlay(app: App, warehouseDir: string, plays: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const pipeline = await startPipeline({
    source: app.eventLog.source,
    royalties: app.stores.royalties,
    features: app.stores.features,
    history: app.stores.history,
    exportDir: warehouseDir,
    log: pino({ level: 'silent' }),
  });
  let quietTicks = 0;
  let last = process.cpuUsage();
  while (quietTicks < 5 && performance.now() - t0 < 60_000) {
    await new Promise((r) => setTimeout(r, 100));
    const d = process.cpuUsage(last);
    last = process.cpuUsage();
    quietTicks = d.user + d.system < 5_000 ? quietTicks + 1 : 0;
  }
  await pipeline.stop();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / plays;
}

interface RoundTripFigures {
  sessionRt: number;
  echoRt: number;
  ratio: number;
}

/**
 * Round trips: session full path vs raw uWS echo on the same frames. Interleaved, twice
 * each, so a change in the machine's load (it is shared) falls on both sides of the ratio.
 */
async function measureRoundTrips(
  app: App,
  echoPort: number,
  quick: boolean,
  t0: number,
  profileFile?: string,
): Promise<RoundTripFigures> {
  const echoRuns: number[] = [];
  const sessionRuns: number[] = [];
  // One unmeasured session round first: the first commands through the server compile its
  // whole path (measured at a tenth of the later rounds' rate), which the echo has no
  // counterpart of; a server in production is warm.
  await roundTrips(app.server.wsUrl, true, 'rtwarm-', true);
  for (let round = 0; round < 2; round++) {
    echoRuns.push(await roundTrips(`ws://127.0.0.1:${echoPort}/`, false, `echo${round}-`, quick));
    const profiler = profileFile && round === 1 ? await startProfile() : undefined;
    sessionRuns.push(await roundTrips(app.server.wsUrl, true, `rt${round}-`, quick));
    if (profiler) await profiler.stop(profileFile!);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const echoRt = mean(echoRuns);
  const sessionRt = mean(sessionRuns);
  console.log(
    `[${((performance.now() - t0) / 1000).toFixed(1)} s] round trips: session ${sessionRuns.map(Math.round).join(', ')}/s, echo ${echoRuns.map(Math.round).join(', ')}/s`,
  );
  return { sessionRt, echoRt, ratio: sessionRt / echoRt };
}

/**
 * A CPU profile of this process (the server) over one window, written as a .cpuprofile:
 * `--profile <file>` profiles the full-rate play window only, not start-up or the clients.
 */
async function startProfile(): Promise<{ stop(file: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return {
    async stop(file) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
      console.log(`wrote ${file}`);
    },
  };
}

/**
 * CPU by thread of this process (Linux /proc; empty elsewhere), in microseconds: where the
 * CPU of a play goes besides the main thread (lmdb's writer, V8's GC helpers, libuv's pool).
 */
function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of stat (11 and 12 after the name), in ticks of 10 ms.
      const us = (Number(fields[11]) + Number(fields[12])) * 10_000;
      const key = tid === String(process.pid) ? 'main' : name.replace(/\d+$/, '#');
      out.set(key, (out.get(key) ?? 0) + us);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

const threadCpuSince = (before: Map<string, number>, plays: number): Record<string, number> => {
  const after = threadCpu();
  const out: Record<string, number> = {};
  for (const [k, v] of after) {
    const d = Math.round((v - (before.get(k) ?? 0)) / plays);
    if (d > 0) out[k] = d;
  }
  return out;
};

interface PlayFigures {
  /** The first (unmeasured) full-rate round on a new server: its CPU includes compiling. */
  cold: { cpuPerPlayUs: number; threads: Record<string, number> };
  full: { r: PlayResult; server: number[]; cpuPerPlayUs: number; threads: Record<string, number> };
  half: { r: PlayResult; server: number[]; cpuPerPlayUs: number; threads: Record<string, number> };
  /** CPU of the pipeline's consumers per play of the full-rate run, measured apart. */
  pipelineCpuPerPlayUs: number;
}

/**
 * Play latency at the target rate, then at half of it: the pair tells queueing in a
 * saturated event loop (grows with the rate) from a fixed cost per play. `onPlayLatency`
 * samples come through `recorder`.
 */
async function measurePlays(
  app: App,
  warehouseDir: string,
  quick: boolean,
  recorder: { samples: number[]; recording: boolean },
  profileFile?: string,
): Promise<PlayFigures> {
  const playAt = async (rate: number, prefix: string, durationMs: number, profile?: string) => {
    const play = spawnWorker({
      mode: 'play',
      url: app.server.wsUrl,
      connections: PLAY_CONNECTIONS,
      userPrefix: prefix,
      hello: true,
      warmupMs: 1000,
      durationMs,
      context: app.demo.playlistUri,
      // Offsets before the SE-blocked 4th track, so no play is skipped or refused.
      contextLength: 3,
      rate,
    });
    await play.next();
    recorder.samples.length = 0;
    setTimeout(() => (recorder.recording = true), 1000);
    const profiler = profile ? await startProfile() : undefined;
    const threads0 = threadCpu();
    const cpu0 = process.cpuUsage();
    const pr = (await play.next()) as { result: PlayResult };
    const cpu = process.cpuUsage(cpu0);
    const threads = threadCpuSince(threads0, pr.result.sent);
    if (profiler) await profiler.stop(profile!);
    recorder.recording = false;
    await play.next();
    return {
      r: pr.result,
      server: [...recorder.samples],
      // Server CPU (this process, every thread: session path, event log writes, GC) per
      // play sent; the pipeline's consumers are not running.
      cpuPerPlayUs: (cpu.user + cpu.system) / pr.result.sent,
      threads,
    };
  };
  // One unmeasured round first, as for the round trips: the first plays through a new
  // server compile its play path (V8's compiler threads then took ~40 % of the process CPU
  // of the window, and the main thread ran unoptimized code), a cost paid once per process.
  // Its figure is kept (`play_cpu_cold_us`); the measured window is the warm server's.
  const cold = await playAt(PLAY_RATE, 'coldplay', quick ? 3000 : 5000);
  const full = await playAt(PLAY_RATE, 'play', quick ? 3000 : 8000, profileFile);
  // The backlog holds the events of both rounds.
  const fullConsumers = await consumerCpuPerPlay(app, warehouseDir, cold.r.sent + full.r.sent);
  const half = await playAt(PLAY_RATE / 2, 'half', quick ? 2000 : 4000);
  return { cold, full, half, pipelineCpuPerPlayUs: fullConsumers };
}

function playRows(p: PlayFigures): Record<string, string | number>[] {
  const { full, half } = p;
  return [
    {
      measure: `play p50 ms, server: frame in -> playback+prefetch+ack out (${full.server.length} @ ${PLAY_RATE}/s)`,
      value: percentile(full.server, 50),
      baseline: '-',
      ratio: '-',
      target: '-',
    },
    {
      measure: 'play p99 ms, server',
      value: percentile(full.server, 99),
      baseline: '-',
      ratio: '-',
      target: '<= 2',
    },
    {
      measure: `play p50 ms, client round trip (${full.r.measured} plays)`,
      value: full.r.rttP50,
      baseline: '-',
      ratio: '-',
      target: '-',
    },
    {
      measure: 'play p99 ms, client round trip',
      value: full.r.rttP99,
      baseline: '-',
      ratio: '-',
      target: '-',
    },
    {
      measure: 'server CPU per play, us (session path, events published)',
      value: Math.round(full.cpuPerPlayUs),
      baseline: 1205,
      ratio: full.cpuPerPlayUs / 1205,
      target: '<= 100',
    },
    {
      measure: 'same, first round on the new server (compiling; not the figure)',
      value: Math.round(p.cold.cpuPerPlayUs),
      baseline: '-',
      ratio: '-',
      target: '-',
    },
    {
      measure: 'pipeline consumers CPU per play, us (measured apart)',
      value: Math.round(p.pipelineCpuPerPlayUs),
      baseline: '-',
      ratio: '-',
      target: '-',
    },
    {
      measure: `play p99 ms at ${PLAY_RATE / 2}/s: server / client round trip`,
      value: `${percentile(half.server, 99).toFixed(3)} / ${half.r.rttP99.toFixed(3)}`,
      baseline: '-',
      ratio: '-',
      target: '-',
    },
  ];
}

function playResults(p: PlayFigures): Record<string, unknown> {
  const { full, half } = p;
  return {
    play_cpu_us: Math.round(full.cpuPerPlayUs),
    play_cpu_note: 'session path with events published to the event log; pipeline consumers measured apart',
    pipeline_cpu_us_per_play: Math.round(p.pipelineCpuPerPlayUs),
    play_p50_ms: Number(percentile(full.server, 50).toFixed(3)),
    play_p99_ms: Number(percentile(full.server, 99).toFixed(3)),
    play_samples: full.server.length,
    play_client_rtt_p50_ms: Number(full.r.rttP50.toFixed(3)),
    play_client_rtt_p99_ms: Number(full.r.rttP99.toFixed(3)),
    play_unanswered: full.r.unanswered,
    play_half_rate_per_s: PLAY_RATE / 2,
    play_half_p50_ms: Number(percentile(half.server, 50).toFixed(3)),
    play_half_p99_ms: Number(percentile(half.server, 99).toFixed(3)),
    play_half_client_rtt_p50_ms: Number(half.r.rttP50.toFixed(3)),
    play_half_client_rtt_p99_ms: Number(half.r.rttP99.toFixed(3)),
    play_half_cpu_us: Math.round(half.cpuPerPlayUs),
    play_cpu_us_by_thread: full.threads,
    play_cpu_cold_us: Math.round(p.cold.cpuPerPlayUs),
    play_cpu_cold_us_by_thread: p.cold.threads,
  };
}

export default async function bench(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  // `--plays`: only the play measurements, no results file (profiling the per-play path).
  const playsOnly = args.includes('--plays');
  const profileAt = args.indexOf('--profile');
  const profileFile = profileAt >= 0 ? args[profileAt + 1] : undefined;
  const { startApp } = await import('../app/start-app.ts');
  const dir = mkdtempSync(join(tmpdir(), 'session-bench-'));
  const recorder = { samples: [] as number[], recording: false };
  const wakes: number[] = [];
  const config = parseConfig({
    PORT: '0',
    DATA_DIR: dir,
    LOG_LEVEL: 'silent',
    RATE_LIMIT: '100000/100000',
    SESSION_GRACE_MS: '600000',
    // Past the time to open every idle session, so they are measured awake, then hibernated
    // at once (hibernateAll): the same sessions both ways.
    HIBERNATE_AFTER_MS: '300000',
  });
  // The pipeline's consumers are measured apart (consumerCpuPerPlay), not during the plays.
  const app = await startApp(config, {
    log: pino({ level: 'silent' }),
    demo: 'fixture',
    pipeline: false,
    onPlayLatency: (ms) => recorder.recording && recorder.samples.push(ms),
    onWake: (ms) => wakes.push(ms),
  });
  const gc = gcFn();
  const echo = await startEcho();
  const t0 = performance.now();
  try {
    if (args.includes('--round-trips')) {
      // Only part 1, no results file; `--profile` covers the second measured session round.
      const rt = await measureRoundTrips(app, echo.port, quick, t0, profileFile);
      console.log(
        `ratio ${rt.ratio.toFixed(3)}; load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      return;
    }
    if (playsOnly) {
      const plays = await measurePlays(app, config.pipeline.warehouseDir, quick, recorder, profileFile);
      printTable(playRows(plays));
      console.log(
        `CPU per play by thread, us: ${JSON.stringify(plays.full.threads)} (first round: ${JSON.stringify(plays.cold.threads)})`,
      );
      console.log(
        `load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
      );
      return;
    }
    // 1. Round trips.
    const rt = await measureRoundTrips(app, echo.port, quick, t0);

    // 2. Plays.
    const plays = await measurePlays(app, config.pipeline.warehouseDir, quick, recorder, profileFile);
    const { r } = plays.full;
    console.log(
      `[${((performance.now() - t0) / 1000).toFixed(1)} s] plays at ${PLAY_RATE}/s and ${PLAY_RATE / 2}/s done`,
    );

    // 3. Heap per busy (playing) session.
    const busy = await busyHeap(app, gc, quick ? 300 : 1000);
    console.log(
      `[${((performance.now() - t0) / 1000).toFixed(1)} s] heap: ${busy.count} playing sessions -> ${Math.round(busy.perSession)} B/session`,
    );

    // 4. Heap per idle session, last: the latency figures above are measured on a server that
    //    does not also hold ~20 000 unrelated sessions (their heap makes every full GC
    //    slower). Baseline after a warm-up batch of sessions, every earlier session hibernated
    //    (those of the play phases once their device's grace is over).
    const fdLimit = 20_000;
    const sessions = Math.min(HEAP_SESSIONS_TARGET, quick ? 2000 : fdLimit - 600);
    const warm = spawnWorker({
      mode: 'idle',
      url: app.server.wsUrl,
      connections: 200,
      userPrefix: 'warm',
      hello: true,
      warmupMs: 0,
      durationMs: 0,
    });
    await warm.next();
    const settled = await hibernateAll(app, 30_000);
    const base = await heapAfterGc(gc);
    const idle = spawnWorker({
      mode: 'idle',
      url: app.server.wsUrl,
      connections: sessions,
      userPrefix: 'idle',
      hello: true,
      warmupMs: 0,
      durationMs: 0,
    });
    const opened = (await idle.next()) as { openSeconds: number };
    const hellosPerS = sessions / opened.openSeconds;
    // Awake (opened within HIBERNATE_AFTER_MS), then hibernated at once: the same sessions.
    const awakeHeap = await heapAfterGc(gc);
    const external0 = process.memoryUsage().external;
    const hibernating = await hibernateAll(app, 30_000);
    const loaded = await heapAfterGc(gc);
    const externalPerSession = (process.memoryUsage().external - external0) / sessions;
    const heapPerSession = (loaded - base) / sessions;
    const heapPerAwakeSession = (awakeHeap - base) / sessions;
    console.log(
      `[${((performance.now() - t0) / 1000).toFixed(1)} s] heap: ${sessions} idle sessions, +${((loaded - base) / 1048576).toFixed(1)} MiB -> ${Math.round(heapPerSession)} B/session hibernated, ${Math.round(heapPerAwakeSession)} awake; all hibernated: ${settled.all && hibernating.all}`,
    );
    const wake = await wakeLatency(app, idle, wakes, Math.min(2000, sessions));
    idle.child.stdin.write(JSON.stringify({ t: 'exit' }) + '\n');
    warm.child.stdin.write(JSON.stringify({ t: 'exit' }) + '\n');
    await Promise.all([idle.next(), warm.next()]);

    printTable([
      {
        measure: 'round trips/s, session full path (500 conns)',
        value: Math.round(rt.sessionRt),
        baseline: Math.round(rt.echoRt),
        ratio: rt.ratio,
        target: '>= 0.7',
      },
      ...playRows(plays),
      {
        measure: `heap per playing session, bytes (${busy.count} sessions)`,
        value: Math.round(busy.perSession),
        baseline: '-',
        ratio: '-',
        target: '-',
      },
      {
        measure: `heap per idle session, bytes (${sessions} sessions): hibernated / awake`,
        value: Math.round(heapPerSession),
        baseline: Math.round(heapPerAwakeSession),
        ratio: heapPerSession / heapPerAwakeSession,
        target: '<= 4096',
      },
      {
        measure: `wake ms, server: decode + resume (${wake.n} hibernated sessions) p50 / p99`,
        value: `${wake.wakeP50.toFixed(3)} / ${wake.wakeP99.toFixed(3)}`,
        baseline: '-',
        ratio: '-',
        target: '-',
      },
      {
        measure: 'first command round trip ms p50 / p99: hibernated / awake',
        value: `${wake.asleep.rttP50.toFixed(2)} / ${wake.asleep.rttP99.toFixed(2)}`,
        baseline: `${wake.awake.rttP50.toFixed(2)} / ${wake.awake.rttP99.toFixed(2)}`,
        ratio: wake.asleep.rttP99 / wake.awake.rttP99,
        target: '-',
      },
      {
        measure: 'session opening, hellos/s (one client process)',
        value: Math.round(hellosPerS),
        baseline: '-',
        ratio: '-',
        target: '-',
      },
    ]);
    console.log(
      `plays sent ${r.sent}, acked ${r.acks}, error frames ${r.errors}, unanswered after 5 s ${r.unanswered}; total ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    writeResults('session', {
      throughput_ratio: Number(rt.ratio.toFixed(3)),
      session_round_trips_per_s: Math.round(rt.sessionRt),
      echo_round_trips_per_s: Math.round(rt.echoRt),
      ...playResults(plays),
      heap_per_session_bytes: Math.round(heapPerSession),
      heap_per_awake_idle_session_bytes: Math.round(heapPerAwakeSession),
      external_per_idle_session_bytes: Math.round(externalPerSession),
      heap_per_busy_session_bytes: Math.round(busy.perSession),
      heap_busy_sessions: busy.count,
      hibernate_us_per_session: Number(hibernating.usPerSession.toFixed(1)),
      wake_p50_ms: Number(wake.wakeP50.toFixed(3)),
      wake_p99_ms: Number(wake.wakeP99.toFixed(3)),
      wake_samples: wake.n,
      wake_rtt_p50_ms: Number(wake.asleep.rttP50.toFixed(3)),
      wake_rtt_p99_ms: Number(wake.asleep.rttP99.toFixed(3)),
      awake_rtt_p50_ms: Number(wake.awake.rttP50.toFixed(3)),
      awake_rtt_p99_ms: Number(wake.awake.rttP99.toFixed(3)),
      heap_sessions: sessions,
      heap_sessions_note:
        sessions < HEAP_SESSIONS_TARGET
          ? `capped below ${HEAP_SESSIONS_TARGET} by the open-files limit (${fdLimit}) of this machine`
          : undefined,
      hellos_per_s: Math.round(hellosPerS),
      connections: RT_CONNECTIONS,
      load_average_1m: Number(loadavg()[0]!.toFixed(2)),
      quick,
    });
  } finally {
    echo.close();
    // Skip saving ~20k bench snapshots: close the sockets and drop the temp data.
    await app.server.close().catch(() => undefined);
    await app.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') {
  worker(JSON.parse(process.argv[3]!) as WorkerArgs).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
