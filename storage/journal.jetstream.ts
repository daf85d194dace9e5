/**
 * The session journal (journal.ts) on JetStream: one stream, one subject per listener
 * (`<prefix>.<base64url user id>`), at most one message per subject (the stream keeps only the
 * newest state of each listener: an append is also the truncation of everything before it).
 *
 * Fencing is JetStream's own compare-and-set, the `Nats-Expected-Last-Subject-Sequence`
 * header: every write of an owner names the subject sequence of its own previous write. A new
 * owner's `open` writes a fence entry (carrying the newest state forward) on top of whatever
 * is there, so from then on an older owner's append names a sequence that is no longer the
 * last and the server refuses it: an owner that lost its lease cannot append, whatever its
 * clock or its local lease table says. Stream sequences only grow, so this holds after a
 * purge too (`drop` purges only up to the owner's own last write).
 *
 * Cost per append (it is on every acknowledged step's path): a plain publish with that header
 * through the event log's pipelined publisher (one reply subscription for every ack, writes
 * of one event-loop turn in one socket write: event-log-publisher.ts) instead of a
 * `js.publish` request each, and the entry in MessagePack (protocol/'s writer, as hibernation
 * encodes sessions) instead of JSON. Appends of one listener cannot be pipelined (each names
 * the sequence the previous one got), so those made while one is in flight become one write
 * of the newest state, and its callers share one promise.
 */
