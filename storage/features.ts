/**
 * Track feature store port, fed by the pipeline's features consumer and read by the radio
 * service: per-track play and skip counts and track-to-track co-occurrence within listening
 * sessions. Adapters: storage/features.lmdb.ts, storage/features.scylla.ts.
 *
 * Idempotency: `applyPlay` applies a finished play at most once per playId. The embedded
 * adapter does it in one transaction (exact). The CQL adapter writes a marker with
 * `IF NOT EXISTS` and then moves counters; counters cannot be made idempotent, so a crash
 * between marker and counters loses that play's increments (at-most-once). Features are
 * statistics for ranking, where a rare undercount is harmless and an overcount from replays
 * would bias toward replayed tracks; royalties, which are money, use the exact ledger design.
 */

export interface SessionTail {
  /** Most recent tracks of the user's current listening session, oldest first. */
  tracks: string[];
  /** Epoch ms of the last play in the session. */
  lastTs: number;
}

export interface FinishedPlay {
  playId: string;
  userId: string;
  trackId: string;
  ts: number;
  skipped: boolean;
  /** Tracks played before it in the same session (co-occurrence pairs, both directions). */
  neighbours: string[];
  /** The user's session tail after this play. */
  tail: SessionTail;
}

export interface TrackStats {
  plays: number;
  skips: number;
}

export interface FeatureStore {
  /** Applies a finished play at most once; resolves false when it was applied before. */
  applyPlay(play: FinishedPlay): Promise<boolean>;
  sessionTail(userId: string): Promise<SessionTail | undefined>;
  trackStats(trackId: string): Promise<TrackStats>;
  /** Tracks most often in the same session as `trackId`, most frequent first. */
  cooccurring(trackId: string, limit?: number): Promise<{ trackId: string; count: number }[]>;
}

/** A listening session ends after this much silence. */
export const SESSION_GAP_MS = 30 * 60_000;
/** How many earlier tracks of a session pair with a new one. */
export const SESSION_TAIL = 5;

/** Pure: the neighbours and next tail for a play, given the user's tail before it. */
export function nextSession(
  tail: SessionTail | undefined,
  trackId: string,
  ts: number,
): { neighbours: string[]; tail: SessionTail } {
  const live =
    tail && ts - tail.lastTs <= SESSION_GAP_MS && ts >= tail.lastTs - SESSION_GAP_MS ? tail.tracks : [];
  const neighbours = [...new Set(live.filter((t) => t !== trackId))];
  const tracks = [...live.filter((t) => t !== trackId), trackId].slice(-SESSION_TAIL);
  return { neighbours, tail: { tracks, lastTs: Math.max(ts, tail && live.length ? tail.lastTs : 0) } };
}
