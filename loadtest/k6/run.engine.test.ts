/**
 * The k6 session load test, end to end and small: the real k6 binary (built by the
 * launcher) runs the bundled script against an in-process server for a few seconds, and
 * every check of the script must pass (hello, play with prefetch, the prefetched chunk from
 * the origin, a skip that plays the prefetched track with its first-chunk URL). Catches a
 * protocol or behaviour change the script no longer matches. The figures are not judged
 * here (the benchmark does that).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireK6 } from '../../testkit/engines.ts';

let k6: string;
let dir: string;

beforeAll(() => {
  k6 = requireK6();
  dir = mkdtempSync(join(tmpdir(), 'k6-run-test-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runK6(args: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'loadtest/k6/run.ts', ...args], {
      env: { ...process.env, K6_BIN: k6, BENCH_RESULTS_DIR: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`k6 run did not end within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

describe('k6 run', () => {
  it('k6 run - a short run of the session script passes every check with no error frame', async () => {
    const { code, output } = await runK6(['--vus', '3', '--duration', '4', '--progress', '1'], 120_000);
    expect(code, output).toBe(0);
    const figures = JSON.parse(readFileSync(join(dir, 'k6.json'), 'utf8')) as Record<string, unknown>;
    expect(figures.checks_pass_rate, output).toBe(1);
    expect(figures.session_ok_rate, output).toBe(1);
    expect(figures.error_frames).toBe(0);
    expect(figures.thresholds_passed).toBe(true);
  }, 150_000);
});
