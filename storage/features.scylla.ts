/**
 * CQL feature adapter: marker `feature_applied_plays` with IF NOT EXISTS, then counters in
 * `track_play_stats` and `track_cooccurrence` (see storage/features.ts for the at-most-once
 * reasoning), and the user's session tail in `feature_session_tail`.
 */
import type { Client } from 'cassandra-driver';
import type { FeatureStore } from './features.ts';
import { validateFinishedPlay, validateLimit } from './features-validate.ts';
import { cqlCall, exec, execAllPages, IDEMPOTENT_WRITE, NON_IDEMPOTENT, READ } from './cql-client.ts';

export function createScyllaFeatures(client: Client, ks: string): FeatureStore {
  const q = {
    mark: `INSERT INTO ${ks}.feature_applied_plays (play_id, applied_at) VALUES (?, ?) IF NOT EXISTS`,
    stats: `UPDATE ${ks}.track_play_stats SET plays = plays + 1, skips = skips + ? WHERE track_id = ?`,
    cooc: `UPDATE ${ks}.track_cooccurrence SET n = n + 1 WHERE track_id = ? AND other_id = ?`,
    putTail: `INSERT INTO ${ks}.feature_session_tail (user_id, tracks, last_ts) VALUES (?, ?, ?)`,
    getTail: `SELECT tracks, last_ts FROM ${ks}.feature_session_tail WHERE user_id = ?`,
    getStats: `SELECT plays, skips FROM ${ks}.track_play_stats WHERE track_id = ?`,
    getCooc: `SELECT other_id, n FROM ${ks}.track_cooccurrence WHERE track_id = ?`,
  };
  return {
    async applyPlay(p) {
      validateFinishedPlay(p);
      const rs = await exec(client, q.mark, [p.playId, p.ts], NON_IDEMPOTENT);
      if (!rs.wasApplied()) return false;
      const counters = [{ query: q.stats, params: [p.skipped ? 1 : 0, p.trackId] }];
      for (const other of p.neighbours) {
        if (other === p.trackId) continue;
        counters.push(
          { query: q.cooc, params: [p.trackId, other] },
          { query: q.cooc, params: [other, p.trackId] },
        );
      }
      await cqlCall('feature counters', () =>
        client.batch(counters, { prepare: true, counter: true, isIdempotent: false }),
      );
      await exec(client, q.putTail, [p.userId, p.tail.tracks, p.tail.lastTs], IDEMPOTENT_WRITE);
      return true;
    },
    async sessionTail(userId) {
      const r = (await exec(client, q.getTail, [userId], READ)).first();
      return r ? { tracks: (r.tracks as string[] | null) ?? [], lastTs: Number(r.last_ts) } : undefined;
    },
    async trackStats(trackId) {
      const r = (await exec(client, q.getStats, [trackId], READ)).first();
      return { plays: Number(r?.plays ?? 0), skips: Number(r?.skips ?? 0) };
    },
    async cooccurring(trackId, limit = 20) {
      validateLimit(limit);
      const rows = await execAllPages(client, q.getCooc, [trackId]);
      return rows
        .map((r) => ({ trackId: r.other_id as string, count: Number(r.n) }))
        .sort((a, b) => b.count - a.count || a.trackId.localeCompare(b.trackId))
        .slice(0, limit);
    },
  } satisfies FeatureStore;
}
