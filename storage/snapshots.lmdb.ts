/** Embedded snapshot adapter: table `session_snapshots` keyed [userId]; version check in a transaction. */
import { checkId } from './catalog-validate.ts';
import { checkFence, fencedOut, snapshotStateJson, staleSnapshot } from './snapshot-validate.ts';
import type { SessionSnapshot, SnapshotStore } from './snapshots.ts';
import { type EmbeddedEnv, openTable } from './lmdb-env.ts';

interface Row {
  version: number;
  savedAt: number;
  /** Undefined: a fence claimed before any snapshot was saved. */
  state?: string;
  /** The highest fencing token claimed or written with. */
  fence?: number;
}

export function createLmdbSnapshots(env: EmbeddedEnv): SnapshotStore {
  const snapshots = openTable<Row>(env, 'session_snapshots');
  return {
    async putSnapshot(s, fence) {
      const state = snapshotStateJson(s);
      checkFence(fence);
      const refused = await env.transaction(() => {
        const old = snapshots.get([s.userId]);
        if (fence !== undefined && (old?.fence ?? 0) > fence) return fencedOut(s.userId, old!.fence!, fence);
        if (old?.state !== undefined && old.version > s.version)
          return staleSnapshot(s.userId, old.version, s.version);
        const kept = fence ?? old?.fence;
        snapshots.putSync([s.userId], {
          version: s.version,
          savedAt: s.savedAt,
          state,
          ...(kept !== undefined ? { fence: kept } : {}),
        });
        return undefined;
      });
      if (refused) throw refused;
    },
    async claimFence(userId, fence) {
      checkId('user id', userId);
      checkFence(fence);
      const refused = await env.transaction(() => {
        const old = snapshots.get([userId]);
        if ((old?.fence ?? 0) > fence) return fencedOut(userId, old!.fence!, fence);
        snapshots.putSync([userId], { ...(old ?? { version: 0, savedAt: 0 }), fence });
        return undefined;
      });
      if (refused) throw refused;
    },
    async getSnapshot(userId): Promise<SessionSnapshot | undefined> {
      const r = snapshots.get([userId]);
      return r?.state !== undefined
        ? { userId, version: r.version, savedAt: r.savedAt, state: JSON.parse(r.state) }
        : undefined;
    },
    async deleteSnapshot(userId) {
      await snapshots.remove([userId]);
    },
  };
}
