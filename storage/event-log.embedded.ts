/**
 * Embedded event log: the default when NATS_URL is unset. One lmdb environment under the data
 * dir holds the log (seq -> event, with its publish time) and each durable consumer's ack
 * state; delivery runs in this process.
 *
 * Same semantics as the JetStream adapter:
 * - publish resolves after the lmdb commit (lmdb-js commits with fsync by default, so an event
 *   whose publish resolved survives a process or machine crash);
 * - dedup by event_id within `duplicateWindowMs`, across restarts too: the index is in memory
 *   and rebuilt on open from the log's newest events (those within the window), so a publish
 *   is one put. Only an event that retention drops while still inside the window has its
 *   entry written to the `dedup` database (which is also where logs written before kept
 *   every entry: both are read on open);
 * - retention by age and by count (oldest first, like JetStream's limits policy);
 * - durable consumers with explicit ack and redelivery after `ackWaitMs`.
 *
 * Ack state is `ackFloor` (every seq <= floor is acked) plus the acked seqs above it. Acks
 * are written without waiting for the commit: a lost ack only means a redelivery, which the
 * idempotent consumers absorb. Pending (delivered, unacked) state lives in memory: after a
 * restart everything above the floor that is not acked is delivered again.
 *
 * Only one process may serve an embedded log: consumers run in the session process
 * (`startPipeline`), not in a separate `npm run pipeline`, unless NATS_URL is set.
 */
import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import type { ListeningEvent } from '../actors/types.ts';
import type { EventLog, PublishResult } from './event-log.ts';
import { StorageError } from './errors.ts';
import { validateEvent } from './event-codec.ts';
import {
  CONSUMER_NAME,
  DEFAULT_RETRY_DELAY_MS,
  type BatchHandler,
  type ConsumerSpec,
  type Delivery,
  type EventSource,
  type Subscription,
} from './event-source.ts';

export interface EmbeddedEventLogOptions {
  /** Directory of the lmdb environment (created if missing). */
  dir: string;
  duplicateWindowMs?: number;
  maxAgeMs?: number;
  maxEvents?: number;
  /** Clock, for tests of the dedup window and retention. */
  now?: () => number;
}

export const DEFAULT_EMBEDDED_DUPLICATE_WINDOW_MS = 2 * 60_000;
export const DEFAULT_EMBEDDED_MAX_AGE_MS = 30 * 24 * 3600_000;
export const DEFAULT_EMBEDDED_MAX_EVENTS = 10_000_000;
const HOUSEKEEPING_MS = 5_000;
/** Newest events kept decoded in memory for the consumers (a few seconds at full rate). */
const HOT_EVENTS = 8_192;

interface StoredEvent {
  at: number;
  event: ListeningEvent;
}
interface DedupEntry {
  seq: number;
  at: number;
}
interface AckState {
  floor: number;
  above: number[];
}

/** Per durable consumer: survives its subscriptions, so a restarted subscriber resumes it. */
class ConsumerState {
  floor: number;
  readonly acked: Set<number>;
  /** Next never-delivered seq. */
  cursor: number;
  /** Delivered, not acked: seq -> redelivery deadline and delivery count. */
  readonly pending = new Map<number, { deadline: number; count: number }>();
  readonly counts = new Map<number, number>();
  readonly subscribers = new Set<EmbeddedSubscription>();

  constructor(state: AckState) {
    this.floor = state.floor;
    this.acked = new Set(state.above);
    this.cursor = state.floor + 1;
  }

  ack(seq: number): void {
    this.pending.delete(seq);
    this.counts.delete(seq);
    if (seq <= this.floor) return;
    this.acked.add(seq);
    while (this.acked.has(this.floor + 1)) {
      this.acked.delete(this.floor + 1);
      this.floor++;
    }
  }

  snapshot(): AckState {
    return { floor: this.floor, above: [...this.acked].sort((a, b) => a - b) };
  }
}

