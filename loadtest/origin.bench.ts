/**
 * `npm run bench -- origin [seconds] [connections]`: 64 KiB range requests on hot chunks,
 * every request with a signed URL the origin verifies (HMAC-SHA256, constant time), against
 * nginx (Debian) serving the same files as plain static ranges, in the same run, with the
 * same wrk Lua script (nginx ignores the query string). Both servers are single-threaded
 * (uWS event loop / one nginx worker) and wrk runs one thread, so on our 2-core machines
 * each side gets one core.
 *
 * nginx is configured as a production static server would be (see `startNginx`): sendfile,
 * tcp_nodelay, open_file_cache, long keepalive, no access log (tcp_nopush off: why there). A one-
 * connection probe of each side first shows the per-request latency floor (Nagle and
 * delayed ACKs would put it at ~40 ms). Rounds alternate origin/nginx so background load
 * hits both; the best round of each is reported, with its latency percentiles. Writes
 * bench-results/origin.json with `ratio`, `origin_p99_ms`, `nginx_p99_ms` (target: ratio
 * >= 1.0 with origin p99 <= nginx p99).
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HotObjects } from '../origin/hot-objects.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { registerOriginRoutes } from '../origin/origin-routes.ts';
import { UrlSigner } from '../protocol/url-signer.ts';
import { printTable, writeResults } from './report.ts';

const RANGE_BYTES = 64 * 1024;
/** A 320 kbps, 4 s Opus chunk is ~160 KB: the largest objects the player fetches. */
const CHUNK_BYTES = 160 * 1024;
const CHUNKS = 32;
const URL_VARIANTS = 2048;
const ROUNDS = 3;

interface WrkFigures {
  /** CPU seconds wrk itself used (user + system): the client's share of each request. */
  client_cpu_s: number;
  requests: number;
  bytes: number;
  duration_us: number;
  errors_status: number;
  errors_connect: number;
  errors_read: number;
  errors_timeout: number;
  min_us: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
}

async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function luaScript(requests: { path: string; range: string }[]): string {
  const paths = requests.map((r) => `"${r.path}"`).join(',\n');
  const ranges = requests.map((r) => `"${r.range}"`).join(',\n');
  return `local paths = {\n${paths}\n}
local ranges = {\n${ranges}\n}
local i = 0
request = function()
  i = i + 1
  local k = (i % #paths) + 1
  return wrk.format("GET", paths[k], { ["Range"] = ranges[k] })
end
done = function(s, latency, requests)
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"duration_us":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_timeout":%d,"min_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d}\\n',
    s.requests, s.bytes, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.timeout,
    latency.min, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9), latency.max))
end
`;
}

/** Clock ticks per second of /proc's CPU times. */
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** utime, stime, cutime and cstime of a /proc/<pid>/stat line, in seconds. */
function procCpuSeconds(pid: number | 'self'): { own: number; children: number } {
  // Fields after the command name (which may hold spaces): utime, stime, cutime and cstime are
  // the 14th to 17th, so the 12th to 15th after it.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return { own: (f[11]! + f[12]!) / CLOCK_TICKS, children: (f[13]! + f[14]!) / CLOCK_TICKS };
}

