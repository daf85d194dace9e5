/**
 * Track feature store port, fed by the pipeline's features consumer and read by the radio
 * service: per-track play and skip counts and track-to-track co-occurrence within listening
 * sessions. Adapters: storage/features.lmdb.ts, storage/features.scylla.ts; contract suite
 * storage/features.contract.ts.
 *
 * Idempotency: `applyPlay` applies a finished play exactly once per playId, also when a
 * consumer dies between storing and acking and the play comes again. The embedded adapter
 * does it in one transaction. The CQL adapter writes a marker with `IF NOT EXISTS` that
 * carries the play's contribution, then that contribution as rows keyed by the play id
 * (counted on read), which a replay rewrites identically (storage/features.scylla.ts).
 */

export interface SessionTail {
  /** Most recent tracks of the user's current listening run, oldest first. */
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
  /**
   * Applies a finished play at most once per playId: counts one play (and one skip when
   * `skipped`) for the track, one co-occurrence each way with every neighbour other than the
   * track itself, and stores `tail` as the user's session tail. Resolves true when applied,
   * false when the play id was applied before (nothing moves, also under concurrent replays).
   * `bad_request` (nothing applied, the play id still free) for empty ids, a ts or tail.lastTs
   * that is not epoch ms, or malformed neighbours or tail.
   */
  applyPlay(play: FinishedPlay): Promise<boolean>;
  /** The tail stored by the user's last applied play; undefined when none. */
  sessionTail(userId: string): Promise<SessionTail | undefined>;
  /** Play and skip counts; zeros for an unknown track. */
  trackStats(trackId: string): Promise<TrackStats>;
  /**
   * Tracks most often in the same session as `trackId`, most frequent first, ties by track id
   * ascending, at most `limit` (default 20); [] for an unknown track. `bad_request` for a
   * limit that is not a positive integer.
   */
  cooccurring(trackId: string, limit?: number): Promise<{ trackId: string; count: number }[]>;
}

/** A listening run (plays with no long silence between them) ends after this much silence. */
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
