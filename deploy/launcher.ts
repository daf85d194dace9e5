/**
 * The launcher's verbs, used by the `npm run infra` CLI and by the test runner:
 * `up` makes each engine answer on its configured endpoint (reusing one that already
 * answers, starting ours otherwise, engines in parallel), `down` stops exactly the pids we
 * recorded, `status` says what is where. Engines we did not start are never signalled.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { engineUrls, type EngineUrls } from './engine-urls.ts';
import { probeEngine } from './engine-probes.ts';
import { cassandra } from './engines/cassandra.ts';
import {
  localPort,
  type Engine,
  type EngineContext,
  type EngineName,
  type ServerEngine,
  type ToolEngine,
} from './engines/engine.ts';
import { k6 } from './engines/k6.ts';
import { python } from './engines/python.ts';
import { nats } from './engines/nats.ts';
import { redis } from './engines/redis.ts';
import {
  REPO_ROOT,
  cacheDir,
  clearState,
  engineDir,
  readState,
  recordTiming,
  withEngineLock,
  writeState,
  type EngineState,
  type StartedBy,
} from './infra-state.ts';
import {
  assertPortsFree,
  isOurProcessAlive,
  spawnDetached,
  stopProcess,
  tailFile,
} from './process-control.ts';

export type { EngineName } from './engines/engine.ts';

export const ENGINES: Readonly<Record<EngineName, Engine>> = { nats, redis, cql: cassandra, k6, python };
export const ALL_ENGINES: readonly EngineName[] = ['nats', 'redis', 'cql', 'k6', 'python'];

/** Short: a probe of something that is not there must not slow `up` or `status` down. */
const QUICK_PROBE_MS = 1_500;

export type UpOutcome =
  | {
      engine: EngineName;
      status: 'started';
      endpoint: string;
      pid: number;
      startMs: number;
      installMs: number;
      detail: string;
    }
  | { engine: EngineName; status: 'running'; endpoint: string; pid: number; detail: string }
  | { engine: EngineName; status: 'external'; endpoint: string; detail: string }
  | { engine: EngineName; status: 'installed'; path: string; version: string; installMs: number }
  | { engine: EngineName; status: 'failed'; error: string };

export type DownOutcome = {
  engine: EngineName;
  status: 'stopped' | 'killed' | 'not-running' | 'not-ours' | 'kept' | 'failed';
  detail: string;
};

export type StatusOutcome = {
  engine: EngineName;
  status: 'running' | 'external' | 'stopped' | 'not-answering' | 'installed' | 'missing';
  detail: string;
};

export interface LauncherOptions {
  log?: (message: string) => void;
}

/**
 * The state folder's name for an engine: `<engine>-<port>` for a loopback endpoint (so a
 * launcher on other ports, e.g. a CI clone, never mixes its pids with ours), `<engine>` for
 * tools, null for a remote endpoint the launcher can only probe.
 */
export function instanceOf(engine: Engine, urls: EngineUrls): string | null {
  if (engine.kind === 'tool') return engine.name;
  try {
    return `${engine.name}-${localPort(engine.endpoint(urls), 0).port}`;
  } catch {
    return null;
  }
}

