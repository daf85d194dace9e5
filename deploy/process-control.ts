/**
 * Start engines as detached processes and stop them again by pid, and only by pid.
 *
 * A pid alone can be reused by an unrelated process once ours has exited, so every
 * recorded pid travels with its start time (field 22 of /proc/<pid>/stat, in clock ticks
 * since boot): a pid whose start time differs is not ours and is never signalled.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';

export interface ProcessId {
  pid: number;
  /** /proc start time of that pid; null where /proc is not available. */
  startTime: number | null;
}

export interface DetachedProcess extends ProcessId {
  /** Resolves with the exit code (or signal) if the process ends while we still watch it. */
  exited: Promise<string>;
}

interface ProcStat {
  state: string;
  startTime: number;
}

/** Fields 3 (state) and 22 (start time) of /proc/<pid>/stat; null when /proc has no such pid. */
function readProcStat(pid: number): ProcStat | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0] ?? '?', startTime: Number(rest[19]) };
  } catch {
    return null;
  }
}

const hasProc = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

export function procStartTime(pid: number): number | null {
  return readProcStat(pid)?.startTime ?? null;
}

/** True when the pid runs (not a zombie) and is still the process we started. */
export function isOurProcessAlive(id: ProcessId): boolean {
  try {
    process.kill(id.pid, 0);
  } catch {
    return false;
  }
  if (!hasProc) return true;
  const stat = readProcStat(id.pid);
  if (stat === null || stat.state === 'Z' || stat.state === 'X') return false;
  return id.startTime === null || stat.startTime === id.startTime;
}

/**
 * Spawns `cmd args` in its own session (it outlives the launcher), output appended to
 * `logFile`. The caller writes the returned pid to its state file.
 */
export function spawnDetached(
  cmd: string,
  args: readonly string[],
  options: { logFile: string; cwd: string; env?: NodeJS.ProcessEnv },
): DetachedProcess {
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
      child.once('error', (err) => resolve(`spawn error: ${err.message}`));
    });
    child.unref();
    if (child.pid === undefined) {
      return { pid: -1, startTime: null, exited };
    }
    return { pid: child.pid, startTime: procStartTime(child.pid), exited };
  } finally {
    closeSync(log);
  }
}

/**
 * SIGTERM, wait up to `graceMs` for the process to go, then SIGKILL.
 * Returns how it ended; does nothing to a pid that is no longer ours.
 */
export async function stopProcess(
  id: ProcessId,
  graceMs: number,
): Promise<'not-running' | 'terminated' | 'killed'> {
  if (!isOurProcessAlive(id)) return 'not-running';
  try {
    process.kill(id.pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isOurProcessAlive(id)) return 'terminated';
    await delay(100);
  }
  if (!isOurProcessAlive(id)) return 'terminated';
  try {
    process.kill(id.pid, 'SIGKILL');
  } catch {
    return 'terminated';
  }
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline && isOurProcessAlive(id)) await delay(50);
  return 'killed';
}

/** The last `lines` lines of a log file, for an error message when an engine dies at start. */
export function tailFile(file: string, lines: number): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return '(no log)';
  }
}

/**
 * Throws when one of `ports` on `host` is taken (by a listener, or by a connection's
 * local end: pick launcher ports below the kernel's ephemeral range, 32768 on Linux).
 * A JVM that finds its port taken fails only after ~15 s of start-up; this fails at once.
 */
export async function assertPortsFree(host: string, ports: readonly number[], what: string): Promise<void> {
  for (const port of ports) {
    const server = createServer();
    const error = await new Promise<NodeJS.ErrnoException | null>((resolve) => {
      server.once('error', (err: NodeJS.ErrnoException) => resolve(err));
      server.listen({ host, port, exclusive: true }, () => resolve(null));
    });
    if (error === null) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      continue;
    }
    throw new Error(
      `${what} cannot start: ${host}:${port} is ${error.code === 'EADDRINUSE' ? 'already in use' : `unusable (${error.code})`} ` +
        `by something that does not answer as ${what}. Free the port or point the engine's variable at another one.`,
    );
  }
}
