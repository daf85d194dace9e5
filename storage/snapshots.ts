/**
 * Session snapshot port: the persisted state of a session actor, so it can be rebuilt
 * after a restart or on another node. The value is opaque to storage (the actor's own
 * JSON-serialisable snapshot). Adapters: storage/snapshots.lmdb.ts, storage/snapshots.scylla.ts
 * (LWTs); contract suite storage/snapshots.contract.ts.
 *
 * Contract: `putSnapshot` stores the snapshot unless a stored one has a HIGHER version, in which
 * case it rejects with `conflict` and leaves the newer one (a slow node cannot roll a session
 * back). Writing the same version again overwrites (idempotent retry).
 *
 * Fencing (cluster mode): a node that takes a listener over claims the snapshot with its lease's
 * fencing token (`claimFence`, a number that grows with every new owner); from then on a write
 * carrying a lower token (an old owner that lost its lease without knowing) is refused with
 * `conflict` and changes nothing. Writes without a token (one node) do not look at fences.
 */

export interface SessionSnapshot {
  userId: string;
  version: number;
  savedAt: number;
  /** Opaque JSON-serialisable state of the session actor. */
  state: unknown;
}

export interface SnapshotStore {
  /**
   * Stores the snapshot unless a stored one has a higher version, or, given `fence`, a higher
   * fencing token is stored (`conflict` either way, the stored one kept); the same version
   * again overwrites. Of concurrent writers the highest version wins.
   * `bad_request` (nothing written) for an empty user id, a version that is not a non-negative
   * integer, a savedAt that is not epoch ms, or a state that is not JSON-serialisable or
   * exceeds MAX_SNAPSHOT_BYTES.
   */
  putSnapshot(snapshot: SessionSnapshot, fence?: number): Promise<void>;
  /**
   * Raises the listener's fencing token to `fence` (a new owner, before it reads the snapshot);
   * `conflict` when a higher token is stored (a newer owner exists), and the same token again is
   * fine. The snapshot itself is unchanged (none stored: still none). `bad_request` for a token
   * that is not a non-negative integer.
   */
  claimFence(userId: string, fence: number): Promise<void>;
  /** The stored snapshot (state as JSON round-trips it); undefined when none. */
  getSnapshot(userId: string): Promise<SessionSnapshot | undefined>;
  /** Removes it (idempotent: unknown is fine); afterwards any version may be stored again. */
  deleteSnapshot(userId: string): Promise<void>;
}
