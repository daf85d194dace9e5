/**
 * Session snapshot port: the persisted state of a session actor, so it can be rebuilt
 * after a restart or on another node. The value is opaque to storage (the actor's own
 * serialisable snapshot); `version` lets a writer refuse to overwrite a newer one.
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
