/**
 * JetStream adapter of the event source port: one durable pull consumer per `spec.name`, named
 * `<stream>_<spec.name>` (jetstream-stream.ts `durableName`: deployments on their own streams
 * never share a consumer), with explicit ack, `ack_wait = spec.ackWaitMs`, unlimited
 * redeliveries. `subscribe` returns at once; the consumer is created or updated idempotently in
 * the background once NATS answers, retried until it works (NATS down at start-up, JetStream
 * still recovering), so nothing waits for NATS to start. Messages come from `consumer.consume()` into a local buffer; a
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
import { ackAll } from './ack-frames.ts';
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
import { deliveryNumbers } from './jetstream-delivery.ts';
import { durableName, ensureStream, streamSettings, type StreamSettings } from './jetstream-stream.ts';
import pino, { type Logger } from 'pino';
import { KeptConnection } from './nats-connection.ts';

/** Longest wait between two tries of setting up a durable consumer. */
const MAX_ATTACH_RETRY_MS = 5_000;

export interface JetStreamEventSourceOptions {
  natsUrl: string;
  stream?: Partial<StreamSettings>;
  log?: Logger;
}

/** What a subscription consumes from once it is attached. */
interface Attached {
  messages: ConsumerMessages;
  flush: () => Promise<void>;
}

export class JetStreamEventSource implements EventSource {
  readonly settings: StreamSettings;
  private readonly conn: KeptConnection;
  private readonly log: Logger;
  private readonly subs = new Set<JetStreamSubscription>();
  private closed = false;

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

  /**
   * Returns at once, NATS or not: the subscription attaches its durable consumer in the
   * background as soon as NATS answers and the stream is set up (retrying with backoff), so a
   * process whose NATS is down still starts, and its consumers connect when NATS comes back.
   */
  async subscribe(spec: ConsumerSpec, handler: BatchHandler): Promise<Subscription> {
    if (!CONSUMER_NAME.test(spec.name))
      throw new StorageError('bad_request', `bad consumer name ${spec.name}`);
    if (this.closed) throw new StorageError('unavailable', 'event source is closed');
    const sub: JetStreamSubscription = new JetStreamSubscription(
      (stopped, onMessage) => this.attach(spec, stopped, onMessage),
      spec,
      handler,
      this.log,
      () => this.subs.delete(sub),
    );
    this.subs.add(sub);
    return sub;
  }

  /**
   * Sets up the durable consumer and starts consuming, each message to `onMessage`; undefined
   * when stopped first.
   */
  private async attach(
    spec: ConsumerSpec,
    stopped: Promise<void>,
    onMessage: (m: JsMsg) => void,
  ): Promise<Attached | undefined> {
    let isStopped = false;
    void stopped.then(() => (isStopped = true));
    const durable = durableName(this.settings, spec.name);
    let delay = 250;
    for (let attempt = 1; ; attempt++) {
      await Promise.race([this.conn.whenReady(), stopped]);
      const nc = this.conn.connection;
      if (isStopped || this.closed || !nc) return undefined;
      try {
        // JetStream answers its API only once it has recovered its streams from disk, a
        // moment after a server (re)start: failures here are retried, never fatal.
        await this.ensureConsumer(nc, spec, durable);
        const consumer = await jetstream(nc).consumers.get(this.settings.stream, durable);
        // A callback, not the async iterator: no promise and iterator step per message.
        const messages = await consumer.consume({
          max_messages: Math.max(64, spec.maxBatch * 2),
          callback: onMessage,
        });
        if (attempt > 1) this.log.info({ consumer: durable, attempt }, 'jetstream consumer attached');
        return { messages, flush: () => nc.flush() };
      } catch (err) {
        if (attempt === 1 || attempt % 10 === 0)
          this.log.warn(
            { err: String(err), consumer: durable, attempt },
            'jetstream consumer not attached yet; retrying',
          );
        await Promise.race([new Promise((r) => setTimeout(r, delay)), stopped]);
        delay = Math.min(delay * 2, MAX_ATTACH_RETRY_MS);
      }
    }
  }

