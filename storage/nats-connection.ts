/**
 * A NATS connection that keeps trying: the first connect is retried until it succeeds or the
 * owner gives up (close), and after that nats.js reconnects by itself forever. Callers learn
 * the state through `onUp` / `onDown`, so the publisher can switch between JetStream and its
 * outbox without waiting for a timeout on every publish.
 *
 * `onUp` (the owner's set-up, e.g. creating the stream) is retried with backoff while the
 * connection stays up: a JetStream that is still recovering its streams after a restart, or a
 * stream that cannot be created yet, must not leave the owner offline until the next
 * reconnect. Nothing here waits for NATS at start: `firstAttempt()` settles after one try, so
 * a process can start serving while NATS is unreachable.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';

export interface KeptConnectionOptions {
  url: string;
  name: string;
  log: Logger;
  /** Called on the first connect and after every reconnect; retried while it throws. */
  onUp: (nc: NatsConnection) => Promise<void> | void;
  onDown: () => void;
  retryMs?: number;
}

/** How the first try went: NATS unreachable, or reached (with the set-up's error if it failed). */
export type FirstAttempt = { connected: false; error: string } | { connected: true; setupError?: unknown };

/** Longest wait between two tries of a failing set-up. */
const MAX_SETUP_RETRY_MS = 10_000;

export class KeptConnection {
  private nc: NatsConnection | undefined;
  private closed = false;
  private connected = false;
  /** Bumped on every (re)connect and disconnect: a set-up retry loop of an older one stops. */
  private generation = 0;
  /** The owner's set-up succeeded on the current connection. */
  private setUp = false;
  private lastSetupError: string | undefined;
  private readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private readonly first: Promise<FirstAttempt>;
  private resolveFirst: ((a: FirstAttempt) => void) | undefined;
  /** Pending retry waits, ended at once by close(). */
  private readonly pauses = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly opts: KeptConnectionOptions) {
    this.ready = new Promise<void>((r) => (this.resolveReady = r));
    this.first = new Promise<FirstAttempt>((r) => (this.resolveFirst = r));
    void this.firstConnect();
  }

  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  /** Connected to NATS and the owner's set-up succeeded. */
  get isUp(): boolean {
    return this.connected && this.setUp && !this.closed;
  }

  /** Why the connection is not up: unreachable, or the set-up failing on a reachable server. */
  downReason(): string | undefined {
    if (this.isUp) return undefined;
    if (this.closed) return 'closed';
    if (!this.connected) return `NATS unreachable at ${this.opts.url}`;
    return this.lastSetupError ? `set-up failing: ${this.lastSetupError}` : 'setting up';
  }

  /** Resolves once connected and set up, the first time (or on close). */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** Settles after the first connect try (and, if NATS answered, the first set-up try). */
  firstAttempt(): Promise<FirstAttempt> {
    return this.first;
  }

  private settleFirst(a: FirstAttempt): void {
    const resolve = this.resolveFirst;
    this.resolveFirst = undefined;
    resolve?.(a);
  }

  private async firstConnect(): Promise<void> {
    const retryMs = this.opts.retryMs ?? 500;
    let warned = false;
    while (!this.closed) {
      try {
        const nc = await connect({
          servers: this.opts.url,
          name: this.opts.name,
          timeout: 2_000,
          maxReconnectAttempts: -1,
          reconnectTimeWait: retryMs,
          pingInterval: 5_000,
        });
        if (this.closed) {
          await nc.close();
          return;
        }
        this.nc = nc;
        this.connected = true;
        if (warned) this.opts.log.info({ url: this.opts.url }, 'nats reachable');
        void this.watch(nc);
        void this.up(nc);
        return;
      } catch (err) {
        if (!warned)
          this.opts.log.warn(
            { err: String(err), url: this.opts.url, name: this.opts.name },
            'nats unreachable; retrying in the background',
          );
        warned = true;
        this.settleFirst({ connected: false, error: String(err) });
        await this.pause(retryMs);
      }
    }
    this.settleFirst({ connected: false, error: 'closed' });
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.pauses.delete(timer);
        resolve();
      }, ms);
      this.pauses.set(timer, resolve);
    });
  }

  /** Runs the owner's set-up, again with backoff while it fails and this connection lasts. */
  private async up(nc: NatsConnection): Promise<void> {
    const gen = ++this.generation;
    this.setUp = false;
    let delay = this.opts.retryMs ?? 500;
    for (let attempt = 1; !this.closed && this.connected && gen === this.generation; attempt++) {
      try {
        await this.opts.onUp(nc);
        if (gen !== this.generation) return; // disconnected meanwhile: the next up() decides
        this.setUp = true;
        if (this.lastSetupError !== undefined)
          this.opts.log.info({ name: this.opts.name, attempt }, 'nats set-up succeeded');
        this.lastSetupError = undefined;
        this.settleFirst({ connected: true });
        this.resolveReady();
        return;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // Once per distinct failure: a set-up failing every few seconds must not flood the log.
        if (message !== this.lastSetupError)
          this.opts.log.error({ err: message, name: this.opts.name }, 'nats set-up failed; retrying');
        this.lastSetupError = message;
        this.settleFirst({ connected: true, setupError: err });
        this.opts.onDown();
        await this.pause(delay);
        delay = Math.min(delay * 2, MAX_SETUP_RETRY_MS);
      }
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.setUp = false;
        this.generation++;
        this.opts.log.warn({ server: s.server, name: this.opts.name }, 'nats disconnected');
        this.opts.onDown();
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.opts.log.info({ server: s.server, name: this.opts.name }, 'nats reconnected');
        void this.up(nc);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.generation++;
    for (const [timer, resolve] of this.pauses) {
      clearTimeout(timer);
      resolve();
    }
    this.pauses.clear();
    this.resolveReady();
    this.settleFirst({ connected: false, error: 'closed' });
    const nc = this.nc;
    this.nc = undefined;
    if (!nc || nc.isClosed()) return;
    // Draining needs the server; while reconnecting it would wait for one that may never come.
    if (this.connected) await nc.drain().catch(() => nc.close());
    else await nc.close();
  }
}
