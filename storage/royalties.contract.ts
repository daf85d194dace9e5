/**
 * Royalty store port contract (storage/royalties.ts), run against every adapter:
 * royalties.test.ts (LMDB) and royalties.engine.test.ts (CQL node). Each case uses its own
 * month, so counts and scans see only that case's plays.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countsFromLedger, type CountedPlay, type RoyaltyStore } from './royalties.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

let n = 0;
const play = (over: Partial<CountedPlay> = {}): CountedPlay => ({
  playId: `rp-${process.pid}-${++n}`,
  month: '2025-06',
  trackId: 'trk1',
  artistId: 'art1',
  userId: 'u1',
  territory: 'SE',
  product: 'premium',
  ts: Date.UTC(2025, 5, 3),
  msPlayed: 31_000,
  eventId: `ev-${n}`,
  ...over,
});

async function scan(store: RoyaltyStore, month: string): Promise<CountedPlay[]> {
  const rows: CountedPlay[] = [];
  for await (const r of store.scanLedger(month)) rows.push(r);
  return rows;
}

export function royaltiesContract(adapter: string, open: PortFactory<RoyaltyStore>): void {
  describe(`royalties contract (${adapter})`, () => {
    let opened: OpenedPort<RoyaltyStore>;
    let store: RoyaltyStore;
    let m = 0;
    /** A month no other case writes to. */
    const nextMonth = () =>
      `20${String(10 + Math.floor(m / 12)).padStart(2, '0')}-${String((m++ % 12) + 1).padStart(2, '0')}`;
    beforeAll(async () => {
      opened = await open();
      store = opened.port;
    });
    afterAll(() => opened?.close());

    it('royalties - recording a play 5 times keeps its earliest event and counts it once', async () => {
      const month = nextMonth();
      const p = play({ month });
      const results = [];
      for (let i = 0; i < 5; i++)
        results.push(
          await store.recordStream(
            i === 0 ? p : { ...p, territory: 'US', eventId: `other-${i}`, ts: p.ts + i },
          ),
        );
      expect(results.map((r) => r.created)).toEqual([true, false, false, false, false]);
      for (const r of results) expect(r.row).toEqual(p);
      expect(await store.getLedgerRow(p.playId)).toEqual(p);
      expect(await store.trackCounts(month)).toEqual([
        { month, id: 'trk1', territory: 'SE', product: 'premium', streams: 1 },
      ]);
      expect(await store.artistCounts(month)).toEqual([
        { month, id: 'art1', territory: 'SE', product: 'premium', streams: 1 },
      ]);
    });

    it('royalties - concurrent records of one play keep one row and count it once', async () => {
      const month = nextMonth();
      const p = play({ month });
      const results = await Promise.all(Array.from({ length: 5 }, () => store.recordStream(p)));
      // Which concurrent call "created" it is informational (storage/royalties.ts); the row is one.
      expect(results.some((r) => r.created)).toBe(true);
      for (const r of results) expect(r.row).toEqual(p);
      expect(await scan(store, month)).toEqual([p]);
      expect((await store.trackCounts(month)).reduce((s, c) => s + c.streams, 0)).toBe(1);
    });

    it('royalties - an earlier event recorded after a later one wins, across months, in any order', async () => {
      for (const concurrently of [false, true]) {
        const [early, late] = [nextMonth(), nextMonth()];
        const first = play({ month: early, ts: Date.UTC(2025, 0, 31, 23, 59, 50), territory: 'NO' });
        const second = { ...first, month: late, ts: first.ts + 20_000, eventId: `${first.eventId}-end` };
        if (concurrently) await Promise.all([store.recordStream(second), store.recordStream(first)]);
        else {
          expect((await store.recordStream(second)).created).toBe(true);
          const r = await store.recordStream(first);
          expect(r).toEqual({ created: true, row: first });
          expect((await store.recordStream(second)).row).toEqual(first);
        }
        expect(await store.getLedgerRow(first.playId)).toEqual(first);
        expect(await scan(store, early)).toEqual([first]);
        expect(await scan(store, late)).toEqual([]);
        expect(await store.trackCounts(early)).toEqual(countsFromLedger([first]).tracks);
        expect(await store.artistCounts(late)).toEqual([]);
        for (const m of [early, late])
          expect(await store.repairCounts(m, { dryRun: true })).toEqual({ added: 0, removed: 0 });
      }
    });

    it('royalties - an earlier event months before the later one still wins (a play paused for months)', async () => {
      const [early, , late] = [nextMonth(), nextMonth(), nextMonth()];
      const first = play({ month: early });
      const second = {
        ...first,
        month: late,
        ts: first.ts + 62 * 86_400_000,
        eventId: `${first.eventId}-end`,
      };
      await store.recordStream(second);
      expect(await scan(store, late)).toEqual([second]);
      expect(await store.recordStreams([play({ month: late }), first])).toMatchObject([
        { created: true },
        { created: true, row: first },
      ]);
      expect((await scan(store, late)).map((r) => r.playId)).not.toContain(first.playId);
      expect(await scan(store, early)).toEqual([first]);
      expect((await store.recordStream(second)).row).toEqual(first);
      expect(await store.getLedgerRow(first.playId)).toEqual(first);
      expect(await store.repairCounts(late, { dryRun: true })).toEqual({ added: 0, removed: 0 });
    });

    it('royalties - recordStreams answers in input order and is idempotent per play', async () => {
      const month = nextMonth();
      const first = play({ month });
      await store.recordStream(first);
      // The second is a later event of an already counted play (another ts and event id).
      const later = { ...first, territory: 'NO', ts: first.ts + 5_000, eventId: `${first.eventId}-end` };
      const batch = [play({ month }), later, play({ month, product: 'free' })];
      const results = await store.recordStreams(batch);
      expect(results.map((r) => r.created)).toEqual([true, false, true]);
      expect(results.map((r) => r.row)).toEqual([batch[0], first, batch[2]]);
      expect((await store.recordStreams(batch)).map((r) => r.created)).toEqual([false, false, false]);
      expect(await store.recordStreams([])).toEqual([]);
      expect(await store.trackCounts(month)).toEqual(countsFromLedger([first, batch[0]!, batch[2]!]).tracks);
    });

    it('royalties - counts per track and artist by territory and product equal the ledger', async () => {
      const month = nextMonth();
      const plays = [
        play({ month, trackId: 'a', artistId: 'x' }),
        play({ month, trackId: 'a', artistId: 'x', territory: 'US' }),
        play({ month, trackId: 'b', artistId: 'x', product: 'free' }),
        play({ month, trackId: 'b', artistId: 'x', product: 'free' }),
        play({ month, trackId: 'c', artistId: 'y' }),
      ];
      for (const p of plays) await store.recordStream(p);
      const truth = countsFromLedger(plays);
      expect(await store.trackCounts(month)).toEqual(truth.tracks);
      expect(await store.artistCounts(month)).toEqual(truth.artists);
      expect((await scan(store, month)).sort((a, b) => a.playId.localeCompare(b.playId))).toEqual(
        [...plays].sort((a, b) => a.playId.localeCompare(b.playId)),
      );
      expect(await store.repairCounts(month, { dryRun: true })).toEqual({ added: 0, removed: 0 });
      expect(await store.repairCounts(month)).toEqual({ added: 0, removed: 0 });
      expect(await store.trackCounts(month)).toEqual(truth.tracks);
    });

    it('royalties - blind records keep the earliest event of a play and count it once, duplicates included', async () => {
      const month = nextMonth();
      const p = play({ month });
      const later = { ...p, territory: 'US', eventId: `${p.eventId}-end`, ts: p.ts + 9_000 };
      await store.recordStreamsBlind([later]);
      await store.recordStreamsBlind([p]);
      await Promise.all([store.recordStreamsBlind([p]), store.recordStreamsBlind([later])]);
      expect(await store.getLedgerRow(p.playId)).toEqual(p);
      expect(await scan(store, month)).toEqual([p]);
      expect(await store.trackCounts(month)).toEqual(countsFromLedger([p]).tracks);
      expect(await store.artistCounts(month)).toEqual(countsFromLedger([p]).artists);
      // Recorded before (blind): not created by this call.
      expect(await store.recordStream(p)).toEqual({ created: false, row: p });
      expect(await store.repairCounts(month, { dryRun: true })).toEqual({ added: 0, removed: 0 });
      expect(await store.repairCounts(month)).toEqual({ added: 0, removed: 0 });
      expect(await scan(store, month)).toEqual([p]);
      expect(await store.recordStreamsBlind([])).toBeUndefined();
    });

    it('royalties - blind records of one play in two months count it in the earlier one only, in any order', async () => {
      for (const order of ['late first', 'early first', 'concurrently'] as const) {
        const [early, late] = [nextMonth(), nextMonth()];
        const first = play({ month: early, ts: Date.UTC(2025, 0, 31, 23, 59, 50), territory: 'NO' });
        const second = { ...first, month: late, ts: first.ts + 20_000, eventId: `${first.eventId}-end` };
        const other = play({ month: late });
        if (order === 'late first') {
          await store.recordStreamsBlind([second, other]);
          expect(await scan(store, late)).toHaveLength(2);
          await store.recordStreamsBlind([first]);
        } else if (order === 'early first') {
          await store.recordStreamsBlind([first]);
          await store.recordStreamsBlind([other, second]);
        } else if (order === 'concurrently')
          await Promise.all([store.recordStreamsBlind([second, other]), store.recordStreamsBlind([first])]);
        // One call never holds two events of a play (the consumer keeps a play's earliest of
        // a batch), so 'one call' is two calls on the same months, in flight together.
        else
          await Promise.all([store.recordStreamsBlind([first]), store.recordStreamsBlind([second, other])]);
        expect(await store.getLedgerRow(first.playId)).toEqual(first);
        expect(await scan(store, early)).toEqual([first]);
        expect(await scan(store, late)).toEqual([other]);
        expect(await store.trackCounts(early)).toEqual(countsFromLedger([first]).tracks);
        expect(await store.artistCounts(late)).toEqual(countsFromLedger([other]).artists);
        expect((await store.recordStream(second)).row).toEqual(first);
        for (const m of [early, late])
          expect(await store.repairCounts(m, { dryRun: true })).toEqual({ added: 0, removed: 0 });
      }
    });

    it('royalties - two events of a play at the same ms: the smaller event id wins, blind or not, in any order', async () => {
      for (const blind of [true, false]) {
        const month = nextMonth();
        const a = play({ month, territory: 'DK' });
        // Same ts, a greater event id (a prefix sorts first), other details.
        const b = { ...a, eventId: `${a.eventId}:end`, territory: 'FI', msPlayed: 90_000 };
        const c = play({ month, ts: a.ts });
        const d = { ...c, eventId: `${c.eventId}-z` };
        const record = (p: CountedPlay) =>
          blind ? store.recordStreamsBlind([p]) : store.recordStream(p).then(() => undefined);
        await record(b);
        await record(a);
        await Promise.all([record(d), record(c)]);
        expect(await store.getLedgerRow(a.playId)).toEqual(a);
        expect(await store.getLedgerRow(c.playId)).toEqual(c);
        const rows = (await scan(store, month)).sort((x, y) => x.playId.localeCompare(y.playId));
        expect(rows).toEqual([a, c].sort((x, y) => x.playId.localeCompare(y.playId)));
        expect(await store.trackCounts(month)).toEqual(countsFromLedger([a, c]).tracks);
      }
    });

    it('royalties - an unknown play or month is empty, not an error', async () => {
      const month = nextMonth();
      expect(await store.getLedgerRow('no-such-play')).toBeUndefined();
      expect(await scan(store, month)).toEqual([]);
      expect(await store.trackCounts(month)).toEqual([]);
      expect(await store.artistCounts(month)).toEqual([]);
      expect(await store.repairCounts(month, { dryRun: true })).toEqual({ added: 0, removed: 0 });
    });

    it('royalties - a malformed play is rejected with bad_request and records nothing', async () => {
      const month = nextMonth();
      const ok = play({ month });
      const bad: CountedPlay[] = [
        { ...ok, month: 'June' },
        { ...ok, playId: '' },
        { ...ok, product: 'family' as never },
        { ...ok, ts: 1.5 },
        { ...ok, msPlayed: NaN },
        { ...ok, trackId: 7 as never },
        { ...ok, userId: null as never },
        { ...ok, eventId: 42 as never },
      ];
      for (const p of bad) expect(await storageErrorCode(store.recordStream(p))).toBe('bad_request');
      for (const p of bad) expect(await storageErrorCode(store.recordStreamsBlind([p]))).toBe('bad_request');
      // One bad play fails the whole batch before anything is written.
      expect(await storageErrorCode(store.recordStreams([play({ month }), bad[0]!]))).toBe('bad_request');
      expect(await storageErrorCode(store.recordStreamsBlind([play({ month }), bad[1]!]))).toBe(
        'bad_request',
      );
      expect(await scan(store, month)).toEqual([]);
      expect(await store.getLedgerRow(ok.playId)).toBeUndefined();
    });

    it('royalties - the ledger and counts survive a restart', async () => {
      const month = nextMonth();
      const p = play({ month });
      await store.recordStream(p);
      store = await opened.reopen();
      expect(await store.getLedgerRow(p.playId)).toEqual(p);
      expect((await store.recordStream(p)).created).toBe(false);
      expect(await store.trackCounts(month)).toEqual(countsFromLedger([p]).tracks);
    });
  });
}
