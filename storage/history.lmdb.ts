/** Embedded history adapter: key [userId, month, ts, playId], read in reverse (newest first). */
import { monthOf } from './event-codec.ts';
import { decodeCursor, encodeCursor, pageLimit, validateHistoryEntry } from './history-cursor.ts';
import type { HistoryEntry, HistoryStore } from './history.ts';
import { type EmbeddedEnv, MAX_KEY_PART, openTable } from './lmdb-env.ts';

export function createLmdbHistory(env: EmbeddedEnv): HistoryStore {
  const history = openTable<HistoryEntry>(env, 'listening_history');
  return {
    async appendHistory(e) {
      validateHistoryEntry(e);
      await history.put([e.userId, monthOf(e.ts), e.ts, e.playId], { ...e });
    },
    async readHistory(userId, opts = {}) {
      const limit = pageLimit(opts.limit);
      const c = opts.cursor ? decodeCursor(opts.cursor) : undefined;
      const start = c ? [userId, c.month, c.ts, c.playId] : [userId, MAX_KEY_PART];
      const entries: HistoryEntry[] = [];
      let more = false;
      for (const { key, value } of history.getRange({
        start,
        end: [userId],
        reverse: true,
        limit: limit + 2,
      })) {
        const k = key as unknown[];
        if (k[0] !== userId) break;
        // Reverse ranges include `start`: skip the cursor's own entry.
        if (c && k[2] === c.ts && k[3] === c.playId) continue;
        if (entries.length === limit) {
          more = true;
          break;
        }
        entries.push(value);
      }
      return more ? { entries, next: encodeCursor(entries[entries.length - 1]!) } : { entries };
    },
  };
}
