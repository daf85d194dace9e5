/**
 * Listening history port: per user, newest first, partitioned by (user, month UTC).
 * Adapters: embedded/history.lmdb.ts, scylla/history.scylla.ts.
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
  /** Idempotent by (userId, ts, playId): appending the same entry twice stores it once. */
  appendHistory(entry: HistoryEntry): Promise<void>;
  readHistory(userId: string, opts?: { limit?: number; cursor?: string }): Promise<HistoryPage>;
}
