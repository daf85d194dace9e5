/**
 * CQL royalty adapter (tables in schema-pipeline.cql; the design is in storage/royalties.ts):
 * 1. `INSERT INTO royalty_ledger ... IF NOT EXISTS`: the first qualifying event of a play wins;
 *    a later one gets the stored row back from the LWT (`[applied] = false` + the row).
 * 2. One LOGGED batch writes, from that stored row, the month-index copy, the track and artist
 *    count rows and the month id index: all idempotent upserts, all-or-nothing eventually.
 * A crash between 1 and 2 leaves an unacked event: its redelivery runs 1 (not applied, same
 * row) and 2 again. Nothing is ever incremented, so no step can count twice.
 */
import type { Client, types } from 'cassandra-driver';
import { StorageError } from './errors.ts';
import {
  type CountedPlay,
  type Product,
  type RecordResult,
  type RepairReport,
  type RoyaltyStore,
  type StreamCount,
  sortCounts,
  validateCountedPlay,
} from './royalties.ts';
import { cqlCall, exec, execAllPages, IDEMPOTENT_WRITE, NON_IDEMPOTENT, READ } from './cql-client.ts';

export const LEDGER_BUCKETS = 16;
/**
 * Plays of one batch recorded at once (each: one LWT, then one logged batch). Plays are
 * independent (distinct play ids; a play racing itself is settled by the LWT), so running
 * them side by side cannot count twice; it only hides the LWT's Paxos round trips.
 */
export const DEFAULT_RECORD_CONCURRENCY = 128;

export interface ScyllaRoyaltiesOptions {
  recordConcurrency?: number;
}

/** FNV-1a of the play id, mod the bucket count: spreads a month over partitions. */
export function bucketOf(id: string, buckets = LEDGER_BUCKETS): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % buckets;
}

const COLS = 'play_id, month, track_id, artist_id, user_id, territory, product, ts, ms_played, event_id';

const rowToPlay = (r: types.Row): CountedPlay => ({
  playId: r.play_id,
  month: r.month,
  trackId: r.track_id,
  artistId: r.artist_id,
  userId: r.user_id,
  territory: r.territory,
  product: r.product as Product,
  ts: Number(r.ts),
  msPlayed: r.ms_played,
  eventId: r.event_id,
});

