/**
 * A NATS connection that keeps trying: the first connect is retried until it succeeds or the
 * owner gives up (close), and after that nats.js reconnects by itself forever. Callers learn
 * the state through `onUp` / `onDown`, so the publisher can switch between JetStream and its
 * outbox without waiting for a timeout on every publish.
 */
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';

export interface KeptConnectionOptions {
  url: string;
  name: string;
  log: Logger;
  /** Called on the first connect and after every reconnect. */
  onUp: (nc: NatsConnection) => Promise<void> | void;
  onDown: () => void;
  retryMs?: number;
}

export class KeptConnection {
  private nc: NatsConnection | undefined;
  private closed = false;
  private connected = false;
  private readonly ready: Promise<void>;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;

  constructor(private readonly opts: KeptConnectionOptions) {
    this.ready = this.firstConnect();
  }

  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  /** Resolves once connected (or closed). */
  whenReady(): Promise<void> {
    return this.ready;
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
        void this.watch(nc);
        await this.up(nc);
        return;
      } catch (err) {
        if (!warned)
          this.opts.log.warn({ err: String(err), url: this.opts.url }, 'nats unreachable; retrying');
        warned = true;
        await new Promise<void>((r) => {
          this.retryTimer = setTimeout(r, retryMs);
          this.wakeRetry = r;
        });
      }
    }
  }

  private async up(nc: NatsConnection): Promise<void> {
    try {
      await this.opts.onUp(nc);
    } catch (err) {
      this.opts.log.error({ err: String(err) }, 'nats connection set-up failed');
      this.opts.onDown();
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        this.connected = false;
        this.opts.log.warn({ server: s.server }, 'nats disconnected');
        this.opts.onDown();
      } else if (s.type === 'reconnect') {
        this.connected = true;
        this.opts.log.info({ server: s.server }, 'nats reconnected');
        await this.up(nc);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.wakeRetry?.();
    const nc = this.nc;
    this.nc = undefined;
    if (!nc || nc.isClosed()) return;
    // Draining needs the server; while reconnecting it would wait for one that may never come.
    if (this.connected) await nc.drain().catch(() => nc.close());
    else await nc.close();
  }
}
