/**
 * What the launcher needs to know about each engine. A server engine (NATS, Redis, the
 * CQL node) is installed, spawned as one process and probed until it answers; a tool
 * engine (k6) is only installed and checked.
 */
import type { EngineUrls } from '../engine-urls.ts';
import type { ProbedEngine } from '../engine-probes.ts';

export type EngineName = ProbedEngine | 'k6' | 'python';

export interface EngineContext {
  /** Repository root (for templates under deploy/). */
  repoRoot: string;
  /** `.cache/` (or INFRA_CACHE_DIR): installed artefacts shared by every start. */
  cacheDir: string;
  /** `.cache/infra/<engine>/`: this engine's data, log and pid. */
  stateDir: string;
  urls: EngineUrls;
  log: (message: string) => void;
}

export interface LaunchCommand {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Every port the process will bind on `host`: checked free before the spawn. */
  listens: { host: string; ports: number[] };
}

export interface ServerEngine {
  kind: 'server';
  name: ProbedEngine;
  /** The configured endpoint (URL or contact points) this engine answers on. */
  endpoint(urls: EngineUrls): string;
  /** Installs whatever is missing; cheap when everything is there. */
  install(ctx: EngineContext): Promise<void>;
  /** Prepares data dirs and config files; returns the process to spawn. */
  prepare(ctx: EngineContext): Promise<LaunchCommand>;
  /** How long a start may take before the launcher gives up. */
  startTimeoutMs: number;
  /** How long a SIGTERM may take before SIGKILL. */
  stopGraceMs: number;
}

export interface ToolEngine {
  kind: 'tool';
  name: 'k6' | 'python';
  /** Where the installed tool lives (status reports it, or says it is missing). */
  installedPath(cacheDir: string): string;
  /** Installs when missing; returns the binary path and its version line. */
  install(ctx: EngineContext): Promise<{ path: string; version: string }>;
}

export type Engine = ServerEngine | ToolEngine;

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Host and port of an endpoint such as `nats://127.0.0.1:14222`, `redis://h:6379/0` or the
 * first CQL contact point `127.0.0.1:19042`. The launcher starts engines only on loopback.
 */
export function localPort(endpoint: string, defaultPort: number): { host: string; port: number } {
  const first = endpoint.split(',')[0]!.trim();
  const url = new URL(first.includes('://') ? first : `tcp://${first}`);
  const host = url.hostname;
  if (!LOOPBACK.has(host)) {
    throw new Error(
      `${endpoint} is not a loopback address: the launcher starts engines on this machine only. ` +
        `Start that engine yourself or unset the variable to use the launcher's default.`,
    );
  }
  return {
    host: host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : defaultPort,
  };
}
