/** CQL history adapter: listening_history ((user, month), ts desc, play_id desc) + history_months. */
import type { Client, types } from 'cassandra-driver';
import { monthOf } from './event-codec.ts';
import { decodeCursor, encodeCursor, pageLimit, validateHistoryEntry } from './history-cursor.ts';
import type { HistoryEntry, HistoryStore } from './history.ts';
import { exec, execAllPages, IDEMPOTENT_WRITE, READ } from './cql-client.ts';

const rowToEntry = (userId: string, r: types.Row): HistoryEntry => ({
  userId,
  playId: r.play_id,
  trackId: r.track_id,
  ts: Number(r.ts),
  msPlayed: r.ms_played ?? 0,
  // `!= null`: an empty string was written and reads back as one, as on LMDB.
  ...(r.context != null ? { context: r.context } : {}),
  ...(r.device != null ? { device: r.device } : {}),
  ...(r.reason != null ? { reason: r.reason } : {}),
});

export function createScyllaHistory(client: Client, ks: string): HistoryStore {
  const q = {
    put: `INSERT INTO ${ks}.listening_history (user_id, month, ts, play_id, track_id, ms_played, context, device, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    putMonth: `INSERT INTO ${ks}.history_months (user_id, month) VALUES (?, ?)`,
    months: `SELECT month FROM ${ks}.history_months WHERE user_id = ?`,
    monthsBefore: `SELECT month FROM ${ks}.history_months WHERE user_id = ? AND month <= ?`,
    page: `SELECT * FROM ${ks}.listening_history WHERE user_id = ? AND month = ? LIMIT ?`,
    pageAfter: `SELECT * FROM ${ks}.listening_history WHERE user_id = ? AND month = ? AND (ts, play_id) < (?, ?) LIMIT ?`,
  };
  return {
    async appendHistory(e) {
      validateHistoryEntry(e);
      const month = monthOf(e.ts);
      await Promise.all([
        exec(
          client,
          q.put,
          [
            e.userId,
            month,
            e.ts,
            e.playId,
            e.trackId,
            Math.round(e.msPlayed),
            e.context ?? null,
            e.device ?? null,
            e.reason ?? null,
          ],
          IDEMPOTENT_WRITE,
        ),
        exec(client, q.putMonth, [e.userId, month], IDEMPOTENT_WRITE),
      ]);
    },
    async readHistory(userId, opts = {}) {
      const limit = pageLimit(opts.limit);
      const c = opts.cursor ? decodeCursor(opts.cursor) : undefined;
      const months = (
        c
          ? await execAllPages(client, q.monthsBefore, [userId, c.month])
          : await execAllPages(client, q.months, [userId])
      ).map((r) => r.month as string);
      const entries: HistoryEntry[] = [];
      // One extra row tells whether another page exists.
      for (const month of months) {
        const want = limit + 1 - entries.length;
        if (want <= 0) break;
        const rs =
          c && month === c.month
            ? await exec(client, q.pageAfter, [userId, month, c.ts, c.playId, want], READ)
            : await exec(client, q.page, [userId, month, want], READ);
        entries.push(...rs.rows.map((r) => rowToEntry(userId, r)));
      }
      if (entries.length <= limit) return { entries };
      entries.length = limit;
      return { entries, next: encodeCursor(entries[limit - 1]!) };
    },
  };
}
