/**
 * The session journal port (cluster mode): what a listener's owner has acknowledged since its
 * last snapshot, kept durably before the acknowledgement leaves, so a node killed between two
 * snapshots loses nothing it acknowledged. Adapter: storage/journal.jetstream.ts.
 *
 * An entry is the session's persisted state after the acknowledged step (a changelog, as Kafka
 * Streams keeps a state store's), not the command: the step's result also depends on what its
 * loads read (catalog, playlist resolution, radio) and on the clock, so replaying commands
 * would need those inputs journaled too. Loading the newest entry is the replay, and it is
 * deterministic by construction.
 *
 * Contract:
 * - `open(userId, fence)`: a new owner (fencing token `fence`, the lease revision) makes the
 *   journal its own: from then on an append of any earlier owner is refused with `conflict`.
 *   Resolves with the newest entry (undefined: none).
 * - `append(snapshot)`: stores the state; `conflict` when another owner opened the listener's
 *   journal since this one did (or this one never did); appends of one listener land in call
 *   order, and an append may stand for earlier ones still waiting (only the newest state counts).
 * - `lastSeq(userId)`: a token of the newest entry this owner appended (0: none), so a
 *   snapshot can say what it covers.
 * - `drop(userId, coveredSeq)`: the session left this node after a snapshot that covers
 *   `coveredSeq`: its entries are removed if nothing was appended since.
 */
import type { SessionSnapshot } from './snapshots.ts';

export interface SessionJournal {
  open(userId: string, fence: number): Promise<SessionSnapshot | undefined>;
  append(snapshot: SessionSnapshot): Promise<void>;
  lastSeq(userId: string): number;
  drop(userId: string, coveredSeq: number): Promise<void>;
  close(): Promise<void>;
}

/** Of a stored snapshot and a journal entry, the one that is newer (version, then save time). */
export function newerSnapshot(
  a: SessionSnapshot | undefined,
  b: SessionSnapshot | undefined,
): SessionSnapshot | undefined {
  if (!a || !b) return a ?? b;
  if (a.version !== b.version) return a.version > b.version ? a : b;
  return a.savedAt >= b.savedAt ? a : b;
}
