/** Embedded snapshot adapter: table `session_snapshots` keyed [userId]; version check in a transaction. */
import { snapshotStateJson, staleSnapshot } from './snapshot-validate.ts';
import type { SessionSnapshot, SnapshotStore } from './snapshots.ts';
import { type EmbeddedEnv, openTable } from './lmdb-env.ts';

interface Row {
  version: number;
  savedAt: number;
  state: string;
}

export function createLmdbSnapshots(env: EmbeddedEnv): SnapshotStore {
  const snapshots = openTable<Row>(env, 'session_snapshots');
  return {
    async putSnapshot(s) {
      const state = snapshotStateJson(s);
      const stored = await env.transaction(() => {
        const old = snapshots.get([s.userId]);
        if (old && old.version > s.version) return old.version;
        snapshots.putSync([s.userId], { version: s.version, savedAt: s.savedAt, state });
        return undefined;
      });
      if (stored !== undefined) throw staleSnapshot(s.userId, stored, s.version);
    },
    async getSnapshot(userId): Promise<SessionSnapshot | undefined> {
      const r = snapshots.get([userId]);
      return r && { userId, version: r.version, savedAt: r.savedAt, state: JSON.parse(r.state) };
    },
    async deleteSnapshot(userId) {
      await snapshots.remove([userId]);
    },
  };
}
