/**
 * `npm run bench -- webapi [--quick]`: the Spotify Web API player on 127.0.0.1.
 *
 *   1. HTTP player commands (`PUT /v1/me/player/volume`, a new state each) at 1 000
 *      requests/s over 50 listeners, each with a device connected (the state goes to it):
 *      send -> 204, `command_p50_ms`, `command_p99_ms` (target p99 <= 5 ms). Baseline in the
 *      same run: a raw uWebSockets.js server answering the same requests 204 at once.
 *   2. Fan-out: one listener with 100 Server-Sent Events subscribers; a command, then the
 *      time until each subscriber has the state it made: `sse_fanout_p99_ms` (target
 *      <= 10 ms). Baseline: the same state reaching the listener's device socket.
 *
 * The server runs in this process; clients (HTTP, device sockets, SSE streams) run in a child
 * process (this file with `--worker`), so their work does not slow the server's event loop.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import uWS from '@trufflesuite/uws-js-unofficial';
import WebSocket from 'ws';
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { parseConfig } from '../app/config.ts';
import { startApp } from '../app/start-app.ts';
import { percentile, printTable, writeResults } from './report.ts';

const THIS_FILE = fileURLToPath(import.meta.url);
const RATE = 1000;
const LISTENERS = 50;
const SSE_SUBSCRIBERS = 100;

interface WorkerArgs {
  mode: 'commands' | 'fanout';
  base: string;
  wsUrl?: string;
  tokens: string[];
  rate: number;
  warmupMs: number;
  durationMs: number;
  /** fanout: commands sent, one at a time. */
  commands?: number;
}

/** One result line; resolves once written (a pipe would lose it to an exit right after). */
const out = (msg: object) =>
  new Promise<void>((resolve) => process.stdout.write(JSON.stringify(msg) + '\n', () => resolve()));
/** The percentiles the report needs, not the samples (a large line is slow to pass). */
const summary = (xs: number[]) => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99) });

