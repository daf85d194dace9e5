/**
 * Test support for pipeline suites: event builders, waiting for a condition with a deadline
 * (no fixed sleeps), the real-NATS lookup that fails loudly, and a private nats-server child
 * process that a test can stop and start again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { EventLog, ListeningEvent } from '../storage/event-log.ts';
import { requireEngine } from '../deploy/test-engines.ts';
import type { Logger } from './nats-connection.ts';

export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `${prefix}-`));
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

/** A nats-server child process owned by one test: stop/start by its pid, same port and store. */
export class PrivateNats {
  private child: ChildProcess | undefined;
  readonly storeDir = tempDir('nats-store');
  constructor(readonly port: number) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    let failed: Error | undefined;
    child.once('error', (e) => (failed = e));
    await waitFor('private nats-server to accept connections', async () => {
      if (failed) throw new Error(`nats-server did not start: ${failed.message}`);
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
    if (!child || child.exitCode !== null) return;
    this.child = undefined;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** Publishes in call order, `window` at a time (adapters keep call order within a window). */
export async function publishAll(log: EventLog, events: readonly ListeningEvent[], window = 256): Promise<void> {
  for (let i = 0; i < events.length; i += window) {
    await Promise.all(events.slice(i, i + window).map((e) => log.publish(e)));
  }
}