  private async ensureConsumer(nc: NatsConnection, spec: ConsumerSpec, durable: string): Promise<void> {
    const jsm = await jetstreamManager(nc);
    const cfg = {
      durable_name: durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(spec.ackWaitMs),
      max_deliver: -1,
      max_ack_pending: Math.max(1_000, spec.maxBatch * 4),
    };
    try {
      await jsm.consumers.info(this.settings.stream, durable);
      await jsm.consumers.update(this.settings.stream, durable, {
        ack_wait: cfg.ack_wait,
        max_ack_pending: cfg.max_ack_pending,
      });
    } catch {
      await jsm.consumers.add(this.settings.stream, cfg);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.subs]) await s.stop();
    await this.conn.close();
  }
}

class JetStreamSubscription implements Subscription {
  private readonly buffer: JsMsg[] = [];
  private notify: (() => void) | undefined;
  private running = true;
  private aborted = false;
  private attached: Attached | undefined;
  private readonly stopped: Promise<void>;
  private signalStopped!: () => void;
  private readonly loop: Promise<void>;

  constructor(
    private readonly attach: (
      stopped: Promise<void>,
      onMessage: (m: JsMsg) => void,
    ) => Promise<Attached | undefined>,
    private readonly spec: ConsumerSpec,
    private readonly handler: BatchHandler,
    private readonly log: Logger,
    private readonly onEnd: () => void,
  ) {
    this.stopped = new Promise<void>((r) => (this.signalStopped = r));
    this.loop = this.start();
  }

  private async start(): Promise<void> {
    const attached = await this.attach(this.stopped, (m) => {
      this.buffer.push(m);
      this.wake();
    });
    if (!attached) return;
    if (!this.running) {
      // Stopped while attaching: consume nothing.
      await attached.messages.close().catch(() => undefined);
      return;
    }
    this.attached = attached;
    void this.watch(attached.messages);
    await this.run();
  }

  /** Logs a consume that ended while running (the worker then finds nothing more). */
  private async watch(messages: ConsumerMessages): Promise<void> {
    const err = await messages.closed().catch((e: unknown) => e);
    if (err && this.running)
      this.log.error({ err: String(err), consumer: this.spec.name }, 'jetstream consume ended');
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
          const event = decodeEvent(m.data);
          const { seq, deliveryCount } = deliveryNumbers(m);
          batch.push({ event, seq, deliveryCount });
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
        // One command for the batch's acks (ack-frames.ts), sent only once it is stored.
        ackAll(kept);
      } catch (err) {
        if (this.aborted) return;
        this.log.warn({ err: String(err), consumer: this.spec.name, n: kept.length }, 'batch failed; nak');
        for (const m of kept) m.nak(this.spec.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.signalStopped();
    this.wake();
    await this.loop;
    const attached = this.attached;
    if (!attached) {
      this.onEnd();
      return;
    }
    // Buffered, never handled: hand them back at once rather than after ack_wait.
    for (const m of this.buffer.splice(0)) m.nak();
    await attached.messages.close().catch(() => undefined);
    // close() only queues the UNSUB of the pull inbox (and the acks/naks above are queued
    // publishes). Until the server has read them, its pending pull request of this
    // subscription still looks alive: an event published meanwhile (from any connection) is
    // handed to that dead inbox and comes back only after ack_wait, behind later events. A
    // PING round trip makes stop() mean "the server knows": acked, nak'ed, unsubscribed.
    await attached.flush().catch((err: unknown) => {
      this.log.warn({ err: String(err), consumer: this.spec.name }, 'flush after stop failed');
    });
    this.onEnd();
  }

  async abort(): Promise<void> {
    this.running = false;
    this.aborted = true;
    this.signalStopped();
    this.wake();
    this.attached?.messages.stop();
    this.onEnd();
  }
}