async function device(wsUrl: string, token: string, id: string): Promise<WebSocket> {
  const ws = new WebSocket(wsUrl, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const welcomed = new Promise<void>((resolve) => ws.once('message', () => resolve()));
  ws.send(
    encodeFrame({
      t: 'hello',
      id: 1,
      token,
      device: { id, name: id, type: 'speaker' },
      protocol: PROTOCOL_VERSION,
    }),
  );
  await welcomed;
  return ws;
}

/** One HTTP request; resolves with status, the state version header and the elapsed ms. */
function call(agent: Agent, base: string, method: string, path: string, token: string) {
  return new Promise<{ status: number; version: number; ms: number }>((resolve, reject) => {
    const t0 = performance.now();
    const req = request(
      `${base}${path}`,
      { method, agent, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            version: Number(res.headers['player-state-version'] ?? -1),
            ms: performance.now() - t0,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function commandsWorker(a: WorkerArgs): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const sockets = a.wsUrl
    ? await Promise.all(a.tokens.map((t, i) => device(a.wsUrl!, t, `bench-d${i}`)))
    : [];
  const samples: number[] = [];
  let failures = 0;
  let n = 0;
  const start = performance.now();
  const end = start + a.warmupMs + a.durationMs;
  const inflight = new Set<Promise<void>>();
  // Open loop: requests leave on schedule whatever the answers do (no coordinated omission).
  for (let due = start; due < end; due += 1000 / a.rate) {
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const i = n++;
    const token = a.tokens[i % a.tokens.length]!;
    const measured = due >= start + a.warmupMs;
    // The device named: it is connected, not yet playing (no active device is needed).
    const path = `/v1/me/player/volume?volume_percent=${(i % 90) + 5}&device_id=bench-d${i % a.tokens.length}`;
    const p = call(agent, a.base, 'PUT', path, token).then(
      (r) => {
        if (r.status !== 204) failures++;
        else if (measured) samples.push(r.ms);
      },
      () => void failures++,
    );
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
  for (const s of sockets) s.close();
  agent.destroy();
  await out({ ...summary(samples), failures, sent: n });
}

async function fanoutWorker(a: WorkerArgs): Promise<void> {
  const token = a.tokens[0]!;
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const sock = await device(a.wsUrl!, token, 'fan-d');
  const deviceSeen = new Map<number, number>();
  sock.on('message', (data: Buffer) => {
    const r = decodeServerFrame(new Uint8Array(data));
    if (r.ok && r.frame.t === 'state') deviceSeen.set(r.frame.state.version, performance.now());
  });
  const seen: Map<number, number>[] = [];
  const streams: IncomingMessage[] = [];
  await Promise.all(
    Array.from({ length: SSE_SUBSCRIBERS }, (_, i) => {
      const mine = new Map<number, number>();
      seen.push(mine);
      return new Promise<void>((resolve, reject) => {
        const req = request(
          `${a.base}/v1/me/player/events`,
          { headers: { authorization: `Bearer ${token}` } },
          (res) => {
            streams.push(res);
            let buf = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => {
              buf += chunk;
              let cut: number;
              while ((cut = buf.indexOf('\n\n')) >= 0) {
                const m = /^id: \d+\.(\d+)$/m.exec(buf.slice(0, cut));
                buf = buf.slice(cut + 2);
                if (m) mine.set(Number(m[1]), performance.now());
              }
            });
            resolve();
          },
        );
        req.on('error', reject);
        req.end();
        void i;
      });
    }),
  );
  const fanout: number[] = [];
  const deviceLag: number[] = [];
  let missing = 0;
  for (let i = 0; i < a.commands!; i++) {
    const t0 = performance.now();
    const r = await call(
      agent,
      a.base,
      'PUT',
      `/v1/me/player/volume?volume_percent=${(i % 90) + 5}&device_id=fan-d`,
      token,
    );
    if (r.status !== 204) throw new Error(`command answered ${r.status}`);
    // Every subscriber's copy, waited for (bounded), then measured from the send.
    const deadline = performance.now() + 2000;
    while (seen.some((m) => !m.has(r.version)) && performance.now() < deadline)
      await new Promise((res) => setImmediate(res));
    for (const m of seen) {
      const at = m.get(r.version);
      if (at === undefined) missing++;
      else if (i >= 10) fanout.push(at - t0);
    }
    const d = deviceSeen.get(r.version);
    if (d !== undefined && i >= 10) deviceLag.push(d - t0);
    await new Promise((res) => setTimeout(res, 1000 / a.rate));
  }
  for (const s of streams) s.destroy();
  sock.close();
  agent.destroy();
  await out({ fanout: summary(fanout), device: summary(deviceLag), missing });
}

function runWorker(args: WorkerArgs): Promise<any> {
  const child = spawn(process.execPath, ['--import', 'tsx', THIS_FILE, '--worker', JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let last: unknown;
    createInterface({ input: child.stdout }).on('line', (l) => (last = JSON.parse(l)));
    child.on('exit', (code) => (code === 0 ? resolve(last) : reject(new Error(`worker exited ${code}`))));
  });
}

/** The floor: a raw uWS server answering the same requests 204 at once. */
function rawServer(): Promise<{ port: number; close(): void }> {
  const app = uWS.App();
  app.any('/*', (res, req) => {
    void req;
    res.writeStatus('204 No Content').writeHeader('player-state-version', '1').end();
  });
  return new Promise((resolve, reject) =>
    app.listen('127.0.0.1', 0, (token) => {
      if (!token) return reject(new Error('raw server could not listen'));
      resolve({ port: uWS.us_socket_local_port(token), close: () => uWS.us_listen_socket_close(token) });
    }),
  );
}

export default async function bench(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  // `--rate N`: another request rate (to find where queueing starts); the figures are at 1 000.
  const at = args.indexOf('--rate');
  const rate = at >= 0 ? Number(args[at + 1]) : RATE;
  const durationMs = quick ? 4_000 : 15_000;
  const warmupMs = quick ? 1_000 : 3_000;
  const dir = mkdtempSync(join(tmpdir(), 'webapi-bench-'));
  const app = await startApp(
    parseConfig({
      PORT: '0',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      SESSION_GRACE_MS: '60000',
      RATE_LIMIT: '100000/100000',
      PLAYER_API_RATE_LIMIT: '100000/100000',
    }),
    { demo: 'fixture', pipeline: false },
  );
  const raw = await rawServer();
  try {
    const tokens = await Promise.all(
      Array.from({ length: LISTENERS }, (_, i) =>
        app.server.auth.mint({ userId: `bench-u${i}`, plan: 'premium', country: 'SE' }),
      ),
    );
    const base = app.server.httpUrl;
    // CPU of this process (the server) per answered request: what the shared machine's load
    // does not change, unlike the latencies.
    const cpu0 = process.cpuUsage();
    const baseline = await runWorker({
      mode: 'commands',
      base: `http://127.0.0.1:${raw.port}`,
      tokens,
      rate,
      warmupMs,
      durationMs,
    });
    const cpu1 = process.cpuUsage(cpu0);
    const cpu2 = process.cpuUsage();
    const cmd = await runWorker({
      mode: 'commands',
      base,
      wsUrl: app.server.wsUrl,
      tokens,
      rate,
      warmupMs,
      durationMs,
    });
    const cpu3 = process.cpuUsage(cpu2);
    const perRequest = (c: NodeJS.CpuUsage, n: number) => Math.round((c.user + c.system) / Math.max(1, n));
    const fan = await runWorker({
      mode: 'fanout',
      base,
      wsUrl: app.server.wsUrl,
      tokens: [await app.server.auth.mint({ userId: 'bench-fan', plan: 'premium', country: 'SE' })],
      rate: 20,
      warmupMs: 0,
      durationMs: 0,
      commands: quick ? 60 : 210,
    });
    const load = loadavg()[0]!;
    const figures = {
      command_p50_ms: cmd.p50,
      command_p99_ms: cmd.p99,
      command_samples: cmd.n,
      command_failures: cmd.failures,
      command_server_cpu_us: perRequest(cpu3, cmd.sent),
      baseline_server_cpu_us: perRequest(cpu1, baseline.sent),
      baseline_p50_ms: baseline.p50,
      baseline_p99_ms: baseline.p99,
      command_p99_ratio: cmd.p99 / baseline.p99,
      rate_per_s: rate,
      listeners: LISTENERS,
      sse_fanout_p50_ms: fan.fanout.p50,
      sse_fanout_p99_ms: fan.fanout.p99,
      sse_subscribers: SSE_SUBSCRIBERS,
      sse_missing: fan.missing,
      device_state_p50_ms: fan.device.p50,
      device_state_p99_ms: fan.device.p99,
      load_average_1m: Number(load.toFixed(2)),
    };
    printTable([
      {
        figure: 'HTTP command -> 204 (1 000/s)',
        p50_ms: figures.command_p50_ms,
        p99_ms: figures.command_p99_ms,
        baseline: 'raw uWS 204',
        base_p50: figures.baseline_p50_ms,
        base_p99: figures.baseline_p99_ms,
        target: 'p99 <= 5',
      },
      {
        figure: `command -> state on ${SSE_SUBSCRIBERS} SSE`,
        p50_ms: figures.sse_fanout_p50_ms,
        p99_ms: figures.sse_fanout_p99_ms,
        baseline: 'same state on the device socket',
        base_p50: figures.device_state_p50_ms,
        base_p99: figures.device_state_p99_ms,
        target: 'p99 <= 10',
      },
    ]);
    console.log(
      `server CPU per request: ${figures.command_server_cpu_us} us (raw uWS ${figures.baseline_server_cpu_us} us); ` +
        `load average ${load.toFixed(2)}; failures ${cmd.failures}; sse missing ${fan.missing}`,
    );
    writeResults('webapi', figures);
  } finally {
    raw.close();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') {
  const a = JSON.parse(process.argv[3]!) as WorkerArgs;
  (a.mode === 'commands' ? commandsWorker(a) : fanoutWorker(a)).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
