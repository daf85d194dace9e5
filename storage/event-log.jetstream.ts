/**
 * JetStream adapter of the event log port (used when NATS_URL is set).
 *
 * - The stream is created or updated idempotently whenever the connection comes up
 *   (jetstream-stream.ts; its header explains what `sync_interval` means for durability).
 * - `publish` sends to `<prefix>.<type>` with `Nats-Msg-Id = event_id`, so JetStream drops a
 *   duplicate within its window and answers `duplicate: true`. Publishes are pipelined
 *   (event-log-publisher.ts): sent at once, batched into one socket write per event-loop turn,
 *   their PubAcks awaited on one subscription; a publish resolves with its own ack.
 * - At most `maxInFlight` publishes await their PubAck at once; callers beyond that wait for a
 *   slot (backpressure instead of unbounded memory).
 * - A publish that fails (timeout, no responders, connection lost) goes to the on-disk outbox
 *   with its id; the drainer retries it with the same id, so a retry of an event JetStream did
 *   store is answered as a duplicate, never stored twice within the window.
 * - While NATS is down, or while the outbox still holds events, new events are appended to the
 *   outbox too, so they reach JetStream in publish order: the drainer sends them oldest first
 *   on reconnect. (Only a publish that fails mid-flight can land behind later events.)
 * - A full outbox rejects with `StorageError('unavailable')`, bumps the `outbox_full` metric and
 *   logs an error; `status()` reports it (and NATS being unreachable) for the readiness endpoint.
 * - Nothing waits for NATS: the adapter works from its first call, into the outbox while NATS
 *   is unreachable. `start()` waits for the first connect try only, so a stream that can never
 *   be set up on a reachable NATS (subjects overlapping another stream's) stops start-up with
 *   that reason instead of buffering forever.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ListeningEvent } from '../actors/types.ts';
import type { EventLog, PublishResult } from './event-log.ts';
import { isStorageError, StorageError } from './errors.ts';
import { encodeEventText, subjectFor, validateEvent } from './event-codec.ts';
import { noMetrics, type EventLogMetrics } from './event-log-metrics.ts';
import { PipelinedPublisher, type PubAck, type Settle } from './event-log-publisher.ts';
import { ensureStream, streamSettings, type StreamSettings } from './jetstream-stream.ts';
import pino, { type Logger } from 'pino';
import { KeptConnection } from './nats-connection.ts';
import { DEFAULT_OUTBOX_MAX_EVENTS, Outbox } from './outbox.ts';

export interface JetStreamEventLogOptions {
  natsUrl: string;
  /** Directory of the on-disk outbox (under the data dir). */
  outboxDir: string;
  stream?: Partial<StreamSettings>;
  outboxMaxEvents?: number;
  maxInFlight?: number;
  publishTimeoutMs?: number;
  /** Events sent per drain round; the round's acks are awaited before the next. */
  drainBatch?: number;
  metrics?: EventLogMetrics;
  log?: Logger;
}

export const DEFAULT_MAX_IN_FLIGHT = 8_192;
export const DEFAULT_PUBLISH_TIMEOUT_MS = 5_000;
export const DEFAULT_DRAIN_BATCH = 1_024;
const DRAIN_RETRY_MS = 500;

export interface EventLogStatus {
  online: boolean;
  outboxDepth: number;
  outboxMax: number;
  /** Set once the outbox rejected an event, until it has room again. */
  outboxFull: boolean;
  /** While offline: why (NATS unreachable at <url>, or the stream set-up failing and how). */
  offlineReason?: string;
  lastError?: string;
}

export class JetStreamEventLog implements EventLog {
  readonly settings: StreamSettings;
  private readonly conn: KeptConnection;
  private readonly outbox: Outbox;
  private readonly metrics: EventLogMetrics;
  private readonly log: Logger;
  private readonly maxInFlight: number;
  private readonly timeout: number;
  private readonly drainBatch: number;
  private pub: PipelinedPublisher | undefined;
  private pubConn: NatsConnection | undefined;
  private online = false;
  private inFlight = 0;
  /** Callers waiting for a slot, oldest first from `waitingHead` (shift() is O(n) on a long queue). */
  private waiting: (() => void)[] = [];
  private waitingHead = 0;
  private draining: Promise<void> | undefined;
  private full = false;
  private lastError: string | undefined;
  private closed = false;
  /** One subject string per event type, made once (the publisher checks a subject it saw by identity). */
  private readonly subjects: Record<ListeningEvent['type'], string>;

