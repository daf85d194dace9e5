/**
 * Listening history port contract (storage/history.ts), run against every adapter:
 * history.test.ts (LMDB) and history.engine.test.ts (CQL node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_HISTORY_PAGE, DEFAULT_HISTORY_PAGE, type HistoryEntry, type HistoryStore } from './history.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

const DAY = 86_400_000;
const BASE = Date.UTC(2026, 0, 30, 12);

/** Reads every page of a user's history, newest first. */
async function readAll(h: HistoryStore, userId: string, limit: number) {
  const seen: HistoryEntry[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await h.readHistory(userId, { limit, ...(cursor ? { cursor } : {}) });
    expect(page.entries.length).toBeLessThanOrEqual(limit);
    seen.push(...page.entries);
    cursor = page.next;
    pages++;
  } while (cursor);
  return { seen, pages };
}

export function historyContract(adapter: string, open: PortFactory<HistoryStore>): void {
  describe(`history contract (${adapter})`, () => {
    let opened: OpenedPort<HistoryStore>;
    let h: HistoryStore;
    beforeAll(async () => {
      opened = await open();
      h = opened.port;
    });
    afterAll(() => opened?.close());

    it('history - newest first across month partitions, paged by cursor, every optional field kept', async () => {
      // 30 plays over ~2 months, appended out of order.
      const plays: HistoryEntry[] = Array.from({ length: 30 }, (_, i) => ({
        userId: 'hu',
        playId: `p${String(i).padStart(2, '0')}`,
        trackId: `t${i}`,
        ts: BASE + i * 2 * DAY,
        msPlayed: 31_000,
        ...(i % 2 ? { context: 'spotify:playlist:x', device: 'phone', reason: 'trackdone' } : {}),
      }));
      for (const p of [...plays].reverse()) await h.appendHistory(p);
      const { seen, pages } = await readAll(h, 'hu', 7);
      expect(seen).toEqual([...plays].reverse());
      expect(pages).toBe(5);
      expect((await h.readHistory('hu', { limit: 1 })).entries).toEqual([plays[29]]);
      // A page that ends exactly at the last entry has no next cursor.
      const exact = await h.readHistory('hu', { limit: 30 });
      expect(exact.entries).toHaveLength(30);
      expect(exact.next).toBeUndefined();
    });

    it('history - optional fields round-trip as written, empty strings included', async () => {
      const full: HistoryEntry = {
        userId: 'ho',
        playId: 'full',
        trackId: 't',
        ts: BASE,
        msPlayed: 1234,
        context: '',
        device: 'd',
        reason: '',
      };
      await h.appendHistory(full);
      expect((await h.readHistory('ho')).entries).toEqual([full]);
    });

    it('history - appending the same entry again stores it once', async () => {
      const e: HistoryEntry = { userId: 'hi', playId: 'p', trackId: 't', ts: BASE, msPlayed: 5 };
      for (let i = 0; i < 3; i++) await h.appendHistory(e);
      await Promise.all(Array.from({ length: 5 }, () => h.appendHistory(e)));
      expect(await h.readHistory('hi')).toEqual({ entries: [e] });
    });

    it('history - equal timestamps order by play id descending, and a cursor between them works', async () => {
      for (const playId of ['a', 'c', 'b'])
        await h.appendHistory({ userId: 'hv', playId, trackId: 't', ts: BASE, msPlayed: 1 });
      const { seen } = await readAll(h, 'hv', 1);
      expect(seen.map((e) => e.playId)).toEqual(['c', 'b', 'a']);
    });

    it('history - users are separate; an unknown user has an empty page', async () => {
      await h.appendHistory({ userId: 'ha', playId: 'x', trackId: 't', ts: BASE, msPlayed: 1 });
      await h.appendHistory({ userId: 'hb', playId: 'y', trackId: 't', ts: BASE, msPlayed: 1 });
      expect((await h.readHistory('ha')).entries.map((e) => e.playId)).toEqual(['x']);
      expect(await h.readHistory('nobody')).toEqual({ entries: [] });
    });

    it('history - the page size defaults and is capped', async () => {
      const n = MAX_HISTORY_PAGE + 5;
      for (let i = 0; i < n; i += 50)
        await Promise.all(
          Array.from({ length: Math.min(50, n - i) }, (_, k) =>
            h.appendHistory({
              userId: 'hp',
              playId: `p${i + k}`,
              trackId: 't',
              ts: BASE + i + k,
              msPlayed: 1,
            }),
          ),
        );
      const first = await h.readHistory('hp');
      expect(first.entries).toHaveLength(DEFAULT_HISTORY_PAGE);
      expect(first.next).toBeDefined();
      const big = await h.readHistory('hp', { limit: 10_000 });
      expect(big.entries).toHaveLength(MAX_HISTORY_PAGE);
      const rest = await h.readHistory('hp', { limit: 10_000, cursor: big.next! });
      expect(rest.entries.map((e) => e.playId)).toEqual(['p4', 'p3', 'p2', 'p1', 'p0']);
      expect(rest.next).toBeUndefined();
    }, 120_000);

    it('history - bad input is bad_request', async () => {
      const ok: HistoryEntry = { userId: 'hx', playId: 'p', trackId: 't', ts: BASE, msPlayed: 1 };
      expect(await storageErrorCode(h.readHistory('hx', { cursor: 'garbage' }))).toBe('bad_request');
      expect(
        await storageErrorCode(
          h.readHistory('hx', { cursor: '' + Buffer.from('[1]').toString('base64url') }),
        ),
      ).toBe('bad_request');
      expect(await storageErrorCode(h.readHistory('hx', { limit: 0 }))).toBe('bad_request');
      expect(await storageErrorCode(h.readHistory('hx', { limit: 2.5 }))).toBe('bad_request');
      expect(await storageErrorCode(h.appendHistory({ ...ok, userId: '' }))).toBe('bad_request');
      expect(await storageErrorCode(h.appendHistory({ ...ok, playId: '' }))).toBe('bad_request');
      expect(await storageErrorCode(h.appendHistory({ ...ok, ts: -1 }))).toBe('bad_request');
      expect(await storageErrorCode(h.appendHistory({ ...ok, ts: 1.5 }))).toBe('bad_request');
      expect(await storageErrorCode(h.appendHistory({ ...ok, msPlayed: -1 }))).toBe('bad_request');
      expect(await storageErrorCode(h.appendHistory({ ...ok, msPlayed: NaN }))).toBe('bad_request');
      expect(await h.readHistory('hx')).toEqual({ entries: [] });
    });

    it('history - entries survive a restart', async () => {
      const e: HistoryEntry = {
        userId: 'hd',
        playId: 'p',
        trackId: 't',
        ts: BASE,
        msPlayed: 40_000,
        device: 'web',
      };
      await h.appendHistory(e);
      h = await opened.reopen();
      expect(await h.readHistory('hd')).toEqual({ entries: [e] });
    });
  });
}