import {
  jetstreamManager,
  JetStreamApiError,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { MessagePackReader } from '../protocol/msgpack-reader.ts';
import { MessagePackWriter } from '../protocol/msgpack-writer.ts';
import { PipelinedPublisher, PublishRefused } from './event-log-publisher.ts';
import { StorageError } from './errors.ts';
import type { SessionJournal } from './journal.ts';
import type { SessionSnapshot } from './snapshots.ts';

export interface JetStreamJournalSettings {
  /** Stream name ([A-Za-z0-9_-]). */
  stream: string;
  /** Subject prefix: entries go to `<prefix>.<listener>`. */
  subjectPrefix: string;
  /** How long a write waits for JetStream's ack before it fails (default 5 s). */
  timeoutMs?: number;
}

/** What one message holds: the writer's fencing token and the state (none: a bare fence). */
interface Entry {
  f: number;
  s?: SessionSnapshot;
}

/** Appends waiting for the next write: the newest state, and the one promise they share. */
interface Batch {
  snapshot: SessionSnapshot;
  done: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A listener whose journal this process owns. */
interface Owned {
  userId: string;
  subject: string;
  fence: number;
  /** Subject sequence of this owner's last write: the next one must follow it. */
  seq: number;
  writing: boolean;
  next: Batch | undefined;
  /** Fenced out, or a write's outcome unknown: every later append fails with this. */
  lost: StorageError | undefined;
}

/** JetStream's "wrong last sequence" (the compare-and-set refused). */
const WRONG_LAST_SEQUENCE = 10071;
const OPEN_TRIES = 5;
const DEFAULT_TIMEOUT_MS = 5_000;

export function journalSubject(prefix: string, userId: string): string {
  return `${prefix}.${Buffer.from(userId).toString('base64url')}`;
}

function wrongLastSequence(err: unknown): boolean {
  return err instanceof PublishRefused && err.code === WRONG_LAST_SEQUENCE;
}

function batch(snapshot: SessionSnapshot): Batch {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { snapshot, done, resolve, reject };
}

const entryReader = new MessagePackReader();

/**
 * A journal message as this build reads it. One it cannot read (not MessagePack, or not an
 * entry: written by hand or by a foreign build) holds nothing usable: undefined, and `open`
 * treats it as absent and fences over it, so the listener is not locked out (the snapshot
 * store still has its last snapshot).
 */
export function readJournalEntry(
  data: Uint8Array,
): { fence: number; snapshot?: SessionSnapshot } | undefined {
  let e: Partial<Entry> | null;
  try {
    e = entryReader.decode(data) as Partial<Entry> | null;
  } catch {
    return undefined;
  }
  if (typeof e !== 'object' || e === null || typeof e.f !== 'number') return undefined;
  const s = e.s as Partial<SessionSnapshot> | undefined;
  const whole =
    typeof s === 'object' &&
    s !== null &&
    typeof s.userId === 'string' &&
    typeof s.version === 'number' &&
    typeof s.savedAt === 'number';
  return whole ? { fence: e.f, snapshot: s as SessionSnapshot } : { fence: e.f };
}

export class JetStreamJournal implements SessionJournal {
  private readonly owned = new Map<string, Owned>();
  private readonly writer = new MessagePackWriter();

  private constructor(
    private readonly pub: PipelinedPublisher,
    private readonly jsm: JetStreamManager,
    private readonly settings: JetStreamJournalSettings,
  ) {}

  /** Creates (or updates) the stream: safe on every start of every node. */
  static async open(nc: NatsConnection, settings: JetStreamJournalSettings): Promise<JetStreamJournal> {
    const jsm = await jetstreamManager(nc);
    const config = {
      subjects: [`${settings.subjectPrefix}.>`],
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.Old,
      num_replicas: 1,
      allow_direct: true,
    };
    try {
      await jsm.streams.info(settings.stream);
      await jsm.streams.update(settings.stream, config);
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== 10059) throw err;
      await jsm.streams
        .add({
          name: settings.stream,
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          ...config,
        })
        .catch(async (e: unknown) => {
          // Another node created it meanwhile.
          if (!(e instanceof JetStreamApiError) || e.code !== 10058) throw e;
        });
    }
    const pub = new PipelinedPublisher(nc, settings.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    return new JetStreamJournal(pub, jsm, settings);
  }

  private subject(userId: string): string {
    return journalSubject(this.settings.subjectPrefix, userId);
  }

  async open(userId: string, fence: number): Promise<SessionSnapshot | undefined> {
    const subject = this.subject(userId);
    for (let i = 0; i < OPEN_TRIES; i++) {
      const last = await this.jsm.direct.getMessage(this.settings.stream, { last_by_subj: subject });
      const prev = last ? readJournalEntry(last.data) : undefined;
      if (prev && prev.fence > fence)
        throw new StorageError(
          'conflict',
          `the journal of ${userId} belongs to a newer owner (fence ${prev.fence} > ${fence})`,
        );
      try {
        const entry: Entry = prev?.snapshot ? { f: fence, s: prev.snapshot } : { f: fence };
        const ack = await this.pub.publishAfter(subject, this.writer.encode(entry), last?.seq ?? 0);
        this.owned.set(userId, {
          userId,
          subject,
          fence,
          seq: ack.seq,
          writing: false,
          next: undefined,
          lost: undefined,
        });
        return prev?.snapshot;
      } catch (err) {
        // The old owner's last append landed between the read and the fence: read again.
        if (!wrongLastSequence(err))
          throw new StorageError('unavailable', `journal not opened: ${String(err)}`);
      }
    }
    throw new StorageError('unavailable', `the journal of ${userId} kept moving; not opened`);
  }

  append(snapshot: SessionSnapshot): Promise<void> {
    const o = this.owned.get(snapshot.userId);
    if (!o)
      return Promise.reject(
        new StorageError('conflict', `the journal of ${snapshot.userId} is not open here`),
      );
    if (o.lost) return Promise.reject(o.lost);
    // Only the newest state counts: appends waiting behind a write become one.
    if (o.next) {
      o.next.snapshot = snapshot;
      return o.next.done;
    }
    const b = batch(snapshot);
    o.next = b;
    if (!o.writing) this.write(o);
    return b.done;
  }

  private write(o: Owned): void {
    const b = o.next!;
    o.next = undefined;
    o.writing = true;
    let data: Uint8Array;
    try {
      data = this.writer.encode({ f: o.fence, s: b.snapshot } satisfies Entry);
    } catch (err) {
      o.writing = false;
      b.reject(new StorageError('bad_request', `not journaled: ${String(err)}`, { cause: err }));
      if (o.next) this.write(o);
      return;
    }
    this.pub.publishAfter(o.subject, data, o.seq).then(
      (ack) => {
        o.seq = ack.seq;
        o.writing = false;
        b.resolve();
        if (o.next) this.write(o);
      },
      (err: unknown) => {
        o.writing = false;
        // Refused: a newer owner fenced this one out. Otherwise whether it landed is unknown,
        // so this owner's sequence is too: either way it writes nothing more.
        o.lost = wrongLastSequence(err)
          ? new StorageError('conflict', `not journaled: a newer owner took the journal of ${o.userId}`)
          : new StorageError('unavailable', `not journaled: ${String(err)}`, { cause: err });
        b.reject(o.lost);
        // Appends made while this one was in flight fail the same way.
        const behind = o.next;
        o.next = undefined;
        behind?.reject(o.lost);
      },
    );
  }

  lastSeq(userId: string): number {
    return this.owned.get(userId)?.seq ?? 0;
  }

  async drop(userId: string, coveredSeq: number): Promise<void> {
    const o = this.owned.get(userId);
    this.owned.delete(userId);
    if (!o || o.lost || o.writing || o.seq !== coveredSeq) return;
    // Up to our own last write only: a newer owner's fence entry (a higher sequence) stays.
    await this.jsm.streams.purge(this.settings.stream, { filter: o.subject, seq: o.seq + 1 });
  }

  async close(): Promise<void> {
    this.owned.clear();
    this.pub.close();
  }
}