  constructor(opts: JetStreamEventLogOptions) {
    this.settings = streamSettings(opts.stream);
    const prefix = this.settings.subjectPrefix;
    this.subjects = {
      'play.start': subjectFor(prefix, 'play.start'),
      'play.progress': subjectFor(prefix, 'play.progress'),
      'play.end': subjectFor(prefix, 'play.end'),
    };
    this.outbox = new Outbox(opts.outboxDir, opts.outboxMaxEvents ?? DEFAULT_OUTBOX_MAX_EVENTS);
    this.metrics = opts.metrics ?? noMetrics;
    this.log = opts.log ?? pino({ level: 'warn' });
    this.maxInFlight = opts.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT;
    this.timeout = opts.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.drainBatch = opts.drainBatch ?? DEFAULT_DRAIN_BATCH;
    this.metrics.outboxDepth(this.outbox.size());
    this.conn = new KeptConnection({
      url: opts.natsUrl,
      name: 'event-log-publisher',
      log: this.log,
      onUp: (nc) => this.up(nc),
      onDown: () => {
        this.online = false;
        // Whether the awaited acks' events landed is unknown: they go to the outbox and their
        // retry (same id) is answered as a duplicate if they did.
        this.pub?.failPending(new Error('nats connection lost'));
      },
    });
  }

  /** Resolves once the first connection is up and the stream exists (tests, benchmarks). */
  async whenOnline(): Promise<void> {
    await this.conn.whenReady();
  }

  /**
   * Waits for the first connect try, never for NATS itself: resolves when NATS is unreachable
   * (events go to the outbox until it is back) or the stream is set up; rejects with the
   * `conflict` of a stream that cannot be set up on the NATS that answered (its subjects
   * overlap another stream's), which no retry fixes.
   */
  async start(): Promise<void> {
    const first = await this.conn.firstAttempt();
    if (first.connected && isStorageError(first.setupError, 'conflict')) throw first.setupError;
  }