export class EmbeddedEventLog implements EventLog, EventSource {
  private readonly root: RootDatabase;
  private readonly events: Database<StoredEvent, number>;
  private readonly dedup: Database<DedupEntry, string>;
  private readonly acks: Database<AckState, string>;
  private readonly recent = new Map<string, DedupEntry>();
  /** Ids of `recent` that also have a row in the `dedup` database (removed once expired). */
  private readonly persisted = new Set<string>();
  /**
   * The newest events, as published: every consumer reads each event once, and four
   * consumers re-reading and decoding it from LMDB was a measurable share of a play's CPU.
   * Deliveries share these objects; handlers treat events as read-only.
   */
  private readonly hot = new Map<number, StoredEvent>();
  /** Seqs handed out whose write has not committed yet, in order: consumers stop below them. */
  private readonly writing = new Set<number>();
  private readonly consumers = new Map<string, ConsumerState>();
  private readonly window: number;
  private readonly maxAge: number;
  private readonly maxEvents: number;
  private readonly now: () => number;
  private lastSeq = 0;
  private firstSeq = 1;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(opts: EmbeddedEventLogOptions) {
    mkdirSync(opts.dir, { recursive: true });
    this.root = open({ path: opts.dir, noSubdir: false, maxDbs: 8 }); // a dotted dir name is still a dir
    this.events = this.root.openDB<StoredEvent, number>({ name: 'events' });
    this.dedup = this.root.openDB<DedupEntry, string>({ name: 'dedup' });
    this.acks = this.root.openDB<AckState, string>({ name: 'consumer_acks' });
    this.window = opts.duplicateWindowMs ?? DEFAULT_EMBEDDED_DUPLICATE_WINDOW_MS;
    this.maxAge = opts.maxAgeMs ?? DEFAULT_EMBEDDED_MAX_AGE_MS;
    this.maxEvents = opts.maxEvents ?? DEFAULT_EMBEDDED_MAX_EVENTS;
    this.now = opts.now ?? Date.now;
    for (const key of this.events.getKeys({ reverse: true, limit: 1 })) this.lastSeq = key;
    for (const key of this.events.getKeys({ limit: 1 })) this.firstSeq = key;
    if (this.lastSeq === 0) this.firstSeq = 1;
    // The dedup index is small (one window of ids): keep it in memory, in seq order. Its rows
    // (retention's, or every entry of a log written before) and the window's events.
    const now = this.now();
    const entries = [...this.dedup.getRange()].map(({ key, value }) => [key, value] as const);
    for (const [id] of entries) this.persisted.add(id);
    for (const { key, value } of this.events.getRange({ reverse: true })) {
      if (now - value.at >= this.window) break;
      entries.push([value.event.event_id, { seq: key, at: value.at }]);
    }
    entries.sort((a, b) => a[1].seq - b[1].seq);
    for (const [id, entry] of entries) {
      this.recent.delete(id);
      this.recent.set(id, entry);
    }
    this.timer = setInterval(() => void this.housekeeping(), HOUSEKEEPING_MS);
    this.timer.unref();
  }

  async publish(input: ListeningEvent): Promise<PublishResult> {
    if (this.closed) throw new StorageError('unavailable', 'event log is closed');
    const event = validateEvent(input);
    const at = this.now();
    const seen = this.recent.get(event.event_id);
    if (seen && at - seen.at < this.window) return { duplicate: true, seq: seen.seq };
    const seq = ++this.lastSeq;
    this.writing.add(seq);
    const entry = { seq, at };
    this.recent.delete(event.event_id);
    this.recent.set(event.event_id, entry);
    try {
      const stored: StoredEvent = { at, event };
      // The stored event is its own dedup entry (see the header). A plain put: encoded here,
      // written and committed by lmdb's writer thread, where `transaction()` also took the
      // write lock on this thread to run a callback.
      await this.events.put(seq, stored);
      this.hot.set(seq, stored);
      // Evicted by key: seqs arrive in order, so the one HOT_EVENTS back is the oldest. Taking
      // `keys().next()` instead walked past every slot a delete had emptied since the map's
      // last rehash (~3 us per publish at this size); it stays only as a bound for a write
      // that committed out of order.
      this.hot.delete(seq - HOT_EVENTS);
      if (this.hot.size > HOT_EVENTS) this.hot.delete(this.hot.keys().next().value!);
    } catch (cause) {
      if (this.recent.get(event.event_id) === entry) this.recent.delete(event.event_id);
      throw new StorageError('unavailable', 'embedded event log: write failed', { cause });
    } finally {
      this.writing.delete(seq);
    }
    for (const c of this.consumers.values()) for (const s of c.subscribers) s.wake();
    return { duplicate: false, seq };
  }

  async subscribe(spec: ConsumerSpec, handler: BatchHandler): Promise<Subscription> {
    if (this.closed) throw new StorageError('unavailable', 'event log is closed');
    if (!CONSUMER_NAME.test(spec.name))
      throw new StorageError('bad_request', `bad consumer name ${spec.name}`);
    let state = this.consumers.get(spec.name);
    if (!state) {
      state = new ConsumerState(this.acks.get(spec.name) ?? { floor: 0, above: [] });
      this.consumers.set(spec.name, state);
    }
    const sub = new EmbeddedSubscription(this, state, spec, handler);
    state.subscribers.add(sub);
    sub.start();
    return sub;
  }

  /** Number of stored events (after dedup and retention). */
  size(): number {
    return this.lastSeq >= this.firstSeq ? this.lastSeq - this.firstSeq + 1 : 0;
  }

  /** Takes up to `max` deliveries for a consumer: expired pending ones first, then new ones. */
  take(state: ConsumerState, spec: ConsumerSpec, max: number): Delivery[] {
    const now = this.now();
    const out: Delivery[] = [];
    const seqs: number[] = [];
    for (const [seq, p] of state.pending) {
      if (seqs.length >= max) break;
      if (p.deadline <= now) seqs.push(seq);
    }
    if (state.cursor < this.firstSeq) state.cursor = this.firstSeq;
    const readable = this.readableSeq();
    while (seqs.length < max && state.cursor <= readable) {
      const seq = state.cursor++;
      if (!state.acked.has(seq) && seq > state.floor) seqs.push(seq);
    }
    seqs.sort((a, b) => a - b);
    for (const seq of seqs) {
      const stored = this.hot.get(seq) ?? this.events.get(seq);
      if (!stored) {
        // Aged out (retention) or a gap: nothing to deliver; count it as acked.
        state.ack(seq);
        continue;
      }
      const count = (state.counts.get(seq) ?? 0) + 1;
      state.counts.set(seq, count);
      state.pending.set(seq, { deadline: now + spec.ackWaitMs, count });
      out.push({ event: stored.event, seq, deliveryCount: count });
    }
    return out;
  }

