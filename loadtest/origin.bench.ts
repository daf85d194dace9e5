/**
 * `npm run bench -- origin [seconds] [connections]`: 64 KiB range requests on hot chunks,
 * every request with a signed URL the origin verifies (HMAC-SHA256, constant time), against
 * nginx (Debian) serving the same files as plain static ranges, in the same run, with the
 * same wrk Lua script (nginx ignores the query string). Both servers are single-threaded
 * (uWS event loop / one nginx worker) and wrk runs one thread, so on our 2-core machines
 * each side gets one core. Rounds alternate origin/nginx so background load hits both;
 * the best round of each is reported. Writes bench-results/origin.json with `ratio`,
 * `origin_req_per_s` and `nginx_req_per_s` (target ratio >= 0.5).
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
const ROUNDS = 2;

interface WrkFigures {
  requests: number;
  bytes: number;
  duration_us: number;
  errors_status: number;
  errors_connect: number;
  errors_read: number;
  errors_timeout: number;
  p50_us: number;
  p99_us: number;
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
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"duration_us":%d,"errors_status":%d,"errors_connect":%d,"errors_read":%d,"errors_timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    s.requests, s.bytes, s.duration, s.errors.status, s.errors.connect, s.errors.read, s.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

async function runWrk(
  base: string,
  script: string,
  seconds: number,
  connections: number,
): Promise<WrkFigures> {
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
  return JSON.parse(line.slice('WRKJSON '.length)) as WrkFigures;
}

async function startNginx(prefix: string, objectDir: string, port: number): Promise<ChildProcess> {
  for (const d of ['logs', 'tmp']) mkdirSync(join(prefix, d), { recursive: true });
  const conf = join(prefix, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .map((t) => `  ${t}_temp_path ${prefix}/tmp/${t};`)
    .join('\n');
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000000;
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
    const best = { origin: undefined as WrkFigures | undefined, nginx: undefined as WrkFigures | undefined };
    const rows: Record<string, string | number>[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, base] of [
        ['origin', originBase],
        ['nginx', nginxBase],
      ] as const) {
        const f = await runWrk(base, script, seconds, connections);
        const rps = f.requests / (f.duration_us / 1e6);
        const errors = f.errors_status + f.errors_connect + f.errors_read + f.errors_timeout;
        if (errors > 0) throw new Error(`${name}: ${errors} errors in round ${round}: ${JSON.stringify(f)}`);
        rows.push({
          round,
          server: name,
          req_per_s: Math.round(rps),
          mb_per_s: Number((f.bytes / (f.duration_us / 1e6) / 1e6).toFixed(1)),
          p50_ms: f.p50_us / 1000,
          p99_ms: f.p99_us / 1000,
        });
        const prev = best[name];
        if (!prev || rps > prev.requests / (prev.duration_us / 1e6)) best[name] = f;
      }
    }
    printTable(rows);
    const rate = (f: WrkFigures) => f.requests / (f.duration_us / 1e6);
    const mbs = (f: WrkFigures) => f.bytes / (f.duration_us / 1e6) / 1e6;
    const o = best.origin!;
    const n = best.nginx!;
    const ratio = rate(o) / rate(n);
    console.log(
      `\norigin ${Math.round(rate(o))} req/s (${mbs(o).toFixed(0)} MB/s) vs nginx ${Math.round(rate(n))} req/s (${mbs(n).toFixed(0)} MB/s): ratio ${ratio.toFixed(3)} (target >= 0.5)`,
    );
    writeResults('origin', {
      ratio: Number(ratio.toFixed(3)),
      origin_req_per_s: Math.round(rate(o)),
      nginx_req_per_s: Math.round(rate(n)),
      origin_mb_per_s: Number(mbs(o).toFixed(1)),
      nginx_mb_per_s: Number(mbs(n).toFixed(1)),
      origin_p99_ms: o.p99_us / 1000,
      nginx_p99_ms: n.p99_us / 1000,
      range_bytes: RANGE_BYTES,
      chunks: CHUNKS,
      chunk_bytes: CHUNK_BYTES,
      seconds_per_round: seconds,
      rounds: ROUNDS,
      connections,
      load_generator: 'wrk -t1 (Lua: rotating signed URLs and 64 KiB ranges)',
      target_ratio: 0.5,
      rounds_detail: rows,
    });
  } finally {
    await stopNginx(nginx);
    uWS.us_listen_socket_close(listen);
    rmSync(dir, { recursive: true, force: true });
  }
}
