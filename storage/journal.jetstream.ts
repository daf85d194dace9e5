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
 */
import {
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { StorageError } from './errors.ts';
import type { SessionJournal } from './journal.ts';
import type { SessionSnapshot } from './snapshots.ts';

export interface JetStreamJournalSettings {
  /** Stream name ([A-Za-z0-9_-]). */
  stream: string;
  /** Subject prefix: entries go to `<prefix>.<listener>`. */
  subjectPrefix: string;
}

/** What one message holds: the writer's fencing token and the state (none: a bare fence). */
interface Entry {
  f: number;
  s?: SessionSnapshot;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

/** A listener whose journal this process owns. */
interface Owned {
  fence: number;
  /** Subject sequence of this owner's last write: the next one must follow it. */
  seq: number;
  writing: boolean;
  /** The newest state waiting for the write in flight, and who waits for it. */
  next?: { snapshot: SessionSnapshot; waiters: Waiter[] };
  /** Fenced out: every later append fails with this. */
  lost?: StorageError;
}

/** JetStream's "wrong last sequence" (the compare-and-set refused). */
const WRONG_LAST_SEQUENCE = 10071;
const OPEN_TRIES = 5;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function journalSubject(prefix: string, userId: string): string {
  return `${prefix}.${Buffer.from(userId).toString('base64url')}`;
}

function wrongLastSequence(err: unknown): boolean {
  return err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE;
}

export class JetStreamJournal implements SessionJournal {
  private readonly owned = new Map<string, Owned>();

  private constructor(
    private readonly js: JetStreamClient,
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
    return new JetStreamJournal(jetstream(nc), jsm, settings);
  }

  private subject(userId: string): string {
    return journalSubject(this.settings.subjectPrefix, userId);
  }

  async open(userId: string, fence: number): Promise<SessionSnapshot | undefined> {
    const subject = this.subject(userId);
    for (let i = 0; i < OPEN_TRIES; i++) {
      const last = await this.jsm.direct.getMessage(this.settings.stream, { last_by_subj: subject });
      const prev = last ? (JSON.parse(decoder.decode(last.data)) as Entry) : undefined;
      if (prev && prev.f > fence)
        throw new StorageError(
          'conflict',
          `the journal of ${userId} belongs to a newer owner (fence ${prev.f} > ${fence})`,
        );
      try {
        const entry: Entry = prev?.s ? { f: fence, s: prev.s } : { f: fence };
        const ack = await this.js.publish(subject, encoder.encode(JSON.stringify(entry)), {
          expect: { lastSubjectSequence: last?.seq ?? 0 },
        });
        this.owned.set(userId, { fence, seq: ack.seq, writing: false });
        return prev?.s;
      } catch (err) {
        // The old owner's last append landed between the read and the fence: read again.
        if (!wrongLastSequence(err)) throw err;
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
    return new Promise<void>((resolve, reject) => {
      // Only the newest state counts: appends waiting behind a write become one.
      if (o.next) o.next.snapshot = snapshot;
      else o.next = { snapshot, waiters: [] };
      o.next.waiters.push({ resolve, reject });
      if (!o.writing) void this.pump(snapshot.userId, o);
    });
  }

  private async pump(userId: string, o: Owned): Promise<void> {
    o.writing = true;
    const subject = this.subject(userId);
    while (o.next) {
      const batch = o.next;
      o.next = undefined;
      try {
        const entry: Entry = { f: o.fence, s: batch.snapshot };
        const ack = await this.js.publish(subject, encoder.encode(JSON.stringify(entry)), {
          expect: { lastSubjectSequence: o.seq },
        });
        o.seq = ack.seq;
        for (const w of batch.waiters) w.resolve();
      } catch (err) {
        if (wrongLastSequence(err)) {
          o.lost = new StorageError('conflict', `not journaled: a newer owner took the journal of ${userId}`);
          // Appends made while this one was in flight fail the same way.
          const behind = o.next as Owned['next'];
          for (const w of [...batch.waiters, ...(behind?.waiters ?? [])]) w.reject(o.lost);
          o.next = undefined;
        } else {
          const e = new StorageError('unavailable', `not journaled: ${String(err)}`, { cause: err });
          for (const w of batch.waiters) w.reject(e);
        }
      }
    }
    o.writing = false;
  }

  lastSeq(userId: string): number {
    return this.owned.get(userId)?.seq ?? 0;
  }

  async drop(userId: string, coveredSeq: number): Promise<void> {
    const o = this.owned.get(userId);
    this.owned.delete(userId);
    if (!o || o.lost || o.writing || o.seq !== coveredSeq) return;
    // Up to our own last write only: a newer owner's fence entry (a higher sequence) stays.
    await this.jsm.streams.purge(this.settings.stream, { filter: this.subject(userId), seq: o.seq + 1 });
  }

  async close(): Promise<void> {
    this.owned.clear();
  }
}
