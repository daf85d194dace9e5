/**
 * Session snapshot port: the persisted state of a session actor, so it can be rebuilt
 * after a restart or on another node. The value is opaque to storage (the actor's own
 * JSON-serialisable snapshot). Adapters: embedded/snapshots.lmdb.ts, scylla/snapshots.scylla.ts.
 *
 * Contract: `putSnapshot` stores the snapshot unless a stored one has a HIGHER version, in which
 * case it rejects with `conflict` and leaves the newer one (a slow node cannot roll a session
 * back). Writing the same version again overwrites (idempotent retry).
 */

export interface SessionSnapshot {
  userId: string;
  version: number;
  savedAt: number;
  /** Opaque JSON-serialisable state of the session actor. */
  state: unknown;
}

export interface SnapshotStore {
  putSnapshot(snapshot: SessionSnapshot): Promise<void>;
  getSnapshot(userId: string): Promise<SessionSnapshot | undefined>;
  deleteSnapshot(userId: string): Promise<void>;
}
