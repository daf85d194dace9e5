/** Contract suite of the royalty store port, run on LMDB and on the CQL node. */
import { describe, expect, it } from 'vitest';
import { countsFromLedger, type CountedPlay, type RoyaltyStore } from './royalties.ts';
import { isStorageError } from './errors.ts';

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

export function royaltyStoreContract(
  adapter: string,
  open: () => Promise<{ store: RoyaltyStore; month: string }>,
): void {
  describe(`royalty store contract (${adapter})`, () => {
    it('royalties - recording a play 5 times keeps the first row and counts it once', async () => {
      const { store, month } = await open();
      const p = play({ month });
      const results = [];
      for (let i = 0; i < 5; i++)
        results.push(
          await store.recordStream(i === 0 ? p : { ...p, territory: 'US', eventId: `other-${i}` }),
        );
      expect(results.map((r) => r.created)).toEqual([true, false, false, false, false]);
      expect(results.every((r) => r.row.territory === 'SE' && r.row.eventId === p.eventId)).toBe(true);
      expect(await store.getLedgerRow(p.playId)).toEqual(p);
      expect(await store.trackCounts(month)).toEqual([
        { month, id: 'trk1', territory: 'SE', product: 'premium', streams: 1 },
      ]);
    });

    it('royalties - concurrent records of one play create one row', async () => {
      const { store, month } = await open();
      const p = play({ month });
      const results = await Promise.all(Array.from({ length: 5 }, () => store.recordStream(p)));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect((await store.trackCounts(month)).reduce((s, c) => s + c.streams, 0)).toBe(1);
    });

    it('royalties - counts per track and artist by territory and product equal the ledger', async () => {
      const { store, month } = await open();
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
      const scanned: CountedPlay[] = [];
      for await (const r of store.scanLedger(month)) scanned.push(r);
      expect(scanned.map((r) => r.playId).sort()).toEqual(plays.map((p) => p.playId).sort());
      expect(await store.repairCounts(month, { dryRun: true })).toEqual({ added: 0, removed: 0 });
    });

    it('royalties - a malformed play is rejected with bad_request', async () => {
      const { store, month } = await open();
      await expect(store.recordStream({ ...play({ month }), month: 'June' })).rejects.toSatisfy(
        (e: unknown) => isStorageError(e, 'bad_request'),
      );
    });
  });
}
