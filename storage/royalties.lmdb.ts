/**
 * Embedded royalty adapter, laid out like the CQL tables (schema-pipeline.cql):
 *   royalty_ledger          [playId]                                   -> CountedPlay
 *   royalty_ledger_by_month [month, playId]                            -> CountedPlay
 *   royalty_track_streams   [month, trackId, territory, product, playId]  -> 1
 *   royalty_artist_streams  [month, artistId, territory, product, playId] -> 1
 * The ledger check-and-insert and the derived rows commit in one LMDB transaction, so here
 * there is not even a crash window: a play's earliest qualifying event (earlierPlay) is its
 * ledger row, an earlier event recorded later replaces it and moves its count rows. The
 * idempotent-row layout is kept so both adapters pass the same contract and the same reconcile
 * job works on both.
 */
import type { Key } from 'lmdb';
import {
  type CountedPlay,
  type RecordResult,
  type RepairReport,
  type RoyaltyStore,
  type StreamCount,
  earlierPlay,
  sortCounts,
  validateCountedPlay,
} from './royalties.ts';
import { StorageError } from './errors.ts';
import { type EmbeddedEnv, openTable, prefixEnd } from './lmdb-env.ts';

export function createLmdbRoyalties(env: EmbeddedEnv): RoyaltyStore {
  const ledger = openTable<CountedPlay>(env, 'royalty_ledger');
  const byMonth = openTable<CountedPlay>(env, 'royalty_ledger_by_month');
  const trackRows = openTable<1>(env, 'royalty_track_streams');
  const artistRows = openTable<1>(env, 'royalty_artist_streams');

  const derivedKeys = (r: CountedPlay) => ({
    track: [r.month, r.trackId, r.territory, r.product, r.playId] as Key,
    artist: [r.month, r.artistId, r.territory, r.product, r.playId] as Key,
  });

  const writeDerived = (r: CountedPlay) => {
    const k = derivedKeys(r);
    void byMonth.put([r.month, r.playId], r);
    void trackRows.put(k.track, 1);
    void artistRows.put(k.artist, 1);
  };

  const removeDerived = (r: CountedPlay) => {
    const k = derivedKeys(r);
    void byMonth.remove([r.month, r.playId]);
    void trackRows.remove(k.track);
    void artistRows.remove(k.artist);
  };

  const countRows = (table: typeof trackRows, month: string): StreamCount[] => {
    const out = new Map<string, StreamCount>();
    for (const key of table.getKeys({ start: [month], end: prefixEnd([month]) })) {
      const [m, id, territory, product] = key as [string, string, string, 'free' | 'premium', string];
      const k = `${id}\u0000${territory}\u0000${product}`;
      const c = out.get(k);
      if (c) c.streams++;
      else out.set(k, { month: m, id, territory, product, streams: 1 });
    }
    return sortCounts([...out.values()]);
  };

  async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw new StorageError('unavailable', `embedded royalties: ${what} failed`, { cause });
    }
  }

  return {
    async recordStream(play) {
      return (await this.recordStreams([play]))[0]!;
    },
    async recordStreams(plays) {
      for (const p of plays) validateCountedPlay(p);
      // One transaction (one fsync) for the whole batch.
      return wrap('recordStreams', () =>
        env.transaction((): RecordResult[] =>
          plays.map((play) => {
            const existing = ledger.get([play.playId]);
            if (existing && !earlierPlay(play, existing)) {
              writeDerived(existing);
              return { created: false, row: existing };
            }
            if (existing) removeDerived(existing);
            void ledger.put([play.playId], play);
            writeDerived(play);
            return { created: true, row: play };
          }),
        ),
      );
    },
    async recordStreamsBlind(plays) {
      // One transaction either way: the results cost nothing to make here.
      await this.recordStreams(plays);
    },
    async getLedgerRow(playId) {
      return ledger.get([playId]);
    },
    async *scanLedger(month) {
      for (const { value } of byMonth.getRange({ start: [month], end: prefixEnd([month]) })) yield value;
    },
    async trackCounts(month) {
      return countRows(trackRows, month);
    },
    async artistCounts(month) {
      return countRows(artistRows, month);
    },
    repairCounts(month, opts = {}) {
      return wrap('repairCounts', () =>
        env.transaction((): RepairReport => {
          let added = 0;
          let removed = 0;
          // The primary ledger is the truth: rebuild the month index from it first.
          const rows: CountedPlay[] = [];
          for (const { value } of ledger.getRange()) if (value.month === month) rows.push(value);
          const want = { track: new Set<string>(), artist: new Set<string>() };
          for (const r of rows) {
            const k = derivedKeys(r);
            want.track.add(JSON.stringify(k.track));
            want.artist.add(JSON.stringify(k.artist));
            if (trackRows.get(k.track) === undefined) added++;
            if (artistRows.get(k.artist) === undefined) added++;
            if (!opts.dryRun) writeDerived(r);
          }
          for (const [table, wanted] of [
            [trackRows, want.track],
            [artistRows, want.artist],
          ] as const) {
            for (const key of table.getKeys({ start: [month], end: prefixEnd([month]) })) {
              if (wanted.has(JSON.stringify(key))) continue;
              removed++;
              if (!opts.dryRun) void table.remove(key);
            }
          }
          return { added, removed };
        }),
      );
    },
  } satisfies RoyaltyStore;
}
