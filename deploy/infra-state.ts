/**
 * Where the launcher keeps what it knows: one folder per engine instance (engine and
 * port, e.g. `cql-19042`) under `.cache/infra/` (or INFRA_STATE_DIR) holding `state.json` (pid, start time, who started it, how long
 * it took), the engine's log and its data; per-engine lock files so two launchers
 * (two `npm test` at once) never start the same engine twice; and test-runner leases.
 */
import {
  mkdirSync,
  openSync,
  closeSync,
  readFileSync,
  writeFileSync,
  rmSync,
  readdirSync,
  appendFileSync,
} from 'node:fs';
import { writeSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { isOurProcessAlive, procStartTime, type ProcessId } from './process-control.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Who asked for an engine: the test runner stops what test runners started, never the rest. */
export type StartedBy = 'infra' | 'test-runner';

export interface EngineState extends ProcessId {
  engine: string;
  instance: string;
  endpoint: string;
  startedBy: StartedBy;
  startedAt: string;
  /** Spawn to first successful probe. */
  startMs: number;
  /** Time spent installing before the start (0 when nothing was missing). */
  installMs: number;
  command: string[];
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.INFRA_CACHE_DIR ? resolve(env.INFRA_CACHE_DIR) : join(REPO_ROOT, '.cache');
}

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.INFRA_STATE_DIR ? resolve(env.INFRA_STATE_DIR) : join(cacheDir(env), 'infra');
}

/** `instance` names an engine on a port, e.g. `nats-14222`: other ports get other folders. */
export function engineDir(instance: string): string {
  const dir = join(stateRoot(), instance);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function stateFile(instance: string): string {
  return join(engineDir(instance), 'state.json');
}

export function readState(instance: string): EngineState | null {
  try {
    return JSON.parse(readFileSync(stateFile(instance), 'utf8')) as EngineState;
  } catch {
    return null;
  }
}

export function writeState(state: EngineState): void {
  writeFileSync(stateFile(state.instance), JSON.stringify(state, null, 2) + '\n');
  writeFileSync(join(engineDir(state.instance), 'pid'), `${state.pid}\n`);
}

export function clearState(instance: string): void {
  rmSync(stateFile(instance), { force: true });
  rmSync(join(engineDir(instance), 'pid'), { force: true });
}

/** One line per start, kept across runs: the start-up times the lead asked for. */
export function recordTiming(line: Record<string, unknown>): void {
  appendFileSync(
    join(stateRoot(), 'timings.jsonl'),
    JSON.stringify({ at: new Date().toISOString(), ...line }) + '\n',
  );
}

function ownerOf(file: string): ProcessId | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as ProcessId;
  } catch {
    return null;
  }
}

const self: ProcessId = { pid: process.pid, startTime: procStartTime(process.pid) };

/**
 * Holds `<engine>/lock` while `work` runs. A lock whose holder died is taken over, so a
 * killed launcher never wedges the next one.
 */
export async function withEngineLock<T>(
  instance: string,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const file = join(engineDir(instance), 'lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx');
      writeSync(fd, JSON.stringify(self));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = ownerOf(file);
      if (owner === null || !isOurProcessAlive(owner)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `${instance}: another launcher (pid ${owner.pid}) holds ${file} for more than ${timeoutMs} ms`,
        );
      }
      await delay(200);
    }
  }
  try {
    return await work();
  } finally {
    rmSync(file, { force: true });
  }
}

function leaseDir(): string {
  const dir = join(stateRoot(), 'leases');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * A test runner holds a lease while its tests run. The last runner out stops the engines
 * test runners started; one that finishes while another still tests leaves them running.
 */
export function takeLease(): () => { othersActive: boolean } {
  const file = join(leaseDir(), `${process.pid}.json`);
  writeFileSync(file, JSON.stringify(self));
  return () => {
    rmSync(file, { force: true });
    let othersActive = false;
    for (const name of readdirSync(leaseDir())) {
      const path = join(leaseDir(), name);
      const owner = ownerOf(path);
      if (owner !== null && isOurProcessAlive(owner)) othersActive = true;
      else rmSync(path, { force: true });
    }
    return { othersActive };
  };
}