  /** Ms until the earliest pending deadline, or undefined when nothing is pending. */
  nextDeadline(state: ConsumerState): number | undefined {
    let min: number | undefined;
    for (const p of state.pending.values()) if (min === undefined || p.deadline < min) min = p.deadline;
    return min === undefined ? undefined : Math.max(0, min - this.now());
  }

  hasNew(state: ConsumerState): boolean {
    return state.cursor <= this.readableSeq();
  }

  /**
   * The highest seq a consumer may read: below the oldest write in flight. A seq read before
   * its write commits would look like a gap and be skipped for good.
   */
  private readableSeq(): number {
    for (const seq of this.writing) return seq - 1;
    return this.lastSeq;
  }

  ack(state: ConsumerState, name: string, seqs: readonly number[]): void {
    for (const seq of seqs) state.ack(seq);
    if (!this.closed) void this.acks.put(name, state.snapshot()).catch(() => undefined);
  }

  nak(state: ConsumerState, seqs: readonly number[], delayMs: number): void {
    const deadline = this.now() + delayMs;
    for (const seq of seqs) {
      const p = state.pending.get(seq);
      if (p) p.deadline = deadline;
    }
  }

  detach(state: ConsumerState, sub: EmbeddedSubscription): void {
    state.subscribers.delete(sub);
  }

  private async housekeeping(): Promise<void> {
    if (this.closed) return;
    const now = this.now();
    const expired: string[] = [];
    for (const [id, e] of this.recent) {
      if (now - e.at < this.window) break;
      expired.push(id);
    }
    for (const id of expired) this.recent.delete(id);
    const unpersisted = expired.filter((id) => this.persisted.delete(id));
    let drop = 0;
    // Dropped events still inside the window keep their entry, as a row of its own.
    const keep: [string, DedupEntry][] = [];
    for (const { key, value } of this.events.getRange({ start: this.firstSeq })) {
      const tooMany = this.lastSeq - key + 1 > this.maxEvents;
      if (!tooMany && now - value.at < this.maxAge) break;
      drop = key;
      const id = value.event.event_id;
      const entry = this.recent.get(id);
      if (entry?.seq === key) keep.push([id, entry]);
    }
    if (unpersisted.length === 0 && drop < this.firstSeq) return;
    await this.root.transaction(() => {
      for (const id of unpersisted) void this.dedup.remove(id);
      for (const [id, entry] of keep) void this.dedup.put(id, entry);
      for (let seq = this.firstSeq; seq <= drop; seq++) void this.events.remove(seq);
    });
    for (const [id] of keep) this.persisted.add(id);
    for (let seq = this.firstSeq; seq <= drop; seq++) this.hot.delete(seq);
    if (drop >= this.firstSeq) this.firstSeq = drop + 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const c of this.consumers.values()) for (const s of [...c.subscribers]) await s.abort();
    for (const [name, c] of this.consumers) await this.acks.put(name, c.snapshot());
    await this.root.close();
  }
}

class EmbeddedSubscription implements Subscription {
  private running = true;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> = Promise.resolve();
  private aborted = false;

  constructor(
    private readonly log: EmbeddedEventLog,
    private readonly state: ConsumerState,
    private readonly spec: ConsumerSpec,
    private readonly handler: BatchHandler,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private async idle(): Promise<void> {
    if (this.log.hasNew(this.state)) return;
    const wait = this.log.nextDeadline(this.state);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, wait ?? 1_000);
      this.wakeUp = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  private async run(): Promise<void> {
    while (this.running) {
      let batch = this.log.take(this.state, this.spec, this.spec.maxBatch);
      if (batch.length === 0) {
        await this.idle();
        continue;
      }
      if (this.spec.lingerMs && batch.length < this.spec.maxBatch) {
        await sleep(this.spec.lingerMs);
        if (!this.running) break;
        batch = batch.concat(this.log.take(this.state, this.spec, this.spec.maxBatch - batch.length));
      }
      const seqs = batch.map((d) => d.seq);
      try {
        await this.handler(batch);
        if (this.aborted) return;
        this.log.ack(this.state, this.spec.name, seqs);
      } catch {
        if (this.aborted) return;
        this.log.nak(this.state, seqs, this.spec.retryDelayMs ?? DEFAULT_RETRY_DELAY_MS);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.log.detach(this.state, this);
  }

  async abort(): Promise<void> {
    this.running = false;
    this.aborted = true;
    this.wake();
    this.log.detach(this.state, this);
    // The in-flight handler is abandoned: its deliveries stay pending and come back after ackWait.
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
