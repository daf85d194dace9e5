/**
 * Runs the k6 session load test end to end, bounded and on loopback only:
 *   1. bundles loadtest/k6/sessions.js (build.ts);
 *   2. starts the whole app in this process on embedded defaults with a temp DATA_DIR, on a
 *      free port of 127.0.0.1 (as client/demo.ts does);
 *   3. mints one token per VU with the server's own authenticator (premium SE and free US
 *      listeners alternating) into a JSON file k6 reads;
 *   4. runs k6 (constant VUs for a fixed duration), which prints its own summary;
 *   5. prints the key figures and writes bench-results/k6.json; exits with k6's exit code
 *      (99 when a threshold failed).
 *
 *   npx tsx loadtest/k6/run.ts [--vus 50] [--duration 20] [--progress 3]
 *
 * k6 comes from K6_BIN, the launcher's .cache/k6/bin/k6 (`npm run infra -- up k6`),
 * /tmp/k6build/bin/k6, or PATH.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startApp } from '../../app/start-app.ts';
import { parseConfig } from '../../app/config.ts';
import { printTable, writeResults } from '../report.ts';
import { buildK6Bundle } from './build.ts';
import { findK6 } from './k6-binary.ts';
import { histogramBuckets, histogramQuantile } from './server-metrics.ts';
import { k6Figures, type K6SummaryExport } from './summary.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const MAX_VUS = 200;
const MAX_DURATION_S = 60;

function bounded(name: string, raw: string, max: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new Error(`--${name} must be a whole number from 1 to ${max}, got '${raw}'`);
  return n;
}

/** User+system CPU seconds of a live process (Linux /proc); NaN when unreadable. */
function procCpuSeconds(pid: number): number {
  try {
    // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      vus: { type: 'string', default: '50' },
      duration: { type: 'string', default: '20' },
      progress: { type: 'string', default: '3' },
    },
    strict: true,
  });
  const vus = bounded('vus', values.vus, MAX_VUS);
  const durationS = bounded('duration', values.duration, MAX_DURATION_S);
  const progress = bounded('progress', values.progress, 10);
  const k6 = findK6();
  const version = spawnSync(k6, ['version'], { encoding: 'utf8' }).stdout.trim();

  const script = await buildK6Bundle();
  const dir = mkdtempSync(join(tmpdir(), 'k6-sessions-'));
  const app = await startApp(
    parseConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dir, LOG_LEVEL: 'silent' }),
    {
      log: pino({ level: 'silent' }),
      demo: 'fixture',
    },
  );
  try {
    const tokens: string[] = [];
    for (let i = 1; i <= vus; i++) {
      const premium = i % 2 === 1;
      tokens.push(
        await app.server.auth.mint(
          {
            userId: `k6-u${String(i).padStart(3, '0')}`,
            plan: premium ? 'premium' : 'free',
            country: premium ? 'SE' : 'US',
          },
          3600,
        ),
      );
    }
    const tokensFile = join(dir, 'tokens.json');
    writeFileSync(tokensFile, JSON.stringify(tokens));
    const summaryFile = join(dir, 'summary.json');

    console.log(
      `${version}; server ${app.server.wsUrl} (embedded, in this process); ${vus} VUs for ${durationS} s`,
    );
    const cpu0 = process.cpuUsage();
    // Where the latency goes: a busy server shows as event-loop delay, a busy k6 as its CPU.
    const loopDelay = monitorEventLoopDelay({ resolution: 5 });
    loopDelay.enable();
    let k6CpuS = NaN;
    const started = performance.now();
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        k6,
        [
          'run',
          '--quiet',
          '--summary-export',
          summaryFile,
          '-e',
          `WS_URL=${app.server.wsUrl}`,
          '-e',
          `HTTP_URL=${app.server.httpUrl}`,
          '-e',
          `TOKENS_FILE=${tokensFile}`,
          '-e',
          `PLAYLIST=${app.demo.playlistUri}`,
          '-e',
          `VUS=${vus}`,
          '-e',
          `DURATION=${durationS}`,
          '-e',
          `PROGRESS=${progress}`,
          script,
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      const sampler = setInterval(() => {
        const t = child.pid === undefined ? NaN : procCpuSeconds(child.pid);
        if (!Number.isNaN(t)) k6CpuS = t;
      }, 250);
      child.on('error', reject);
      child.on('exit', () => clearInterval(sampler));
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    const wallS = (performance.now() - started) / 1000;
    loopDelay.disable();
    const cpu = process.cpuUsage(cpu0);
    if (!existsSync(summaryFile)) {
      console.error(`k6 exited with ${code} and wrote no summary`);
      return code || 1;
    }
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as K6SummaryExport;
    const metricsText = await (await fetch(`${app.server.httpUrl}/metrics`)).text();
    const playBuckets = histogramBuckets(metricsText, 'session_play_latency_seconds');
    const serverMs = (q: number) => Math.round(histogramQuantile(playBuckets, q) * 1e5) / 100;
    const overMs = (ms: number) =>
      (playBuckets[playBuckets.length - 1]?.count ?? 0) -
      (playBuckets.find((b) => b.le * 1000 >= ms)?.count ?? 0);
    const figures = {
      ...k6Figures(summary),
      vus,
      duration_s: durationS,
      server_play_p50_ms: serverMs(0.5),
      server_play_p99_ms: serverMs(0.99),
      server_plays_over_100ms: overMs(100),
      server_cpu_percent: Math.round(((cpu.user + cpu.system) / 1e6 / wallS) * 1000) / 10,
      server_rss_mib: Math.round(process.memoryUsage().rss / 1048576),
      server_loop_delay_p99_ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
      k6_cpu_percent: Math.round((k6CpuS / wallS) * 1000) / 10,
      machine_load_avg_1m: Math.round(loadavg()[0]! * 100) / 100,
      thresholds_passed: code === 0,
      k6_version: version,
    };
    console.log('');
    printTable(
      Object.entries(figures)
        .filter(([, v]) => typeof v === 'number')
        .map(([figure, value]) => ({ figure, value: value as number })),
    );
    for (const t of figures.failed_thresholds) console.log(`threshold FAILED  ${t}`);
    writeResults('k6', figures);
    if (code !== 0) console.error(`k6 exited with ${code}${code === 99 ? ' (a threshold failed)' : ''}`);
    return code;
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

try {
  process.exit(await main());
} catch (e) {
  console.error(`k6 run: ${(e as Error).message}`);
  process.exit(2);
}
