/**
 * Listening history port: per user, newest first, partitioned by (user, month UTC).
 * Adapters: storage/history.lmdb.ts, storage/history.scylla.ts; contract suite
 * storage/history.contract.ts.
 *
 * Contract: `appendHistory` is idempotent by (userId, ts, playId): appending the same entry twice
 * stores it once (the pipeline may redeliver). `readHistory` returns entries newest first
 * (ts desc, then playId desc), at most `limit` (default `DEFAULT_HISTORY_PAGE`, capped at
 * `MAX_HISTORY_PAGE`), with an opaque `next` cursor while older entries remain. A malformed
 * cursor is `bad_request`.
 */

export const DEFAULT_HISTORY_PAGE = 50;
export const MAX_HISTORY_PAGE = 500;

export interface HistoryEntry {
  userId: string;
  playId: string;
  trackId: string;
  /** Epoch ms when the play started. */
  ts: number;
  msPlayed: number;
  context?: string;
  device?: string;
  reason?: string;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** Opaque cursor for the next page; undefined on the last page. */
  next?: string;
}

export interface HistoryStore {
  /**
   * Idempotent by (userId, ts, playId): appending the same entry twice stores it once.
   * `bad_request` for empty ids, a ts that is not a non-negative integer, or a negative msPlayed.
   */
  appendHistory(entry: HistoryEntry): Promise<void>;
  /**
   * One page of a user's entries, newest first (ts desc, then playId desc), across month
   * partitions. `limit` defaults to DEFAULT_HISTORY_PAGE and is capped at MAX_HISTORY_PAGE;
   * `next` is set only while older entries remain. Entries read back exactly as appended
   * (optional fields included). An unknown user gives `{ entries: [] }`.
   * `bad_request` for a malformed cursor or a limit that is not a positive integer.
   */
  readHistory(userId: string, opts?: { limit?: number; cursor?: string }): Promise<HistoryPage>;
}
