/**
 * Test support for pipeline suites: event builders, waiting for a condition with a deadline
 * (no fixed sleeps), the real-NATS lookup that fails loudly, temp dirs that suites remove in
 * afterAll, and a private nats-server child process that a test can stop and start again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { ListeningEvent } from '../actors/types.ts';
import type { EventLog } from '../storage/event-log.ts';
import { JetStreamEventLog } from '../storage/event-log.jetstream.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import { requireEngine } from './engines.ts';
import pino from 'pino';

export const silentLogger = pino({ level: 'silent' });

const createdDirs: string[] = [];

/** A fresh directory under the OS temp dir, remembered for `removeTempDirs()`. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  createdDirs.push(dir);
  return dir;
}

/** Removes every directory `tempDir` made in this process (suites call it in afterAll). */
export function removeTempDirs(): void {
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let counter = 0;
export function makeEvent(over: Partial<ListeningEvent> = {}): ListeningEvent {
  const n = ++counter;
  const play = over.play_id ?? `play-${process.pid}-${n}`;
  const type = over.type ?? 'play.end';
  return {
    event_id: `${play}:${type}`,
    type,
    play_id: play,
    user: 'u1',
    track: 't1',
    artist: 'a1',
    ts: Date.UTC(2025, 0, 15, 12, 0, 0) + n,
    ms_played: 45_000,
    context: 'spotify:playlist:p1',
    country: 'SE',
    product: 'premium',
    device: 'd1',
    ...over,
  };
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A unique stream name and subject prefix for one test file's run. */
export function uniqueStream(tag: string): { stream: string; subjectPrefix: string } {
  const id = `${tag}_${process.pid}_${Date.now().toString(36)}`.replace(/[^A-Za-z0-9_]/g, '_');
  return { stream: `T_${id}`, subjectPrefix: `t_${id}` };
}

/**
 * A JetStream event log and its consumer side on a stream of their own (`uniqueStream(tag)`),
 * online; `close` stops both and deletes the stream.
 */
export async function openJetStreamPair(natsUrl: string, tag: string) {
  const stream = uniqueStream(tag);
  const log = new JetStreamEventLog({ natsUrl, outboxDir: tempDir('outbox'), stream, log: silentLogger });
  await log.whenOnline();
  const source = new JetStreamEventSource({ natsUrl, stream, log: silentLogger });
  return {
    log,
    source,
    close: async () => {
      await source.close();
      await log.close();
      const nc = await connect({ servers: natsUrl });
      await (await jetstreamManager(nc)).streams.delete(stream.stream).catch(() => undefined);
      await nc.close();
    },
  };
}

/** The NATS URL for real-engine suites: fails loudly (naming `npm run infra -- up`) when unreachable. */
export async function requireNats(): Promise<string> {
  return requireEngine('nats');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * A nats-server child process owned by one test: stop/start by its pid, same port and store.
 * The child must not outlive the test process, however that process ends:
 * - `stop()` (tests call it in afterEach) sends SIGTERM to the child's pid and waits;
 * - a process 'exit' hook SIGKILLs it if the test process exits without stopping it;
 * - a watchdog shell polls the test process's pid and kills the server when the test process
 *   is gone: a worker killed by vitest (or blocked until its run is killed) runs no hooks.
 */
export class PrivateNats {
  private child: ChildProcess | undefined;
  private watchdog: ChildProcess | undefined;
  readonly storeDir = tempDir('nats-store');
  constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`private nats-server already running (pid ${this.child.pid})`);
    const child = spawn(
      'nats-server',
      ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    this.child = child;
    let failed: Error | undefined;
    child.once('error', (e) => (failed = e));
    if (child.pid !== undefined) this.guard(child.pid);
    await waitFor('private nats-server to accept connections', async () => {
      if (failed) throw new Error(`nats-server did not start: ${failed.message}`);
      if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}`);
      try {
        const nc = await connect({ servers: this.url, timeout: 500, maxReconnectAttempts: 0 });
        await nc.close();
        return true;
      } catch {
        return false;
      }
    });
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.unguard();
    if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(child.pid, 'SIGTERM');
    await exited;
  }

  private readonly killOnExit = () => {
    const pid = this.child?.pid;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  private guard(pid: number): void {
    process.once('exit', this.killOnExit);
    const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null`;
    this.watchdog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true });
    this.watchdog.unref();
  }

  private unguard(): void {
    process.removeListener('exit', this.killOnExit);
    const w = this.watchdog;
    this.watchdog = undefined;
    if (w?.pid !== undefined && w.exitCode === null) {
      try {
        process.kill(w.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Publishes in call order, `window` at a time (adapters keep call order within a window). */
export async function publishAll(
  log: EventLog,
  events: readonly ListeningEvent[],
  window = 256,
): Promise<void> {
  for (let i = 0; i < events.length; i += window) {
    await Promise.all(events.slice(i, i + window).map((e) => log.publish(e)));
  }
}
