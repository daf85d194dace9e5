/**
 * On-disk outbox for events that could not reach JetStream: an lmdb database of
 * seq -> event, appended in publish order and drained in the same order. Bounded: when full,
 * `append` rejects with `StorageError('unavailable')` so the caller (the session server) sees
 * the failure, counts it and tells operators; nothing is dropped silently.
 *
 * Appends resolve after the lmdb commit (fsync'ed), so an event the outbox took survives a
 * crash of the session process and drains at its next start.
 */
import { open, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import type { ListeningEvent } from '../storage/event-log.ts';
import { StorageError } from '../storage/errors.ts';

export const DEFAULT_OUTBOX_MAX_EVENTS = 1_000_000;

export interface OutboxEntry {
  key: number;
  event: ListeningEvent;
}

export class Outbox {
  private readonly db: RootDatabase<ListeningEvent, number>;
  private last = 0;
  private count = 0;

  constructor(
    dir: string,
    readonly maxEvents: number = DEFAULT_OUTBOX_MAX_EVENTS,
  ) {
    mkdirSync(dir, { recursive: true });
    this.db = open<ListeningEvent, number>({ path: dir, noSubdir: false }); // a dotted dir name is still a dir
    for (const key of this.db.getKeys({ reverse: true, limit: 1 })) this.last = key;
    this.count = this.db.getCount();
  }

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
    try {
      await this.db.put(key, event);
    } catch (cause) {
      this.count--;
      throw new StorageError('unavailable', 'event outbox: write failed', { cause });
    }
  }

  /** The oldest `n` entries, in append order. */
  head(n: number): OutboxEntry[] {
    return [...this.db.getRange({ limit: n })].map(({ key, value }) => ({ key, event: value }));
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
    await this.db.close();
  }
}
