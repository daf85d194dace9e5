/** CQL snapshot adapter: session_snapshots; newer-version protection with LWTs. */
import type { Client } from 'cassandra-driver';
import { snapshotStateJson, staleSnapshot } from './snapshot-validate.ts';
import type { SnapshotStore } from './snapshots.ts';
import { exec, IDEMPOTENT_WRITE, NON_IDEMPOTENT, READ } from './cql-client.ts';

/** Rounds of insert-or-update before giving up (a concurrent delete can race the update). */
const MAX_ATTEMPTS = 4;

export function createScyllaSnapshots(client: Client, ks: string): SnapshotStore {
  const q = {
    insert: `INSERT INTO ${ks}.session_snapshots (user_id, version, saved_at, state) VALUES (?, ?, ?, ?) IF NOT EXISTS`,
    update: `UPDATE ${ks}.session_snapshots SET version = ?, saved_at = ?, state = ? WHERE user_id = ? IF version <= ?`,
    get: `SELECT * FROM ${ks}.session_snapshots WHERE user_id = ?`,
    del: `DELETE FROM ${ks}.session_snapshots WHERE user_id = ?`,
  };
  return {
    async putSnapshot(s) {
      const state = snapshotStateJson(s);
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const ins = await exec(client, q.insert, [s.userId, s.version, s.savedAt, state], NON_IDEMPOTENT);
        if (ins.wasApplied()) return;
        const upd = await exec(
          client,
          q.update,
          [s.version, s.savedAt, state, s.userId, s.version],
          NON_IDEMPOTENT,
        );
        if (upd.wasApplied()) return;
        const current = upd.first()?.version;
        // null: the row vanished between the two LWTs (deleted); insert again.
        if (current != null) throw staleSnapshot(s.userId, Number(current), s.version);
      }
      throw staleSnapshot(s.userId, NaN, s.version);
    },
    async getSnapshot(userId) {
      const r = (await exec(client, q.get, [userId], READ)).first();
      return r
        ? { userId, version: Number(r.version), savedAt: Number(r.saved_at), state: JSON.parse(r.state) }
        : undefined;
    },
    async deleteSnapshot(userId) {
      await exec(client, q.del, [userId], IDEMPOTENT_WRITE);
    },
  };
}
