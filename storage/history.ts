/** Listening history port: per user, newest first, partitioned by (user, month). */

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
