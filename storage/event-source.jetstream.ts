/**
 * JetStream adapter of the event source port: one durable pull consumer per `spec.name`
 * (explicit ack, `ack_wait = spec.ackWaitMs`, unlimited redeliveries), created or updated
 * idempotently at subscribe. Messages come from `consumer.consume()` into a local buffer; a
 * worker hands whatever is buffered (up to `maxBatch`) to the handler, so batches grow under
 * load and stay at one message when idle (low latency). `max_ack_pending` bounds the buffer.
 *
 * A message that is not a valid event is terminated (`term`) and logged: a poison message
 * must not block its consumer forever.
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { StorageError } from './errors.ts';
import { decodeEvent } from './event-codec.ts';
import {
  CONSUMER_NAME,
  DEFAULT_RETRY_DELAY_MS,
  type BatchHandler,
  type ConsumerSpec,
  type Delivery,
  type EventSource,
  type Subscription,
} from './event-source.ts';
import { ensureStream, streamSettings, type StreamSettings } from './jetstream-stream.ts';
import pino, { type Logger } from 'pino';
import { KeptConnection } from './nats-connection.ts';

/** Tries at setting up a durable consumer before giving up (backoff 250 ms x attempt). */
const CONSUMER_SETUP_ATTEMPTS = 6;

export interface JetStreamEventSourceOptions {
  natsUrl: string;
  stream?: Partial<StreamSettings>;
  log?: Logger;
}

export class JetStreamEventSource implements EventSource {
  readonly settings: StreamSettings;
  private readonly conn: KeptConnection;
  private readonly log: Logger;
  private readonly subs = new Set<JetStreamSubscription>();

  constructor(opts: JetStreamEventSourceOptions) {
    this.settings = streamSettings(opts.stream);
    this.log = opts.log ?? pino({ level: 'warn' });
    this.conn = new KeptConnection({
      url: opts.natsUrl,
      name: 'event-source',
      log: this.log,
      onUp: async (nc) => ensureStream(await jetstreamManager(nc), this.settings),
      onDown: () => undefined,
    });
  }

  async subscribe(spec: ConsumerSpec, handler: BatchHandler): Promise<Subscription> {
    if (!CONSUMER_NAME.test(spec.name))
      throw new StorageError('bad_request', `bad consumer name ${spec.name}`);
    await this.conn.whenReady();
    const nc = this.conn.connection;
    if (!nc) throw new StorageError('unavailable', 'event source is closed');
    // JetStream answers its API only once it has recovered its streams from disk, which
    // takes a moment after a server (re)start: retry the consumer setup with backoff
    // instead of failing the subscriber on the first timeout.
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ensureConsumer(nc, spec);
        break;
      } catch (err) {
        if (attempt >= CONSUMER_SETUP_ATTEMPTS) {
          throw new StorageError('unavailable', `JetStream consumer ${spec.name} could not be set up`, {
            cause: err,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, 250 * attempt));
      }
    }
    const consumer = await jetstream(nc).consumers.get(this.settings.stream, spec.name);
    const messages = await consumer.consume({ max_messages: Math.max(64, spec.maxBatch * 2) });
    const flush = () => nc.flush();
    const sub = new JetStreamSubscription(messages, spec, handler, this.log, flush, () =>
      this.subs.delete(sub),
    );
    this.subs.add(sub);
    return sub;
  }

  private async ensureConsumer(nc: NatsConnection, spec: ConsumerSpec): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const cfg = {
      durable_name: spec.name,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: -1,
      max_ack_pending: Math.max(1_000, spec.maxBatch * 4),
    };
    try {
      await jsm.consumers.info(this.settings.stream, spec.name);
      await jsm.consumers.update(this.settings.stream, spec.name, {
        ack_wait: cfg.ack_wait,
        max_ack_pending: cfg.max_ack_pending,
      });
    } catch {
      await jsm.consumers.add(this.settings.stream, cfg);
    }
  }

  async close(): Promise<void> {
    for (const s of [...this.subs]) await s.stop();
    await this.conn.close();
  }
}

class JetStreamSubscription implements Subscription {
  private readonly buffer: JsMsg[] = [];
  private notify: (() => void) | undefined;
  private running = true;
  private aborted = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly messages: ConsumerMessages,
    private readonly spec: ConsumerSpec,
    private readonly handler: BatchHandler,
    private readonly log: Logger,
    private readonly flush: () => Promise<void>,
    private readonly onEnd: () => void,
  ) {
    void this.fill();
    this.loop = this.run();
  }

  private async fill(): Promise<void> {
    try {
      for await (const m of this.messages) {
        this.buffer.push(m);
        this.wake();
      }
    } catch (err) {
      if (this.running)
        this.log.error({ err: String(err), consumer: this.spec.name }, 'jetstream consume ended');
    }
    this.wake();
  }

  private wake(): void {
    const n = this.notify;
    this.notify = undefined;
    n?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.buffer.length === 0) {
        await new Promise<void>((r) => {
          this.notify = r;
          setTimeout(r, 1_000);
        });
        continue;
      }
      if (this.spec.lingerMs && this.buffer.length < this.spec.maxBatch) {
        await new Promise((r) => setTimeout(r, this.spec.lingerMs));
        if (!this.running) break;
      }
      const msgs = this.buffer.splice(0, this.spec.maxBatch);
      const batch: Delivery[] = [];
      const kept: JsMsg[] = [];
      for (const m of msgs) {
        try {
          batch.push({ event: decodeEvent(m.data), seq: m.seq, deliveryCount: m.info.deliveryCount });
          kept.push(m);
        } catch (err) {
          this.log.error(
            { err: String(err), seq: m.seq, consumer: this.spec.name },
            'poison message terminated',
          );
          m.term('not a listening event');
        }
      }
      if (batch.length === 0) continue;
      try {
        await this.handler(batch);
        if (this.aborted) return;
        for (const m of kept) m.ack();
      } catch (err) {
        if (this.aborted) return;
        this.log.warn({ err: String(err), consumer: this.spec.name, n: kept.length }, 'batch failed; nak');
        for (const m of kept) m.nak(this.spec.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    // Buffered, never handled: hand them back at once rather than after ack_wait.
    for (const m of this.buffer.splice(0)) m.nak();
    await this.messages.close().catch(() => undefined);
    // close() only queues the UNSUB of the pull inbox (and the acks/naks above are queued
    // publishes). Until the server has read them, its pending pull request of this
    // subscription still looks alive: an event published meanwhile (from any connection) is
    // handed to that dead inbox and comes back only after ack_wait, behind later events. A
    // PING round trip makes stop() mean "the server knows": acked, nak'ed, unsubscribed.
    await this.flush().catch((err: unknown) => {
      this.log.warn({ err: String(err), consumer: this.spec.name }, 'flush after stop failed');
    });
    this.onEnd();
  }

  async abort(): Promise<void> {
    this.running = false;
    this.aborted = true;
    this.wake();
    this.messages.stop();
    this.onEnd();
  }
}
