/**
 * CQL snapshot adapter: session_snapshots; newer-version protection and fencing with LWTs. A
 * fence claimed before any snapshot exists is a row with version 0 and no state (read as none).
 */
import type { Client } from 'cassandra-driver';
import { checkId } from './catalog-validate.ts';
import { checkFence, fencedOut, snapshotStateJson, staleSnapshot } from './snapshot-validate.ts';
import type { SnapshotStore } from './snapshots.ts';
import { exec, IDEMPOTENT_WRITE, NON_IDEMPOTENT, READ } from './cql-client.ts';

/** Rounds of insert-or-update before giving up (a concurrent delete can race the update). */
const MAX_ATTEMPTS = 4;

export function createScyllaSnapshots(client: Client, ks: string): SnapshotStore {
  const q = {
    insert: `INSERT INTO ${ks}.session_snapshots (user_id, version, saved_at, state, fence) VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
    update: `UPDATE ${ks}.session_snapshots SET version = ?, saved_at = ?, state = ? WHERE user_id = ? IF version <= ?`,
    updateFenced: `UPDATE ${ks}.session_snapshots SET version = ?, saved_at = ?, state = ?, fence = ? WHERE user_id = ? IF version <= ? AND fence <= ?`,
    updateFencedFirst: `UPDATE ${ks}.session_snapshots SET version = ?, saved_at = ?, state = ?, fence = ? WHERE user_id = ? IF version <= ? AND fence = null`,
    claimNew: `INSERT INTO ${ks}.session_snapshots (user_id, version, saved_at, fence) VALUES (?, 0, 0, ?) IF NOT EXISTS`,
    claim: `UPDATE ${ks}.session_snapshots SET fence = ? WHERE user_id = ? IF fence <= ?`,
    claimFirst: `UPDATE ${ks}.session_snapshots SET fence = ? WHERE user_id = ? IF fence = null`,
    get: `SELECT * FROM ${ks}.session_snapshots WHERE user_id = ?`,
    del: `DELETE FROM ${ks}.session_snapshots WHERE user_id = ?`,
  };
  return {
    async putSnapshot(s, fence) {
      const state = snapshotStateJson(s);
      checkFence(fence);
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const ins = await exec(
          client,
          q.insert,
          [s.userId, s.version, s.savedAt, state, fence ?? null],
          NON_IDEMPOTENT,
        );
        if (ins.wasApplied()) return;
        const stored = ins.first();
        const storedFence = stored?.fence == null ? null : Number(stored.fence);
        if (fence !== undefined && storedFence !== null && storedFence > fence)
          throw fencedOut(s.userId, storedFence, fence);
        const upd =
          fence === undefined
            ? await exec(client, q.update, [s.version, s.savedAt, state, s.userId, s.version], NON_IDEMPOTENT)
            : storedFence === null
              ? await exec(
                  client,
                  q.updateFencedFirst,
                  [s.version, s.savedAt, state, fence, s.userId, s.version],
                  NON_IDEMPOTENT,
                )
              : await exec(
                  client,
                  q.updateFenced,
                  [s.version, s.savedAt, state, fence, s.userId, s.version, fence],
                  NON_IDEMPOTENT,
                );
        if (upd.wasApplied()) return;
        const row = upd.first();
        // No row: it vanished between the two LWTs (deleted); insert again.
        if (row?.version == null) continue;
        const nowFence = row.fence == null ? null : Number(row.fence);
        if (fence !== undefined && nowFence !== null && nowFence > fence)
          throw fencedOut(s.userId, nowFence, fence);
        // The fence moved between the two LWTs (a claim): read it again.
        if (fence !== undefined && nowFence !== storedFence) continue;
        if (Number(row.version) > s.version) throw staleSnapshot(s.userId, Number(row.version), s.version);
      }
      throw staleSnapshot(s.userId, NaN, s.version);
    },
    async claimFence(userId, fence) {
      checkId('user id', userId);
      checkFence(fence);
      for (let i = 0; i < MAX_ATTEMPTS; i++) {
        const ins = await exec(client, q.claimNew, [userId, fence], NON_IDEMPOTENT);
        if (ins.wasApplied()) return;
        const stored = ins.first()?.fence;
        const upd =
          stored == null
            ? await exec(client, q.claimFirst, [fence, userId], NON_IDEMPOTENT)
            : await exec(client, q.claim, [fence, userId, fence], NON_IDEMPOTENT);
        if (upd.wasApplied()) return;
        const now = upd.first()?.fence;
        if (now != null && Number(now) > fence) throw fencedOut(userId, Number(now), fence);
      }
      throw new Error(`claiming the fence of ${userId}: the row kept changing`);
    },
    async getSnapshot(userId) {
      const r = (await exec(client, q.get, [userId], READ)).first();
      return r && r.state != null
        ? { userId, version: Number(r.version), savedAt: Number(r.saved_at), state: JSON.parse(r.state) }
        : undefined;
    },
    async deleteSnapshot(userId) {
      await exec(client, q.del, [userId], IDEMPOTENT_WRITE);
    },
  };
}
