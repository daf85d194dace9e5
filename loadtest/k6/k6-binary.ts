/** Where the k6 binary is, for run.ts and the cluster bench's k6 phase. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The k6 binary: K6_BIN, the launcher's .cache/k6/bin/k6, /tmp/k6build/bin/k6 or PATH; else a message saying how to get one. */
export function findK6(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.K6_BIN, join(root, '.cache', 'k6', 'bin', 'k6'), '/tmp/k6build/bin/k6'].filter(
    (p): p is string => !!p,
  );
  for (const p of candidates) if (existsSync(p)) return p;
  if (spawnSync('k6', ['version'], { stdio: 'ignore' }).status === 0) return 'k6';
  throw new Error('k6 not found: run `npm run infra -- up k6` (installs .cache/k6/bin/k6) or set K6_BIN');
}
