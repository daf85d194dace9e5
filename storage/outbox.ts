/**
 * On-disk outbox for events that could not reach JetStream: an lmdb database of
 * seq -> event, appended in publish order and drained in the same order. Bounded: when full,
 * `append` rejects with `StorageError('unavailable')` so the caller (the session server) sees
 * the failure, counts it and tells operators; nothing is dropped silently.
 *
 * Appends resolve after the lmdb commit (fsync'ed), so an event the outbox took survives a
 * crash of the session process and drains at its next start.
 *
 * `size()` counts appends still in flight too (the bound must hold before the commit), but
 * lmdb-js makes a put visible to reads only once its batch has committed AND the JS side has
 * handled the commit callback on a later event-loop turn. So `head()` is asynchronous: it
 * waits for in-flight appends before reading, and callers never see "size 2, head empty".
 * (A drain loop that retried a synchronous empty head() without yielding to the event loop
 * once spun forever: the commit callback that would have made the events visible could never
 * run. See pipeline/README.md, "Outbox".)
 */
import { open, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import type { ListeningEvent } from '../actors/types.ts';
import { StorageError } from './errors.ts';

export const DEFAULT_OUTBOX_MAX_EVENTS = 1_000_000;

export interface OutboxEntry {
  key: number;
  event: ListeningEvent;
}

export class Outbox {
  private readonly db: RootDatabase<ListeningEvent, number>;
  private last = 0;
  private count = 0;
  /** Appends whose commit has not resolved yet; head() waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(
    dir: string,
    readonly maxEvents: number = DEFAULT_OUTBOX_MAX_EVENTS,
  ) {
    mkdirSync(dir, { recursive: true });
    this.db = open<ListeningEvent, number>({ path: dir, noSubdir: false }); // a dotted dir name is still a dir
    for (const key of this.db.getKeys({ reverse: true, limit: 1 })) this.last = key;
    this.count = this.db.getCount();
  }

  /** Stored events plus appends in flight. */
  size(): number {
    return this.count;
  }

  /** Appends at the tail; rejects with `unavailable` when the outbox is full. */
  async append(event: ListeningEvent): Promise<void> {
    if (this.count >= this.maxEvents) {
      throw new StorageError(
        'unavailable',
        `event outbox full (${this.count}/${this.maxEvents} events): JetStream has been unreachable too long`,
      );
    }
    const key = ++this.last;
    this.count++;
    const put = this.db.put(key, event);
    this.inFlight.add(put);
    try {
      await put;
    } catch (cause) {
      this.count--;
      throw new StorageError('unavailable', 'event outbox: write failed', { cause });
    } finally {
      this.inFlight.delete(put);
    }
  }

  /**
   * The oldest `n` stored entries, in append order, after every append started before this
   * call has committed. Empty only when the outbox is really empty; if the count ever
   * disagrees with the database it is corrected here, so a caller looping on
   * `size() > 0` cannot loop on a phantom.
   */
  async head(n: number): Promise<OutboxEntry[]> {
    if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    const entries = [...this.db.getRange({ limit: n })].map(({ key, value }) => ({ key, event: value }));
    if (entries.length === 0 && this.inFlight.size === 0) this.count = this.db.getCount();
    return entries;
  }

  /** Removes drained entries (after JetStream acked them). */
  async remove(keys: readonly number[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.transaction(() => {
      for (const k of keys) void this.db.remove(k);
    });
    this.count = Math.max(0, this.count - keys.length);
  }

  async close(): Promise<void> {
    if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
    await this.db.close();
  }
}
