/**
 * Pipelined JetStream publishing for the event log (event-log.jetstream.ts) and the session
 * journal (journal.jetstream.ts): every publish is a plain `HPUB` with one header (the event
 * log's dedup id `Nats-Msg-Id`, or the journal's compare-and-set
 * `Nats-Expected-Last-Subject-Sequence`) and a reply subject under one inbox this publisher
 * subscribes to once; JetStream answers each with its PubAck there.
 *
 * Why not `js.publish` per event: each one is a full request (a mux entry, a timer, and two
 * Error objects whose stack traces are captured up front for async traces): 20 % of the CPU
 * of the events bench went to constructing those errors alone (loadtest/README.md). Here a
 * publish costs a map entry and the bytes on the wire. Publishes are batched: those of one
 * event-loop turn are written together on the next (one socket write for all of them); one
 * interval timer expires overdue acks, oldest first.
 *
 * The PubAck semantics are JetStream's own: `duplicate: true` when the id was seen within the
 * stream's duplicate window, an API error (`{"error": ...}`), or "no responders" (503) when no
 * stream listens on the subject. A publish whose ack does not come within the timeout, or
 * whose connection drops before it, rejects: the caller keeps the event (outbox) and retries
 * it with the same id, which JetStream then answers as a duplicate if the first one landed.
 */
import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';

export interface PubAck {
  seq: number;
  duplicate: boolean;
}

interface Pending {
  resolve: (ack: PubAck) => void;
  reject: (err: Error) => void;
  deadline: number;
}

/** A PubAck that refuses the message: JetStream's API error code (10071: wrong last sequence). */
export class PublishRefused extends Error {
  override readonly name = 'PublishRefused';
  constructor(
    message: string,
    readonly code: number | undefined,
  ) {
    super(message);
  }
}

interface Queued {
  subject: string;
  data: Uint8Array;
  header: string;
  value: string;
  resolve: (ack: PubAck) => void;
  reject: (err: Error) => void;
}

/** Header that JetStream deduplicates on within the stream's duplicate window. */
const MSG_ID = 'Nats-Msg-Id';
/** Header that makes the publish conditional on the sequence of the subject's last message. */
const EXPECTED_LAST_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';
const decoder = new TextDecoder();

export class PipelinedPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  /** In send order, so deadlines are increasing: expiry stops at the first one not due. */
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private readonly sweep: NodeJS.Timeout;
  private failed: Error | undefined;
  private queue: Queued[] = [];
  private scheduled = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {
    const inbox = createInbox();
    this.prefix = `${inbox}.`;
    this.sub = nc.subscribe(`${inbox}.*`, { callback: (err, msg) => this.onAck(err, msg) });
    this.sweep = setInterval(() => this.expire(), Math.max(10, Math.min(250, timeoutMs / 4)));
    this.sweep.unref();
  }

  /**
   * Queues the message and resolves with its PubAck. Messages queued within one event-loop
   * turn are handed to the connection together on the next (`setImmediate`), so they leave
   * in one socket write instead of one write per microtask that happened to publish.
   */
  publish(subject: string, data: Uint8Array, msgId: string): Promise<PubAck> {
    return this.enqueue(subject, data, MSG_ID, msgId);
  }

  /**
   * As `publish`, stored only if the subject's last message has the stream sequence `lastSeq`
   * (0: the subject holds none): JetStream's compare-and-set. Otherwise it rejects with a
   * PublishRefused of code 10071 and nothing is stored.
   */
  publishAfter(subject: string, data: Uint8Array, lastSeq: number): Promise<PubAck> {
    return this.enqueue(subject, data, EXPECTED_LAST_SUBJECT_SEQ, String(lastSeq));
  }

  private enqueue(subject: string, data: Uint8Array, header: string, value: string): Promise<PubAck> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<PubAck>((resolve, reject) => {
      this.queue.push({ subject, data, header, value, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const deadline = Date.now() + this.timeoutMs;
    for (const m of batch) {
      if (this.failed) {
        m.reject(this.failed);
        continue;
      }
      const id = ++this.nextId;
      const h = headers();
      h.set(m.header, m.value);
      this.pending.set(id, { resolve: m.resolve, reject: m.reject, deadline });
      try {
        this.nc.publish(m.subject, m.data, { reply: this.prefix + id, headers: h });
      } catch (err) {
        this.pending.delete(id);
        m.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
  };

  private onAck(err: Error | null, msg: Msg): void {
    if (err) {
      this.fail(err);
      return;
    }
    const id = Number(msg.subject.slice(this.prefix.length));
    const p = this.pending.get(id);
    if (!p) return; // expired already: the caller has kept the event for a retry
    this.pending.delete(id);
    if (msg.data.length === 0) {
      const code = msg.headers?.code;
      p.reject(new Error(code === 503 ? 'no responders: no stream takes this subject' : `status ${code}`));
      return;
    }
    let ack: {
      seq?: number;
      duplicate?: boolean;
      error?: { description?: string; code?: number; err_code?: number };
    };
    try {
      ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
    } catch {
      p.reject(new Error('jetstream: unreadable publish ack'));
      return;
    }
    if (ack.error || typeof ack.seq !== 'number') {
      p.reject(
        new PublishRefused(
          `jetstream: ${ack.error?.description ?? 'invalid publish ack'} (${ack.error?.err_code ?? ack.error?.code})`,
          ack.error?.err_code,
        ),
      );
      return;
    }
    p.resolve({ seq: ack.seq, duplicate: ack.duplicate === true });
  }

  private expire(): void {
    const now = Date.now();
    for (const [id, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(id);
      p.reject(new Error(`jetstream: no publish ack within ${this.timeoutMs} ms`));
    }
  }

  /** Rejects every awaited ack (connection lost: whether they landed is unknown). */
  failPending(err: Error): void {
    const all = [...this.pending.values(), ...this.queue];
    this.pending.clear();
    this.queue = [];
    for (const p of all) p.reject(err);
  }

  private fail(err: Error): void {
    this.failed = err;
    this.failPending(err);
  }

  /** Stops listening for acks; awaited ones reject. */
  close(): void {
    clearInterval(this.sweep);
    this.fail(new Error('publisher closed'));
    try {
      this.sub.unsubscribe();
    } catch {
      // connection already closed
    }
  }
}
