/**
 * CQL feature adapter, exact under replays, crashes and concurrent consumers without counters
 * (a counter increment cannot be made idempotent: a consumer killed between its marker and its
 * increments used to lose them, one killed after them and replayed could not tell):
 *
 * 1. the play's marker in `feature_plays`, `IF NOT EXISTS`, carrying its track, skip and
 *    neighbours: the first apply of a play id fixes what the play contributes;
 * 2. its contribution as rows keyed by its play id: `feature_track_plays` (one per play) and
 *    `feature_cooccurrence_plays` (one per neighbour, each direction). Written from the
 *    marker's content also when the marker was already there (the LWT answers with the stored
 *    row): a replay after a crash between 1 and 2 completes the same rows, a replay after 2
 *    rewrites identical ones. Nothing moves twice;
 * 3. the user's session tail, only by the call that created the marker.
 *
 * Counts are read by counting rows (`trackStats`, `cooccurring`): a read walks the track's
 * partition, which suits the radio's offline reads and the tests; nothing on a request path
 * reads them. `track_play_stats` and `track_cooccurrence` (counters) are no longer written.
 */
import type { Client } from 'cassandra-driver';
import type { FeatureStore } from './features.ts';
import { validateFinishedPlay, validateLimit } from './features-validate.ts';
import { cqlCall, exec, execAllPages, IDEMPOTENT_WRITE, NON_IDEMPOTENT, READ } from './cql-client.ts';

export function createScyllaFeatures(client: Client, ks: string): FeatureStore {
  const q = {
    mark:
      `INSERT INTO ${ks}.feature_plays (play_id, track_id, skipped, neighbours, applied_at) ` +
      `VALUES (?, ?, ?, ?, ?) IF NOT EXISTS`,
    trackRow: `INSERT INTO ${ks}.feature_track_plays (track_id, play_id, skipped) VALUES (?, ?, ?)`,
    coocRow: `INSERT INTO ${ks}.feature_cooccurrence_plays (track_id, other_id, play_id) VALUES (?, ?, ?)`,
    putTail: `INSERT INTO ${ks}.feature_session_tail (user_id, tracks, last_ts) VALUES (?, ?, ?)`,
    getTail: `SELECT tracks, last_ts FROM ${ks}.feature_session_tail WHERE user_id = ?`,
    getPlays: `SELECT skipped FROM ${ks}.feature_track_plays WHERE track_id = ?`,
    getCooc: `SELECT other_id FROM ${ks}.feature_cooccurrence_plays WHERE track_id = ?`,
  };
  return {
    async applyPlay(p) {
      validateFinishedPlay(p);
      const neighbours = [...new Set(p.neighbours.filter((o) => o !== p.trackId))];
      const rs = await exec(
        client,
        q.mark,
        [p.playId, p.trackId, p.skipped, neighbours, p.ts],
        NON_IDEMPOTENT,
      );
      const applied = rs.wasApplied();
      // Lost the race or a replay: the rows are the stored play's, whatever this call carried.
      const row = applied ? undefined : rs.first();
      const trackId = applied ? p.trackId : (row?.track_id as string);
      const skipped = applied ? p.skipped : Boolean(row?.skipped);
      const others = applied ? neighbours : ((row?.neighbours as string[] | null) ?? []);
      const rows = [{ query: q.trackRow, params: [trackId, p.playId, skipped] }];
      for (const other of others)
        rows.push(
          { query: q.coocRow, params: [trackId, other, p.playId] },
          { query: q.coocRow, params: [other, trackId, p.playId] },
        );
      await cqlCall('feature rows', () =>
        client.batch(rows, { prepare: true, logged: false, isIdempotent: true }),
      );
      if (applied) await exec(client, q.putTail, [p.userId, p.tail.tracks, p.tail.lastTs], IDEMPOTENT_WRITE);
      return applied;
    },
    async sessionTail(userId) {
      const r = (await exec(client, q.getTail, [userId], READ)).first();
      return r ? { tracks: (r.tracks as string[] | null) ?? [], lastTs: Number(r.last_ts) } : undefined;
    },
    async trackStats(trackId) {
      const rows = await execAllPages(client, q.getPlays, [trackId]);
      return { plays: rows.length, skips: rows.filter((r) => r.skipped === true).length };
    },
    async cooccurring(trackId, limit = 20) {
      validateLimit(limit);
      const counts = new Map<string, number>();
      for (const r of await execAllPages(client, q.getCooc, [trackId])) {
        const other = r.other_id as string;
        counts.set(other, (counts.get(other) ?? 0) + 1);
      }
      return [...counts]
        .map(([other, count]) => ({ trackId: other, count }))
        .sort((a, b) => b.count - a.count || a.trackId.localeCompare(b.trackId))
        .slice(0, limit);
    },
  } satisfies FeatureStore;
}
