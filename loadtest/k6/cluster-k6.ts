/**
 * The k6 session test against the nodes of a cluster (the cluster bench's k6 phase): k6 gets
 * every node's WebSocket URL; each VU's listener has an anchor device on one node (the owner)
 * and its session device on the next node in turn, so two sessions in three are relayed
 * (sessions.js, cluster mode). Bounded like run.ts (at most 200 VUs, 60 s, loopback only).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildK6Bundle } from './build.ts';
import { findK6 } from './k6-binary.ts';
import { k6ClusterFigures, k6Figures, type K6ClusterFigures, type K6SummaryExport } from './summary.ts';

export interface ClusterK6Options {
  wsUrls: string[];
  /** One token per VU (one listener each). */
  tokens: string[];
  durationS: number;
  playlist: string;
}

export interface ClusterK6Result extends K6ClusterFigures {
  k6_sessions: number;
  k6_session_ok_rate: number;
  k6_play_p99_ms: number;
  k6_thresholds_passed: boolean;
  k6_vus: number;
}

export async function runClusterK6(opts: ClusterK6Options): Promise<ClusterK6Result> {
  const vus = opts.tokens.length;
  if (vus < 1 || vus > 200) throw new Error(`k6 cluster run: 1 to 200 VUs, got ${vus}`);
  if (opts.durationS < 1 || opts.durationS > 60) throw new Error('k6 cluster run: 1 to 60 s');
  const k6 = findK6();
  const script = await buildK6Bundle();
  const dir = mkdtempSync(join(tmpdir(), 'k6-cluster-'));
  try {
    const tokensFile = join(dir, 'tokens.json');
    writeFileSync(tokensFile, JSON.stringify(opts.tokens));
    const summaryFile = join(dir, 'summary.json');
    console.log(
      `${spawnSync(k6, ['version'], { encoding: 'utf8' }).stdout.trim()}; ${vus} VUs for ${opts.durationS} s on ${opts.wsUrls.length} nodes`,
    );
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(
        k6,
        [
          'run',
          '--quiet',
          '--summary-export',
          summaryFile,
          '-e',
          `WS_URLS=${opts.wsUrls.join(',')}`,
          '-e',
          `TOKENS_FILE=${tokensFile}`,
          '-e',
          `PLAYLIST=${opts.playlist}`,
          '-e',
          `VUS=${vus}`,
          '-e',
          `DURATION=${opts.durationS}`,
          '-e',
          'PROGRESS=3',
          script,
        ],
        { stdio: ['ignore', 'inherit', 'inherit'] },
      );
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (!existsSync(summaryFile)) throw new Error(`k6 exited with ${code} and wrote no summary`);
    const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as K6SummaryExport;
    const all = k6Figures(summary);
    for (const t of all.failed_thresholds) console.log(`k6 threshold FAILED  ${t}`);
    return {
      ...k6ClusterFigures(summary),
      k6_sessions: all.sessions,
      k6_session_ok_rate: all.session_ok_rate,
      k6_play_p99_ms: all.play_p99_ms,
      k6_thresholds_passed: code === 0,
      k6_vus: vus,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