export function createScyllaRoyalties(
  client: Client,
  ks: string,
  opts: ScyllaRoyaltiesOptions = {},
): RoyaltyStore {
  const concurrency = Math.max(1, opts.recordConcurrency ?? DEFAULT_RECORD_CONCURRENCY);
  const q = {
    insertLedger: `INSERT INTO ${ks}.royalty_ledger (${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS`,
    getLedger: `SELECT ${COLS} FROM ${ks}.royalty_ledger WHERE play_id = ?`,
    scanLedgerAll: `SELECT ${COLS} FROM ${ks}.royalty_ledger`,
    byMonth: `INSERT INTO ${ks}.royalty_ledger_by_month (bucket, ${COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    scanMonth: `SELECT ${COLS} FROM ${ks}.royalty_ledger_by_month WHERE month = ? AND bucket = ?`,
    track: `INSERT INTO ${ks}.royalty_track_streams (month, track_id, territory, product, play_id) VALUES (?, ?, ?, ?, ?)`,
    artist: `INSERT INTO ${ks}.royalty_artist_streams (month, artist_id, territory, product, play_id) VALUES (?, ?, ?, ?, ?)`,
    monthId: `INSERT INTO ${ks}.royalty_month_ids (month, kind, bucket, id) VALUES (?, ?, ?, ?)`,
    monthIds: `SELECT id FROM ${ks}.royalty_month_ids WHERE month = ? AND kind = ? AND bucket = ?`,
    trackCount: `SELECT territory, product, COUNT(*) AS n FROM ${ks}.royalty_track_streams WHERE month = ? AND track_id = ? GROUP BY territory, product`,
    artistCount: `SELECT territory, product, COUNT(*) AS n FROM ${ks}.royalty_artist_streams WHERE month = ? AND artist_id = ? GROUP BY territory, product`,
    trackRows: `SELECT territory, product, play_id FROM ${ks}.royalty_track_streams WHERE month = ? AND track_id = ?`,
    artistRows: `SELECT territory, product, play_id FROM ${ks}.royalty_artist_streams WHERE month = ? AND artist_id = ?`,
    delTrack: `DELETE FROM ${ks}.royalty_track_streams WHERE month = ? AND track_id = ? AND territory = ? AND product = ? AND play_id = ?`,
    delArtist: `DELETE FROM ${ks}.royalty_artist_streams WHERE month = ? AND artist_id = ? AND territory = ? AND product = ? AND play_id = ?`,
  };

  const derived = (r: CountedPlay) => [
    {
      query: q.byMonth,
      params: [
        bucketOf(r.playId),
        r.playId,
        r.month,
        r.trackId,
        r.artistId,
        r.userId,
        r.territory,
        r.product,
        r.ts,
        r.msPlayed,
        r.eventId,
      ],
    },
    { query: q.track, params: [r.month, r.trackId, r.territory, r.product, r.playId] },
    { query: q.artist, params: [r.month, r.artistId, r.territory, r.product, r.playId] },
    { query: q.monthId, params: [r.month, 'track', bucketOf(r.trackId), r.trackId] },
    { query: q.monthId, params: [r.month, 'artist', bucketOf(r.artistId), r.artistId] },
  ];

  const writeDerived = (r: CountedPlay) =>
    cqlCall('royalty count rows', () =>
      client.batch(derived(r), { prepare: true, logged: true, isIdempotent: true }),
    );

  async function monthIds(month: string, kind: 'track' | 'artist'): Promise<string[]> {
    const ids: string[] = [];
    for (let b = 0; b < LEDGER_BUCKETS; b++) {
      for (const r of await execAllPages(client, q.monthIds, [month, kind, b])) ids.push(r.id);
    }
    return ids;
  }

  async function counts(month: string, kind: 'track' | 'artist'): Promise<StreamCount[]> {
    const out: StreamCount[] = [];
    const query = kind === 'track' ? q.trackCount : q.artistCount;
    for (const id of await monthIds(month, kind)) {
      for (const r of await execAllPages(client, query, [month, id])) {
        out.push({ month, id, territory: r.territory, product: r.product, streams: Number(r.n) });
      }
    }
    return sortCounts(out.filter((c) => c.streams > 0));
  }

  return {
    async recordStream(play) {
      validateCountedPlay(play);
      const rs = await exec(
        client,
        q.insertLedger,
        [
          play.playId,
          play.month,
          play.trackId,
          play.artistId,
          play.userId,
          play.territory,
          play.product,
          play.ts,
          play.msPlayed,
          play.eventId,
        ],
        NON_IDEMPOTENT,
      );
      const created = rs.wasApplied();
      const first = rs.first();
      // Not applied: the LWT answers with the existing row, which is what must be counted.
      const row = created
        ? play
        : first && first.play_id
          ? rowToPlay(first)
          : await this.getLedgerRow(play.playId);
      if (!row) throw new StorageError('unavailable', `royalty ledger row ${play.playId} vanished`);
      await writeDerived(row);
      return { created, row };
    },
    async recordStreams(plays) {
      // All or nothing for bad input, as on LMDB: no play of a malformed batch is written.
      for (const p of plays) validateCountedPlay(p);
      const out: RecordResult[] = new Array(plays.length);
      let next = 0;
      const worker = async () => {
        while (next < plays.length) {
          const i = next++;
          out[i] = await this.recordStream(plays[i]!);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, plays.length) }, worker));
      return out;
    },
    async getLedgerRow(playId) {
      const rs = await exec(client, q.getLedger, [playId], READ);
      const r = rs.first();
      return r ? rowToPlay(r) : undefined;
    },
    async *scanLedger(month) {
      for (let b = 0; b < LEDGER_BUCKETS; b++) {
        for (const r of await execAllPages(client, q.scanMonth, [month, b])) yield rowToPlay(r);
      }
    },
    trackCounts: (month) => counts(month, 'track'),
    artistCounts: (month) => counts(month, 'artist'),
    async repairCounts(month, opts = {}): Promise<RepairReport> {
      // The primary ledger (by play id) is the truth; a full scan is fine for a batch job.
      const rows = (await execAllPages(client, q.scanLedgerAll, [], 5_000))
        .map(rowToPlay)
        .filter((r) => r.month === month);
      const want = new Map<string, CountedPlay>();
      for (const r of rows) {
        want.set(`track\u0000${r.trackId}\u0000${r.territory}\u0000${r.product}\u0000${r.playId}`, r);
        want.set(`artist\u0000${r.artistId}\u0000${r.territory}\u0000${r.product}\u0000${r.playId}`, r);
      }
      const have = new Set<string>();
      let removed = 0;
      for (const kind of ['track', 'artist'] as const) {
        for (const id of await monthIds(month, kind)) {
          for (const r of await execAllPages(client, kind === 'track' ? q.trackRows : q.artistRows, [
            month,
            id,
          ])) {
            const key = `${kind}\u0000${id}\u0000${r.territory}\u0000${r.product}\u0000${r.play_id}`;
            if (want.has(key)) {
              have.add(key);
              continue;
            }
            removed++;
            if (!opts.dryRun) {
              await exec(
                client,
                kind === 'track' ? q.delTrack : q.delArtist,
                [month, id, r.territory, r.product, r.play_id],
                IDEMPOTENT_WRITE,
              );
            }
          }
        }
      }
      let added = 0;
      const missing = new Set<CountedPlay>();
      for (const [key, r] of want) {
        if (have.has(key)) continue;
        added++;
        missing.add(r);
      }
      if (!opts.dryRun) for (const r of missing) await writeDerived(r);
      return { added, removed };
    },
  } satisfies RoyaltyStore;
}