async function runWrk(
  base: string,
  script: string,
  seconds: number,
  connections: number,
): Promise<WrkFigures> {
  // wrk's CPU is read from our reaped children's times (cutime/cstime): nothing else of ours
  // exits during a run (nginx's master lives on, its worker is not our child).
  const reaped0 = procCpuSeconds('self').children;
  const child = spawn('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '-s', script, base], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const line = out.split('\n').find((l) => l.startsWith('WRKJSON '));
  if (code !== 0 || !line) throw new Error(`wrk failed (${code}): ${err || out}`);
  const figures = JSON.parse(line.slice('WRKJSON '.length)) as Omit<WrkFigures, 'client_cpu_s'>;
  return { ...figures, client_cpu_s: procCpuSeconds('self').children - reaped0 };
}

/**
 * CPU seconds (user + system) used so far by nginx's workers, from /proc: the master's
 * children. Per request it is the figure load on the machine does not distort (throughput is).
 */
function nginxWorkerCpuSeconds(master: ChildProcess): number {
  const children = readFileSync(`/proc/${master.pid}/task/${master.pid}/children`, 'utf8')
    .trim()
    .split(/\s+/);
  let seconds = 0;
  for (const pid of children.filter(Boolean)) seconds += procCpuSeconds(Number(pid)).own;
  return seconds;
}

/** CPU seconds used so far by this process: the origin's event loop, its GC and its threads. */
const ownCpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function startNginx(prefix: string, objectDir: string, port: number): Promise<ChildProcess> {
  for (const d of ['logs', 'tmp']) mkdirSync(join(prefix, d), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${prefix}/tmp/${t};`)
    .join('\n');
  writeFileSync(
    conf,
    // As a production static/CDN origin is tuned: one worker as our one event loop; sendfile
    // and tcp_nodelay; descriptors and sizes kept open; connections kept alive; no access log.
    // tcp_nopush stays off: with it, nginx (1.22, Linux) clears TCP_NODELAY to cork each
    // sendfile response on a keep-alive connection, and the last partial segment of a 64 KiB
    // range waits for the client's delayed ACK: measured here, a 40 ms p50 at one connection
    // and 25 req/s (10 800 without it). That stall was the 43 ms floor of earlier runs.
    `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; multi_accept on; }
http {
  access_log off;
  sendfile on;
  sendfile_max_chunk 512k;
  tcp_nopush off;
  tcp_nodelay on;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_min_uses 1;
  open_file_cache_errors on;
  keepalive_timeout 75s;
  keepalive_requests 100000000;
  server_tokens off;
${temp}
  default_type audio/webm;
  server {
    listen 127.0.0.1:${port};
    location ~ "^/o/([0-9a-f]{2})([0-9a-f]{62})$" {
      alias ${objectDir}/$1/$2;
      add_header Cache-Control "public, max-age=31536000, immutable";
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', prefix, '-c', conf, '-e', join(prefix, 'logs', 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  // Ready when it answers; fail loudly if it exits first.
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
    const ok = await fetch(`http://127.0.0.1:${port}/`).then(
      () => true,
      () => false,
    );
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`nginx did not answer on ${port}: ${stderr}`);
}

async function stopNginx(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGQUIT'); // graceful: the master stops its worker
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export default async function bench(args: string[]): Promise<void> {
  const seconds = Number(args[0] ?? 5);
  const connections = Number(args[1] ?? 64);
  const dir = mkdtempSync(join(tmpdir(), 'origin-bench-'));
  chmodSync(dir, 0o755); // nginx workers may run as another user
  const objectDir = join(dir, 'objects');
  const store = new ObjectStore(objectDir);
  const signer = new UrlSigner({ activeKid: 'bench', keys: { bench: randomBytes(32).toString('hex') } });
  const keys: string[] = [];
  for (let i = 0; i < CHUNKS; i++) keys.push((await store.put(randomBytes(CHUNK_BYTES))).key);
  const requests = Array.from({ length: URL_VARIANTS }, (_, i) => {
    const start = (i * 7919) % (CHUNK_BYTES - RANGE_BYTES);
    return {
      path: signer.sign(`/o/${keys[i % CHUNKS]}`, Date.now() + 3600_000),
      range: `bytes=${start}-${start + RANGE_BYTES - 1}`,
    };
  });
  const script = join(dir, 'ranges.lua');
  writeFileSync(script, luaScript(requests));

  const app = uWS.App();
  const origin = registerOriginRoutes(app, { objects: store, signer, hot: new HotObjects() });
  const listen = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('origin listen failed')))),
  );
  const originBase = `http://127.0.0.1:${uWS.us_socket_local_port(listen)}`;
  const nginxPort = await sparePort();
  const nginx = await startNginx(join(dir, 'nginx'), objectDir, nginxPort);
  const nginxBase = `http://127.0.0.1:${nginxPort}`;

  try {
    // Same bytes from both, and every chunk hot in the origin (admitted on its second hit).
    for (const r of requests.slice(0, CHUNKS * 2)) {
      const [a, b] = await Promise.all(
        [originBase, nginxBase].map((b) =>
          fetch(b + r.path, { headers: { Range: r.range } }).then(async (res) => ({
            status: res.status,
            body: Buffer.from(await res.arrayBuffer()),
          })),
        ),
      );
      if (a!.status !== 206 || b!.status !== 206 || !a!.body.equals(b!.body)) {
        throw new Error(`origin (${a!.status}) and nginx (${b!.status}) disagree on ${r.range}`);
      }
    }
    if (origin.hot.bytes !== CHUNKS * CHUNK_BYTES)
      throw new Error(`expected every chunk hot, have ${origin.hot.bytes} bytes`);

    await runWrk(originBase, script, 1, connections); // warm-up (JIT, connections)
    await runWrk(nginxBase, script, 1, connections);
    const ms = (us: number) => us / 1000;
    const rate = (f: WrkFigures) => f.requests / (f.duration_us / 1e6);
    const mbs = (f: WrkFigures) => f.bytes / (f.duration_us / 1e6) / 1e6;
    const latencyRow = (f: WrkFigures) => ({
      min_ms: ms(f.min_us),
      p50_ms: ms(f.p50_us),
      p90_ms: ms(f.p90_us),
      p99_ms: ms(f.p99_us),
      p999_ms: ms(f.p999_us),
      max_ms: ms(f.max_us),
    });
    // The floor: one connection, one request at a time. A Nagle/delayed-ACK stall shows as a
    // p50 near 40 ms here; a tuned server answers a 64 KiB range in well under a millisecond.
    const floor: Record<string, WrkFigures> = {};
    const floorRows: Record<string, string | number>[] = [];
    for (const [name, base] of [
      ['origin', originBase],
      ['nginx', nginxBase],
    ] as const) {
      floor[name] = await runWrk(base, script, 2, 1);
      floorRows.push({
        server: name,
        connections: 1,
        req_per_s: Math.round(rate(floor[name])),
        ...latencyRow(floor[name]),
      });
    }
    console.log('latency floor (one connection, sequential requests):');
    printTable(floorRows);
    console.log('');
    const best = { origin: undefined as WrkFigures | undefined, nginx: undefined as WrkFigures | undefined };
    const rows: Record<string, string | number>[] = [];
    const cpuPerReq = { origin: [] as number[], nginx: [] as number[] };
    const clientCpuPerReq = { origin: [] as number[], nginx: [] as number[] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, base] of [
        ['origin', originBase],
        ['nginx', nginxBase],
      ] as const) {
        const cpu = name === 'origin' ? ownCpuSeconds : () => nginxWorkerCpuSeconds(nginx);
        const cpu0 = cpu();
        const f = await runWrk(base, script, seconds, connections);
        const cpuUsPerReq = ((cpu() - cpu0) * 1e6) / f.requests;
        cpuPerReq[name].push(cpuUsPerReq);
        const clientUsPerReq = (f.client_cpu_s * 1e6) / f.requests;
        clientCpuPerReq[name].push(clientUsPerReq);
        const errors = f.errors_status + f.errors_connect + f.errors_read + f.errors_timeout;
        if (errors > 0) throw new Error(`${name}: ${errors} errors in round ${round}: ${JSON.stringify(f)}`);
        rows.push({
          round,
          server: name,
          req_per_s: Math.round(rate(f)),
          mb_per_s: Number(mbs(f).toFixed(1)),
          cpu_us_per_req: Number(cpuUsPerReq.toFixed(1)),
          wrk_cpu_us_per_req: Number(clientUsPerReq.toFixed(1)),
          ...latencyRow(f),
        });
        const prev = best[name];
        if (!prev || rate(f) > rate(prev)) best[name] = f;
      }
    }
    console.log(`${connections} connections, ${seconds} s rounds:`);
    printTable(rows);
    const o = best.origin!;
    const n = best.nginx!;
    const ratio = rate(o) / rate(n);
    const p99Met = o.p99_us <= n.p99_us;
    const cpuMin = (xs: number[]) => Number(Math.min(...xs).toFixed(1));
    console.log(
      `\norigin ${Math.round(rate(o))} req/s (${mbs(o).toFixed(0)} MB/s, p50 ${ms(o.p50_us)} ms, p99 ${ms(o.p99_us)} ms) vs nginx ${Math.round(rate(n))} req/s (${mbs(n).toFixed(0)} MB/s, p50 ${ms(n.p50_us)} ms, p99 ${ms(n.p99_us)} ms): ratio ${ratio.toFixed(3)} (target >= 1.0), p99 ${p99Met ? '<=' : '>'} nginx's (target <=); best round of each`,
    );
    console.log(
      `CPU per request (least of the rounds): origin ${cpuMin(cpuPerReq.origin)} us, nginx worker ${cpuMin(cpuPerReq.nginx)} us; wrk (the client) against origin ${cpuMin(clientCpuPerReq.origin)} us, against nginx ${cpuMin(clientCpuPerReq.nginx)} us`,
    );
    writeResults('origin', {
      ratio: Number(ratio.toFixed(3)),
      origin_p99_ms: ms(o.p99_us),
      nginx_p99_ms: ms(n.p99_us),
      origin_p50_ms: ms(o.p50_us),
      nginx_p50_ms: ms(n.p50_us),
      origin_req_per_s: Math.round(rate(o)),
      nginx_req_per_s: Math.round(rate(n)),
      origin_mb_per_s: Number(mbs(o).toFixed(1)),
      nginx_mb_per_s: Number(mbs(n).toFixed(1)),
      origin_cpu_us_per_req: cpuMin(cpuPerReq.origin),
      nginx_cpu_us_per_req: cpuMin(cpuPerReq.nginx),
      // The client's CPU per request: wrk and the server share the machine's two cores, so
      // what one costs the other has to spend shows in both sides' throughput.
      origin_wrk_cpu_us_per_req: cpuMin(clientCpuPerReq.origin),
      nginx_wrk_cpu_us_per_req: cpuMin(clientCpuPerReq.nginx),
      origin_floor_p50_ms: ms(floor.origin!.p50_us),
      nginx_floor_p50_ms: ms(floor.nginx!.p50_us),
      range_bytes: RANGE_BYTES,
      chunks: CHUNKS,
      chunk_bytes: CHUNK_BYTES,
      seconds_per_round: seconds,
      rounds: ROUNDS,
      connections,
      load_generator: 'wrk -t1 (Lua: rotating signed URLs and 64 KiB ranges)',
      nginx_tuning:
        'worker_processes 1, sendfile, tcp_nodelay, tcp_nopush off (it stalls keep-alive ranges on delayed ACKs), open_file_cache, keepalive, access_log off',
      target_ratio: 1.0,
      target: 'ratio >= 1.0 and origin_p99_ms <= nginx_p99_ms',
      floor_detail: floorRows,
      rounds_detail: rows,
    });
  } finally {
    await stopNginx(nginx);
    uWS.us_listen_socket_close(listen);
    rmSync(dir, { recursive: true, force: true });
  }
}