function context(
  engine: Engine,
  instance: string,
  urls: EngineUrls,
  log: (m: string) => void,
): EngineContext {
  return {
    repoRoot: REPO_ROOT,
    cacheDir: cacheDir(),
    stateDir: engineDir(instance),
    urls,
    log: (message) => log(`[${engine.name}] ${message}`),
  };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function parseEngineNames(names: readonly string[]): EngineName[] {
  if (names.length === 0) return [...ALL_ENGINES];
  const unknown = names.filter((name) => !(ALL_ENGINES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown engine ${unknown.join(', ')}: expected some of ${ALL_ENGINES.join(', ')}`);
  }
  return [...new Set(names)] as EngineName[];
}

/** Polls until the engine answers, the process dies, or the start times out. */
async function waitUntilAnswering(
  engine: ServerEngine,
  endpoint: string,
  exited: Promise<string>,
  logFile: string,
): Promise<string> {
  let exit: string | null = null;
  void exited.then((how) => (exit = how));
  const deadline = Date.now() + engine.startTimeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      return (await probeEngine(engine.name, endpoint, 2_000)).detail;
    } catch (err) {
      lastError = message(err);
    }
    if (exit !== null) {
      throw new Error(
        `${engine.name} exited during start (${exit}). Last lines of ${logFile}:\n${tailFile(logFile, 20)}`,
      );
    }
    await delay(engine.name === 'cql' ? 500 : 100);
  }
  throw new Error(
    `${engine.name} did not answer at ${endpoint} within ${engine.startTimeoutMs / 1000} s (${lastError}). ` +
      `Last lines of ${logFile}:\n${tailFile(logFile, 20)}`,
  );
}

function logFileOf(engine: ServerEngine, stateDir: string): string {
  // Cassandra writes its own system.log there through logback; stdout/stderr go beside it.
  return join(stateDir, `${engine.name}.log`);
}

async function upServer(
  engine: ServerEngine,
  instance: string,
  ctx: EngineContext,
  startedBy: StartedBy,
): Promise<UpOutcome> {
  const endpoint = engine.endpoint(ctx.urls);
  // Another launcher may be starting this engine right now: wait for it, then reuse its work.
  return withEngineLock(instance, engine.startTimeoutMs + 15 * 60_000, async () => {
    const state = readState(instance);
    if (state && isOurProcessAlive(state)) {
      const detail = await waitUntilAnswering(
        engine,
        endpoint,
        new Promise(() => undefined),
        logFileOf(engine, ctx.stateDir),
      );
      // `npm run infra -- up` on an engine a test run started: the user wants it kept, so
      // the test runner must no longer stop it.
      if (startedBy === 'infra' && state.startedBy !== 'infra') writeState({ ...state, startedBy });
      return { engine: engine.name, status: 'running', endpoint, pid: state.pid, detail };
    }
    if (state) clearState(instance);
    try {
      const { detail } = await probeEngine(engine.name, endpoint, QUICK_PROBE_MS);
      return { engine: engine.name, status: 'external', endpoint, detail };
    } catch {
      // nothing answers there: ours to start
    }
    const installStarted = Date.now();
    await engine.install(ctx);
    const installMs = Date.now() - installStarted;
    const cold = !existsSync(join(ctx.stateDir, 'data'));
    const command = await engine.prepare(ctx);
    await assertPortsFree(command.listens.host, command.listens.ports, engine.name);
    const logFile = logFileOf(engine, ctx.stateDir);
    const started = Date.now();
    const child = spawnDetached(command.cmd, command.args, { logFile, cwd: ctx.stateDir, env: command.env });
    if (child.pid < 0) throw new Error(`could not spawn ${command.cmd}: ${await child.exited}`);
    const record: EngineState = {
      engine: engine.name,
      instance,
      pid: child.pid,
      startTime: child.startTime,
      endpoint,
      startedBy,
      startedAt: new Date(started).toISOString(),
      startMs: 0,
      installMs,
      command: [command.cmd, ...command.args],
    };
    // Written before the wait, so a `down` during a slow start can still find the pid.
    writeState(record);
    let detail: string;
    try {
      detail = await waitUntilAnswering(engine, endpoint, child.exited, logFile);
    } catch (err) {
      await stopProcess(record, engine.stopGraceMs);
      clearState(instance);
      throw err;
    }
    const startMs = Date.now() - started;
    writeState({ ...record, startMs });
    recordTiming({ engine: engine.name, startMs, installMs, cold, startedBy });
    return { engine: engine.name, status: 'started', endpoint, pid: child.pid, startMs, installMs, detail };
  });
}

async function upTool(tool: ToolEngine, ctx: EngineContext): Promise<UpOutcome> {
  const started = Date.now();
  const { path, version } = await tool.install(ctx);
  const installMs = Date.now() - started;
  recordTiming({ engine: tool.name, installMs });
  return { engine: tool.name, status: 'installed', path, version, installMs };
}

/**
 * Makes every named engine answer, in parallel; never throws for one engine's failure
 * (its outcome says `failed` with the reason) so the others still come up.
 */
export async function up(
  names: readonly EngineName[],
  options: LauncherOptions & { startedBy: StartedBy },
): Promise<UpOutcome[]> {
  const log = options.log ?? ((m: string) => console.error(m));
  const urls = engineUrls();
  return Promise.all(
    names.map(async (name): Promise<UpOutcome> => {
      const engine = ENGINES[name];
      try {
        const instance = instanceOf(engine, urls);
        if (instance === null) {
          // Remote: never ours to start; it must already answer.
          const endpoint = (engine as ServerEngine).endpoint(urls);
          const { detail } = await probeEngine(name as ServerEngine['name'], endpoint, QUICK_PROBE_MS * 2);
          return { engine: name, status: 'external', endpoint, detail };
        }
        const ctx = context(engine, instance, urls, log);
        return engine.kind === 'tool'
          ? await upTool(engine, ctx)
          : await upServer(engine, instance, ctx, options.startedBy);
      } catch (err) {
        return { engine: name, status: 'failed', error: message(err) };
      }
    }),
  );
}

/**
 * Stops the engines we started (optionally only those a given starter started), by the
 * recorded pid; with `wipe`, removes their data too (the next start is a cold one).
 */
export async function down(
  names: readonly EngineName[],
  options: LauncherOptions & { only?: StartedBy; wipe?: boolean } = {},
): Promise<DownOutcome[]> {
  const urls = engineUrls();
  return Promise.all(
    names.map(async (name): Promise<DownOutcome> => {
      const engine = ENGINES[name];
      if (engine.kind === 'tool')
        return { engine: name, status: 'not-running', detail: 'a tool, nothing runs' };
      const instance = instanceOf(engine, urls);
      if (instance === null)
        return { engine: name, status: 'not-ours', detail: `${engine.endpoint(urls)} is remote` };
      try {
        return await withEngineLock(instance, engine.startTimeoutMs + 60_000, async () => {
          const wipe = () => {
            for (const dir of ['data', 'tmp'])
              rmSync(join(engineDir(instance), dir), { recursive: true, force: true });
          };
          const state = readState(instance);
          if (!state) {
            // Our data dir is ours even when nothing runs (what answers there, if anything, is not).
            if (options.wipe) wipe();
            const detail = `no pid recorded by the launcher${options.wipe ? '; its data wiped' : ''}`;
            return { engine: name, status: 'not-ours', detail };
          }
          if (options.only && state.startedBy !== options.only) {
            return {
              engine: name,
              status: 'kept',
              detail: `started by ${state.startedBy}, pid ${state.pid}`,
            };
          }
          const how = await stopProcess(state, engine.stopGraceMs);
          clearState(instance);
          if (options.wipe) wipe();
          const status = how === 'terminated' ? 'stopped' : how === 'killed' ? 'killed' : 'not-running';
          return { engine: name, status, detail: `pid ${state.pid}${options.wipe ? ', data wiped' : ''}` };
        });
      } catch (err) {
        return { engine: name, status: 'failed', detail: message(err) };
      }
    }),
  );
}

export async function status(
  names: readonly EngineName[],
  options: LauncherOptions = {},
): Promise<StatusOutcome[]> {
  const urls = engineUrls();
  return Promise.all(
    names.map(async (name): Promise<StatusOutcome> => {
      const engine = ENGINES[name];
      if (engine.kind === 'tool') {
        const path = engine.installedPath(cacheDir());
        return existsSync(path)
          ? { engine: name, status: 'installed', detail: path }
          : { engine: name, status: 'missing', detail: `run \`npm run infra -- up ${name}\`` };
      }
      const endpoint = engine.endpoint(urls);
      const instance = instanceOf(engine, urls);
      const state = instance === null ? null : readState(instance);
      const ours = state !== null && isOurProcessAlive(state);
      try {
        const { detail } = await probeEngine(engine.name, endpoint, QUICK_PROBE_MS);
        if (ours) {
          const took = state.startMs > 0 ? `, started in ${(state.startMs / 1000).toFixed(1)} s` : '';
          return {
            engine: name,
            status: 'running',
            detail: `${endpoint} pid ${state.pid} (by ${state.startedBy}${took}) ${detail}`,
          };
        }
        return {
          engine: name,
          status: 'external',
          detail: `${endpoint} ${detail} (not started by the launcher)`,
        };
      } catch (err) {
        if (ours)
          return { engine: name, status: 'not-answering', detail: `pid ${state.pid} alive: ${message(err)}` };
        return { engine: name, status: 'stopped', detail: `${endpoint}` };
      }
    }),
  );
}