  status(): EventLogStatus {
    const offlineReason = this.online ? undefined : this.conn.downReason();
    return {
      online: this.online,
      ...(offlineReason ? { offlineReason } : {}),
      outboxDepth: this.outbox.size(),
      outboxMax: this.outbox.maxEvents,
      outboxFull: this.full,
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /** Resolves when the outbox is empty (after a reconnect); for tests and shutdown. */
  async drained(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.outbox.size() > 0) {
      if (Date.now() > until)
        throw new StorageError('timeout', `outbox still holds ${this.outbox.size()} events`);
      await (this.draining ?? new Promise((r) => setTimeout(r, 50)));
      if (this.outbox.size() > 0 && !this.draining) await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async up(nc: NatsConnection): Promise<void> {
    await ensureStream(await jetstreamManager(nc), this.settings);
    // One publisher per connection: nats.js keeps its subscription across reconnects.
    if (!this.pub || this.pubConn !== nc) {
      this.pub?.close();
      this.pub = new PipelinedPublisher(nc, this.timeout);
      this.pubConn = nc;
    }
    this.online = true;
    this.kickDrain();
  }

  publish(input: ListeningEvent): Promise<PublishResult> {
    const pub = this.pub;
    // The common case (online, outbox empty, a slot free) makes one promise per event and
    // settles it from the PubAck: no async function's frame and second promise around it.
    if (
      !this.closed &&
      this.online &&
      pub &&
      this.inFlight < this.maxInFlight &&
      this.outbox.size() === 0 &&
      !this.draining
    ) {
      let event: ListeningEvent;
      try {
        event = validateEvent(input);
      } catch (err) {
        return Promise.reject(err);
      }
      this.inFlight++;
      return new Promise<PublishResult>((resolve, reject) => {
        let text: string;
        try {
          text = encodeEventText(event);
        } catch (err) {
          this.kept(event, err).then(resolve, reject);
          return;
        }
        const settle = new EventPublish(this, event, resolve, reject);
        pub.send(this.subjects[event.type], text, event.event_id, settle);
      });
    }
    return this.publishWaiting(input);
  }

  /** An EventPublish's ack: the slot it held is free. */
  acked(ack: PubAck): void {
    try {
      this.metrics.published(ack.duplicate);
    } finally {
      this.release();
    }
  }

  /** An EventPublish that failed (timeout, no responders, connection lost): the event is kept. */
  async kept(event: ListeningEvent, err: unknown): Promise<PublishResult> {
    try {
      return await this.keep(event, err);
    } finally {
      this.release();
    }
  }

  /** Offline, outbox not empty, or no slot free: the event waits its turn. */
  private async publishWaiting(input: ListeningEvent): Promise<PublishResult> {
    if (this.closed) throw new StorageError('unavailable', 'event log is closed');
    const event = validateEvent(input);
    if (!this.online || this.outbox.size() > 0 || this.draining) return this.toOutbox(event);
    // The common case takes a slot without awaiting anything.
    if (this.inFlight < this.maxInFlight) this.inFlight++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      const pub = this.pub;
      if (!pub || !this.online) return await this.toOutbox(event);
      // The PubAck is { seq, duplicate }, a PublishResult as it is: no copy.
      const ack = await pub.publish(this.subjects[event.type], encodeEventText(event), event.event_id);
      this.metrics.published(ack.duplicate);
      return ack;
    } catch (err) {
      return await this.keep(event, err);
    } finally {
      this.release();
    }
  }

  private async keep(event: ListeningEvent, err: unknown): Promise<PublishResult> {
    this.lastError = String(err);
    this.metrics.publishFailed();
    this.log.warn(
      { err: this.lastError, event_id: event.event_id },
      'jetstream publish failed; event kept in outbox',
    );
    const res = await this.toOutbox(event);
    this.kickDrain();
    return res;
  }

  private async toOutbox(event: ListeningEvent): Promise<PublishResult> {
    try {
      await this.outbox.append(event);
    } catch (err) {
      if (!this.full)
        this.log.error(
          { err: String(err), depth: this.outbox.size() },
          'event outbox full: rejecting events',
        );
      this.full = true;
      this.metrics.outboxFull();
      throw err;
    }
    this.full = false;
    this.metrics.outboxDepth(this.outbox.size());
    return { duplicate: false };
  }

  private kickDrain(): void {
    if (this.draining || this.closed || !this.online || this.outbox.size() === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // Events may have been appended while the last round ran. A timer, not a loop: the
      // commits that make those appends readable need event-loop turns.
      if (this.outbox.size() > 0 && this.online) setTimeout(() => this.kickDrain(), 0);
    });
  }

  /** Sends the outbox oldest first, a round at a time, each with its original msgID. */
  private async drain(): Promise<void> {
    let drained = 0;
    while (this.online && !this.closed && this.outbox.size() > 0) {
      const pub = this.pub;
      if (!pub) return;
      const entries = await this.outbox.head(this.drainBatch);
      // Nothing stored after all (head() waited for in-flight appends): stop here rather than
      // loop on `size() > 0`; kickDrain's follow-up covers appends that land meanwhile.
      if (entries.length === 0) break;
      const results = await Promise.allSettled(
        entries.map((e) =>
          pub.publish(
            subjectFor(this.settings.subjectPrefix, e.event.type),
            encodeEventText(e.event),
            e.event.event_id,
          ),
        ),
      );
      const done: number[] = [];
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          done.push(entries[i]!.key);
          this.metrics.published(r.value.duplicate);
        }
      });
      await this.outbox.remove(done);
      drained += done.length;
      this.metrics.outboxDepth(this.outbox.size());
      if (done.length < entries.length) {
        const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        this.lastError = String(failed.reason);
        this.metrics.publishFailed();
        await new Promise((r) => setTimeout(r, DRAIN_RETRY_MS));
      }
    }
    if (drained > 0) this.log.info({ drained, left: this.outbox.size() }, 'event outbox drained');
  }

  private release(): void {
    if (this.waitingHead < this.waiting.length) {
      const next = this.waiting[this.waitingHead++]!;
      if (this.waitingHead === this.waiting.length) {
        this.waiting = [];
        this.waitingHead = 0;
      } else if (this.waitingHead > 4_096 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.waitingHead);
        this.waitingHead = 0;
      }
      next();
    } else this.inFlight--;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.draining;
    // Publishes awaiting their ack settle first (ack, or the timeout sends them to the outbox).
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 10));
    this.pub?.close();
    await this.conn.close();
    await this.outbox.close();
  }
}

/** One event's publish: settles the promise `publish` returned, with the adapter's bookkeeping. */
class EventPublish implements Settle {
  constructor(
    private readonly log: JetStreamEventLog,
    private readonly event: ListeningEvent,
    private readonly done: (res: PublishResult) => void,
    private readonly failed: (err: unknown) => void,
  ) {}

  resolve(ack: PubAck): void {
    this.log.acked(ack);
    // The PubAck is { seq, duplicate }, a PublishResult as it is: no copy.
    this.done(ack);
  }

  reject(err: Error): void {
    this.log.kept(this.event, err).then(this.done, this.failed);
  }
}
