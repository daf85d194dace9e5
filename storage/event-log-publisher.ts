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
 * publish costs an array slot and the bytes on the wire. Publishes are batched: those of one
 * event-loop turn are framed by `HpubFrames` (exactly nats.js's framing, the JSON text written
 * straight into one buffer per batch) and handed to the connection as one command on the next
 * turn (one socket write for all of them); one interval timer expires overdue acks, oldest
 * first. This uses two internals of nats-core 3 (`protocol.sendCommand`, a message's raw
 * subject bytes): the tests in event-log-publisher*.test.ts compare our frames with nats.js's
 * own and publish through a real server, so an upgrade that changes them fails there.
 *
 * The PubAck semantics are JetStream's own: `duplicate: true` when the id was seen within the
 * stream's duplicate window, an API error (`{"error": ...}`), or "no responders" (503) when no
 * stream listens on the subject. A publish whose ack does not come within the timeout, or
 * whose connection drops before it, rejects: the caller keeps the event (outbox) and retries
 * it with the same id, which JetStream then answers as a duplicate if the first one landed.
 */
import { createInbox, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { MsgImpl, NatsConnectionImpl } from '@nats-io/nats-core/internal';

export interface PubAck {
  seq: number;
  duplicate: boolean;
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

/**
 * A message's body: bytes, or text sent as its UTF-8 bytes. Text lets a batch of JSON payloads
 * be encoded in one go with their frames (one buffer per batch, not one per message).
 */
export type Payload = Uint8Array | string;

/**
 * Who hears a publish's outcome, exactly once: its PubAck, or why it failed. `publish` settles
 * a promise through it; a caller with its own promise per message passes itself (`send`).
 */
export interface Settle {
  resolve(ack: PubAck): void;
  reject(err: Error): void;
}

/** One publish from the call until its ack: queued, then awaited under its id. */
interface Publish {
  subject: string;
  data: Payload;
  header: string;
  value: string;
  settle: Settle;
  deadline: number;
}

/** Header that JetStream deduplicates on within the stream's duplicate window. */
const MSG_ID = 'Nats-Msg-Id';
/** Header that makes the publish conditional on the sequence of the subject's last message. */
const EXPECTED_LAST_SUBJECT_SEQ = 'Nats-Expected-Last-Subject-Sequence';
const decoder = new TextDecoder();
/** What nats.js refuses in a subject (it would split the protocol line). */
const SUBJECT_WHITESPACE = /[ \n\r\t]/;
/** What nats.js refuses in a header value (it would end the header line). */
const LINE_BREAK = /[\r\n]/;

/** `NATS/1.0\r\n`, `: ` after the name, `\r\n\r\n` after the value. */
const HEAD_FIXED_BYTES = 10 + 2 + 4;

/**
 * The wire bytes of `HPUB <subject> <reply> <#header bytes> <#total bytes>` messages, each with
 * one header, as nats.js frames them (`protocol.publish` with an `MsgHdrsImpl`): the header
 * block `NATS/1.0\r\n<name>: <trimmed value>\r\n\r\n`, then the body, then `\r\n`. The parts
 * are kept as they come and written into one buffer at the end.
 */
export class HpubFrames {
  /** Per message: its protocol line with the header block, then its body. */
  private parts: Payload[] = [];
  /** The bytes of all parts, CRLFs after the bodies included. */
  private size = 0;
  messages = 0;
  bytes = 0;

  /** Appends one message; throws (nothing appended) on a value nats.js would refuse. */
  add(
    subject: string,
    reply: string,
    header: string,
    value: string,
    data: Payload,
    maxPayload: number,
  ): void {
    if (LINE_BREAK.test(value)) throw new Error('header values cannot contain \\r or \\n');
    const trimmed = value.trim();
    // Counted, not measured: byteLength of the concatenated block would flatten it first.
    // Header names are ASCII constants, so only the value needs UTF-8 counting.
    const hlen = HEAD_FIXED_BYTES + header.length + Buffer.byteLength(trimmed);
    const len = hlen + (typeof data === 'string' ? Buffer.byteLength(data) : data.length);
    if (len > maxPayload) throw new Error(`payload of ${len} bytes exceeds max_payload (${maxPayload})`);
    const line = `HPUB ${subject} ${reply} ${hlen} ${len}\r\nNATS/1.0\r\n${header}: ${trimmed}\r\n\r\n`;
    this.parts.push(line, data);
    this.size += Buffer.byteLength(line) + (len - hlen) + 2;
    this.messages++;
    this.bytes += len;
  }

  /**
   * The frames as one buffer, each part written into it where it goes: no batch-sized string
   * made first (concatenating the parts and encoding that built a flat copy of the whole
   * batch, ~400 bytes of heap per message).
   */
  end(): Uint8Array[] {
    const parts = this.parts;
    if (parts.length === 0) return [];
    const buf = Buffer.allocUnsafe(this.size);
    let at = 0;
    for (let i = 0; i < parts.length; i += 2) {
      at += buf.write(parts[i] as string, at);
      const data = parts[i + 1]!;
      if (typeof data === 'string') at += buf.write(data, at);
      else {
        buf.set(data, at);
        at += data.length;
      }
      buf[at++] = 0x0d;
      buf[at++] = 0x0a;
    }
    this.parts = [];
    this.size = 0;
    return [buf];
  }
}

const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const ACK_START = new TextEncoder().encode('{"stream":"');
const ACK_DUPLICATE_END = new TextEncoder().encode(',"duplicate":true}');
const ACK_SEQ_KEY = new TextEncoder().encode(',"seq":');

/**
 * The PubAck nats-server writes for a stored (or duplicate) message, read from its bytes:
 * `{"stream":"<name>","seq":<n>}`, or ending `,"duplicate":true}`. Undefined for any other
 * shape (an error, a domain, a field added by a later server): the caller parses the JSON.
 * A `,"seq":` inside the name would be escaped (`\"`), so the key found is the real one.
 */
export function readPubAck(b: Uint8Array): PubAck | undefined {
  if (!startsWith(b, ACK_START, 0)) return undefined;
  let end = b.length - 1;
  if (b[end] !== 0x7d) return undefined; // }
  const duplicate = endsWith(b, ACK_DUPLICATE_END);
  if (duplicate) end = b.length - ACK_DUPLICATE_END.length;
  let seq = 0;
  let scale = 1;
  let i = end - 1;
  for (; i >= 0; i--) {
    const c = b[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    seq += (c - DIGIT_0) * scale;
    scale *= 10;
  }
  const digits = end - 1 - i;
  if (digits === 0 || digits > 15) return undefined;
  const keyAt = i + 1 - ACK_SEQ_KEY.length;
  if (keyAt < ACK_START.length || !startsWith(b, ACK_SEQ_KEY, keyAt)) return undefined;
  return { seq, duplicate };
}

function startsWith(b: Uint8Array, prefix: Uint8Array, at: number): boolean {
  if (at + prefix.length > b.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

function endsWith(b: Uint8Array, suffix: Uint8Array): boolean {
  return b.length >= suffix.length && startsWith(b, suffix, b.length - suffix.length);
}

/**
 * Publishes awaiting their ack, by id. Ids are handed out consecutively in send order, so
 * they sit in an array at `id - firstId` (no map entry per publish), and deadlines increase
 * with the index: expiry stops at the first one not due.
 */
export class AwaitedAcks {
  private slots: (Publish | undefined)[] = [];
  private firstId = 0;
  /** Slots before it are settled. */
  private head = 0;

  /** `id` must follow the last one added (the first may be anything). */
  add(id: number, p: Publish): void {
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
      this.firstId = id;
    }
    this.slots.push(p);
  }

  take(id: number): Publish | undefined {
    const i = id - this.firstId;
    if (!(i >= this.head && i < this.slots.length)) return undefined;
    const p = this.slots[i];
    this.slots[i] = undefined;
    if (i === this.head) this.advance();
    return p;
  }

  /** Removes and returns those due by `now`, oldest first. */
  takeDue(now: number): Publish[] {
    const due: Publish[] = [];
    for (; this.head < this.slots.length; this.head++) {
      const p = this.slots[this.head];
      if (p === undefined) continue;
      if (p.deadline > now) break;
      this.slots[this.head] = undefined;
      due.push(p);
    }
    this.advance();
    return due;
  }

  takeAll(): Publish[] {
    const all = this.slots.slice(this.head).filter((p): p is Publish => p !== undefined);
    this.slots = [];
    this.head = 0;
    return all;
  }

  private advance(): void {
    while (this.head < this.slots.length && this.slots[this.head] === undefined) this.head++;
    // Drop the settled front once it is most of the array (amortized O(1) per publish).
    if (this.head > 4_096 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.firstId += this.head;
      this.head = 0;
    }
  }
}

export class PipelinedPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new AwaitedAcks();
  private nextId = 0;
  private readonly sweep: NodeJS.Timeout;
  private failed: Error | undefined;
  private queue: Publish[] = [];
  private scheduled = false;
  /** The last subject that passed the check (a publisher sends to a handful of subjects). */
  private checkedSubject = '';

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
  publish(subject: string, data: Payload, msgId: string): Promise<PubAck> {
    return this.enqueue(subject, data, MSG_ID, msgId);
  }

  /**
   * As `publish`, the outcome told to `settle` instead of a promise made here: for a caller
   * that makes its own promise per message (the event log), so there is one, not two.
   */
  send(subject: string, data: Payload, msgId: string, settle: Settle): void {
    if (this.failed) settle.reject(this.failed);
    else this.queuePublish(subject, data, MSG_ID, msgId, settle);
  }

  /**
   * As `publish`, stored only if the subject's last message has the stream sequence `lastSeq`
   * (0: the subject holds none): JetStream's compare-and-set. Otherwise it rejects with a
   * PublishRefused of code 10071 and nothing is stored.
   */
  publishAfter(subject: string, data: Payload, lastSeq: number): Promise<PubAck> {
    return this.enqueue(subject, data, EXPECTED_LAST_SUBJECT_SEQ, String(lastSeq));
  }

  private enqueue(subject: string, data: Payload, header: string, value: string): Promise<PubAck> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<PubAck>((resolve, reject) => {
      this.queuePublish(subject, data, header, value, { resolve, reject });
    });
  }

  private queuePublish(subject: string, data: Payload, header: string, value: string, settle: Settle): void {
    this.queue.push({ subject, data, header, value, settle, deadline: 0 });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /**
   * Frames the batch itself and hands it to the connection as one command: what
   * `nc.publish` does per message (subject checks, a headers object and its encoding, the
   * protocol line and its encoding, four buffers queued) was most of this adapter's own cost.
   * The checks nats.js makes are kept: closed or draining connection, whitespace in the
   * subject, line breaks in the header value, headers supported, `max_payload`.
   */
  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    const deadline = Date.now() + this.timeoutMs;
    const protocol = (this.nc as NatsConnectionImpl).protocol;
    let refusal: Error | undefined = this.failed;
    if (!refusal && this.nc.isClosed()) refusal = new Error('closed connection');
    if (!refusal && protocol.noMorePublishing) refusal = new Error('connection draining');
    if (!refusal && protocol.info && !protocol.info.headers)
      refusal = new Error('headers are not available on this server');
    if (refusal) {
      for (const m of batch) m.settle.reject(refusal);
      return;
    }
    const maxPayload = protocol.info?.max_payload ?? Number.MAX_SAFE_INTEGER;
    const frames = new HpubFrames();
    for (const m of batch) {
      const id = this.nextId + 1;
      try {
        if (m.subject !== this.checkedSubject) {
          if (m.subject.length === 0 || SUBJECT_WHITESPACE.test(m.subject))
            throw new Error(`invalid subject '${m.subject}'`);
          this.checkedSubject = m.subject;
        }
        frames.add(m.subject, this.prefix + id, m.header, m.value, m.data, maxPayload);
      } catch (err) {
        m.settle.reject(err instanceof Error ? err : new Error(String(err)));
        continue;
      }
      this.nextId = id;
      m.deadline = deadline;
      this.pending.add(id, m);
    }
    if (frames.messages === 0) return;
    const [first, ...rest] = frames.end();
    protocol.outMsgs += frames.messages;
    protocol.outBytes += frames.bytes;
    protocol.sendCommand(first!, ...rest);
  };

  private onAck(err: Error | null, msg: Msg): void {
    if (err) {
      this.fail(err);
      return;
    }
    const p = this.pending.take(this.ackId(msg));
    if (!p) return; // expired already: the caller has kept the event for a retry
    const data = msg.data;
    if (data.length === 0) {
      const code = msg.headers?.code;
      p.settle.reject(
        new Error(code === 503 ? 'no responders: no stream takes this subject' : `status ${code}`),
      );
      return;
    }
    const fast = readPubAck(data);
    if (fast) {
      p.settle.resolve(fast);
      return;
    }
    let ack: {
      seq?: number;
      duplicate?: boolean;
      error?: { description?: string; code?: number; err_code?: number };
    };
    try {
      ack = JSON.parse(decoder.decode(data)) as typeof ack;
    } catch {
      p.settle.reject(new Error('jetstream: unreadable publish ack'));
      return;
    }
    if (ack.error || typeof ack.seq !== 'number') {
      p.settle.reject(
        new PublishRefused(
          `jetstream: ${ack.error?.description ?? 'invalid publish ack'} (${ack.error?.err_code ?? ack.error?.code})`,
          ack.error?.err_code,
        ),
      );
      return;
    }
    p.settle.resolve({ seq: ack.seq, duplicate: ack.duplicate === true });
  }

  /** The publish id at the end of the ack's subject, read from its bytes (no string made). */
  private ackId(msg: Msg): number {
    const raw = (msg as Partial<MsgImpl>)._msg?.subject;
    if (!raw) return Number(msg.subject.slice(this.prefix.length));
    let id = 0;
    let scale = 1;
    for (let i = raw.length - 1; i >= 0; i--) {
      const c = raw[i]!;
      if (c === DOT) return i === raw.length - 1 ? NaN : id;
      if (c < DIGIT_0 || c > DIGIT_9) return NaN;
      id += (c - DIGIT_0) * scale;
      scale *= 10;
    }
    return NaN;
  }

  private expire(): void {
    const err = new Error(`jetstream: no publish ack within ${this.timeoutMs} ms`);
    for (const p of this.pending.takeDue(Date.now())) p.settle.reject(err);
  }

  /** Rejects every awaited ack (connection lost: whether they landed is unknown). */
  failPending(err: Error): void {
    const all = [...this.pending.takeAll(), ...this.queue];
    this.queue = [];
    for (const p of all) p.settle.reject(err);
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
