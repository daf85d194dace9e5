/**
 * CQL royalty adapter (tables `royalty_candidates` and `royalty_candidate_months` in
 * schema-pipeline.cql; why it is exact: storage/royalties.ts and pipeline/README.md). No
 * lightweight transaction and no partition per play: a play's candidates live in its month's
 * partition, one of LEDGER_BUCKETS by play id hash, so a batch of plays touches a bounded
 * number of partitions whatever its size.
 *
 * `recordStreamsBlind(plays)` (the consumer):
 * 1. Lists each month of the batch in `royalty_candidate_months` (once per process and month).
 * 2. Writes each play as a candidate in its (month, bucket) partition, in unlogged batches that
 *    each hold one partition's rows (one mutation per batch on the node). Nothing is read.
 * `recordStreams(plays)` does the same, then reads the plays' candidates in every listed month
 * (one query per (month, bucket) partition) to report each play's earliest, and deletes the
 * others at write timestamp 1, which shadows that row whenever its write lands (all candidate
 * writes use timestamp 1).
 * Scans of a month take each play's first row there and leave out plays with an earlier
 * candidate in another listed month. Every step is idempotent, so a crash anywhere is
 * repaired by the redelivery of the unacked events, which runs the steps again.
 */
import type { Client, types } from 'cassandra-driver';
import { randomBytes } from 'node:crypto';
import { StorageError } from './errors.ts';
import {
  type CountedPlay,
  type Product,
  type RecordResult,
  type RepairReport,
  type RoyaltyStore,
  countsFromLedger,
  earlierPlay,
  validateCountedPlay,
} from './royalties.ts';
import { cqlCall, exec, execAllPages, READ } from './cql-client.ts';

export const LEDGER_BUCKETS = 16;
/**
 * Rows per unlogged batch. Every batch holds one partition's rows, which Cassandra does not
 * check against its batch size warning (that applies to batches over several partitions), and
 * is one mutation on the node: 128 rows (a 2 048-event consumer batch over 16 buckets) cost
 * the node about half as much CPU per row as 32 did (loadtest/README.md, "Wave 4").
 */
export const DEFAULT_BATCH_ROWS = 128;
/** Plays per `IN` read of one partition. */
const READ_CHUNK = 128;
/** Batches and reads of one call in flight at once. */
export const DEFAULT_RECORD_CONCURRENCY = 32;
/**
 * Candidates are written and deleted at this fixed timestamp only: a deletion wins over a write
 * of the same timestamp in Cassandra and ScyllaDB alike, whatever order they arrive in.
 */
const CANDIDATE_TS = 1;
/** The months list is one partition. */
const MONTHS_SHARD = 0;

export interface ScyllaRoyaltiesOptions {
  recordConcurrency?: number;
  /** Statements per unlogged batch. */
  batchRows?: number;
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

const COLS = 'play_id, ts, event_id, month, track_id, artist_id, user_id, territory, product, ms_played';

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

let calls = 0;
/** Orders calls by time first, so the smallest token of a row is its first recording call. */
function callToken(): string {
  calls = (calls + 1) % 36 ** 4;
  return `${Date.now().toString(36).padStart(9, '0')}${calls.toString(36).padStart(4, '0')}${randomBytes(4).toString('hex')}`;
}

async function bounded<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<unknown>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function groupBy<T>(items: Iterable<T>, keyOf: (x: T) => string | number): Map<string | number, T[]> {
  const out = new Map<string | number, T[]>();
  for (const x of items) {
    const k = keyOf(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

interface Candidate {
  play: CountedPlay;
  recordedBy: string[];
}

export function createScyllaRoyalties(
  client: Client,
  ks: string,
  opts: ScyllaRoyaltiesOptions = {},
): RoyaltyStore {
  const concurrency = Math.max(1, opts.recordConcurrency ?? DEFAULT_RECORD_CONCURRENCY);
  const batchRows = Math.max(1, opts.batchRows ?? DEFAULT_BATCH_ROWS);
  const q = {
    candidate:
      `UPDATE ${ks}.royalty_candidates USING TIMESTAMP ${CANDIDATE_TS} SET track_id = ?, artist_id = ?, ` +
      `user_id = ?, territory = ?, product = ?, ms_played = ?, recorded_by = recorded_by + ? ` +
      `WHERE month = ? AND bucket = ? AND play_id = ? AND ts = ? AND event_id = ?`,
    candidatesOf:
      `SELECT ${COLS}, recorded_by FROM ${ks}.royalty_candidates ` +
      `WHERE month = ? AND bucket = ? AND play_id IN ?`,
    candidateIdsOf:
      `SELECT play_id, ts, event_id, recorded_by FROM ${ks}.royalty_candidates ` +
      `WHERE month = ? AND bucket = ? AND play_id IN ?`,
    deleteCandidate:
      `DELETE FROM ${ks}.royalty_candidates USING TIMESTAMP ${CANDIDATE_TS} ` +
      `WHERE month = ? AND bucket = ? AND play_id = ? AND ts = ? AND event_id = ?`,
    scanMonth: `SELECT ${COLS} FROM ${ks}.royalty_candidates WHERE month = ? AND bucket = ?`,
    listMonth: `INSERT INTO ${ks}.royalty_candidate_months (shard, month) VALUES (${MONTHS_SHARD}, ?)`,
    months: `SELECT month FROM ${ks}.royalty_candidate_months WHERE shard = ${MONTHS_SHARD}`,
  };
  /** Months this adapter has listed: a listing is never undone, so once is enough. */
  const listed = new Set<string>();

  type Stmt = { query: string; params: unknown[] };
  const candidateStmt = (p: CountedPlay, token: string): Stmt => ({
    query: q.candidate,
    params: [
      p.trackId,
      p.artistId,
      p.userId,
      p.territory,
      p.product,
      p.msPlayed,
      [token],
      p.month,
      bucketOf(p.playId),
      p.playId,
      p.ts,
      p.eventId,
    ],
  });
  const deleteStmt = (p: CountedPlay): Stmt => ({
    query: q.deleteCandidate,
    params: [p.month, bucketOf(p.playId), p.playId, p.ts, p.eventId],
  });

  const runBatches = (batches: Stmt[][]) =>
    bounded(batches, concurrency, (b) =>
      cqlCall('royalty rows', () => client.batch(b, { prepare: true, logged: false, isIdempotent: true })),
    );

  /** Statements grouped by partition (month, bucket), then cut into batches. */
  const byPartition = (plays: readonly CountedPlay[], stmt: (p: CountedPlay) => Stmt): Stmt[][] =>
    [...groupBy(plays, (p) => `${p.month}\u0000${bucketOf(p.playId)}`).values()].flatMap((list) =>
      chunks(list.map(stmt), batchRows),
    );

  async function listMonths(months: Iterable<string>) {
    const fresh = [...new Set(months)].filter((m) => !listed.has(m));
    if (fresh.length === 0) return;
    await runBatches(
      chunks(
        fresh.map((m) => ({ query: q.listMonth, params: [m] })),
        batchRows,
      ),
    );
    for (const m of fresh) listed.add(m);
  }

  async function knownMonths(): Promise<string[]> {
    const rs = await exec(client, q.months, [], READ);
    return rs.rows.map((r) => r.month as string);
  }

  /**
   * Every candidate of each play, in every listed month, earliest first (the ledger row first).
   * One query per (month, bucket) partition and chunk of plays: the cost grows with partitions
   * and months, not with plays. With `known` (plays just written, by play id), only the
   * clustering key and `recorded_by` are read and a candidate equal in identity to a known play
   * takes its details (an event's details never change: storage/royalties.ts); the details of
   * other candidates are read again only when one of them wins.
   */
  async function candidatesOf(
    playIds: readonly string[],
    known?: ReadonlyMap<string, CountedPlay>,
  ): Promise<Map<string, Candidate[]>> {
    const months = await knownMonths();
    const reads: { month: string; bucket: number; ids: string[] }[] = [];
    for (const [bucket, ids] of groupBy(playIds, (id) => bucketOf(id)))
      for (const part of chunks(ids, READ_CHUNK))
        for (const month of months) reads.push({ month, bucket: bucket as number, ids: part });
    const out = new Map<string, Candidate[]>();
    const partial = new WeakSet<CountedPlay>();
    await bounded(reads, concurrency, async ({ month, bucket, ids }) => {
      const rs = await exec(client, known ? q.candidateIdsOf : q.candidatesOf, [month, bucket, ids], READ);
      for (const r of rs.rows) {
        let play: CountedPlay;
        if (!known) play = rowToPlay(r);
        else {
          const mine = known.get(r.play_id as string);
          const ts = Number(r.ts);
          if (mine && mine.ts === ts && mine.eventId === r.event_id && mine.month === month) play = mine;
          else {
            // Identity only: ordering needs no more. Completed below if it wins.
            play = {
              playId: r.play_id,
              month,
              ts,
              eventId: r.event_id,
              trackId: '',
              artistId: '',
              userId: '',
              territory: '',
              product: 'free',
              msPlayed: 0,
            };
            partial.add(play);
          }
        }
        const c = { play, recordedBy: (r.recorded_by as string[] | null) ?? [] };
        const list = out.get(c.play.playId);
        if (list) list.push(c);
        else out.set(c.play.playId, [c]);
      }
    });
    for (const list of out.values()) list.sort((a, b) => (earlierPlay(a.play, b.play) ? -1 : 1));
    // A winner this call did not write (an earlier event recorded by another call): its
    // details read in full. Losers keep their identity only, which is all a deletion needs.
    const needDetails = [...out].filter(([, list]) => partial.has(list[0]!.play)).map(([id]) => id);
    if (needDetails.length > 0) {
      const full = await candidatesOf(needDetails);
      for (const id of needDetails) {
        const list = full.get(id);
        if (list) out.set(id, list);
      }
    }
    return out;
  }

  /** Every candidate of a month, each play's earliest of the month first (the clustering order). */
  async function monthRows(month: string): Promise<CountedPlay[]> {
    const rows: CountedPlay[] = [];
    for (let b = 0; b < LEDGER_BUCKETS; b++) {
      for (const r of await execAllPages(client, q.scanMonth, [month, b], 5_000)) rows.push(rowToPlay(r));
    }
    return rows;
  }

  /**
   * The month's ledger rows: each play's first candidate in the month (its earliest there, by
   * the clustering order), unless the play has an earlier candidate in another listed month
   * (then it counts there). Exact for every candidate written before the scan began: its month
   * was listed before it was written, so the list read here holds it.
   */
  async function monthLedger(month: string): Promise<CountedPlay[]> {
    const firsts = new Map<string, CountedPlay>();
    for (const r of await monthRows(month)) if (!firsts.has(r.playId)) firsts.set(r.playId, r);
    const others = (await knownMonths()).filter((m) => m !== month);
    if (others.length > 0 && firsts.size > 0) {
      const reads: { month: string; bucket: number; ids: string[] }[] = [];
      for (const [bucket, ids] of groupBy(firsts.keys(), (id) => bucketOf(id)))
        for (const part of chunks(ids, READ_CHUNK))
          for (const m of others) reads.push({ month: m, bucket: bucket as number, ids: part });
      await bounded(reads, concurrency, async (r) => {
        const rs = await exec(client, q.candidateIdsOf, [r.month, r.bucket, r.ids], READ);
        for (const row of rs.rows) {
          const first = firsts.get(row.play_id as string);
          if (first && earlierPlay({ ts: Number(row.ts), eventId: row.event_id as string }, first))
            firsts.delete(first.playId);
        }
      });
    }
    return [...firsts.values()];
  }

  return {
    async recordStream(play) {
      return (await this.recordStreams([play]))[0]!;
    },
    async recordStreams(plays) {
      // All or nothing for bad input, as on LMDB: no play of a malformed batch is written.
      for (const p of plays) validateCountedPlay(p);
      if (plays.length === 0) return [];
      const token = callToken();
      // Listed before its candidates are written: whichever of two writers of one play reads
      // the list last then finds both months (each reads after its own writes).
      await listMonths(plays.map((p) => p.month));
      await runBatches(byPartition(plays, (p) => candidateStmt(p, token)));
      const mine = new Map(plays.map((p) => [p.playId, p]));
      const candidates = await candidatesOf([...mine.keys()], mine);
      const losers: CountedPlay[] = [];
      for (const list of candidates.values()) for (const c of list.slice(1)) losers.push(c.play);
      if (losers.length > 0) await runBatches(byPartition(losers, deleteStmt));
      return plays.map((p): RecordResult => {
        const first = candidates.get(p.playId)?.[0];
        // Read after our own write: a play with no candidate means the node lost the write.
        if (!first) throw new StorageError('unavailable', `royalty candidate of ${p.playId} not readable`);
        const mine = first.play.ts === p.ts && first.play.eventId === p.eventId;
        const created = mine && first.recordedBy.length > 0 && first.recordedBy.every((t) => t >= token);
        return { created, row: first.play };
      });
    },
    async recordStreamsBlind(plays) {
      for (const p of plays) validateCountedPlay(p);
      if (plays.length === 0) return;
      // Listed before its candidates are written: a scan that starts after the writes finds
      // every month holding a candidate of the play.
      await listMonths(plays.map((p) => p.month));
      const token = callToken();
      await runBatches(byPartition(plays, (p) => candidateStmt(p, token)));
    },
    async getLedgerRow(playId) {
      return (await candidatesOf([playId])).get(playId)?.[0]?.play;
    },
    async *scanLedger(month) {
      for (const r of await monthLedger(month)) yield r;
    },
    trackCounts: async (month) => countsFromLedger(await monthLedger(month)).tracks,
    artistCounts: async (month) => countsFromLedger(await monthLedger(month)).artists,
    async repairCounts(month, opts = {}): Promise<RepairReport> {
      // Candidates are the only rows and scans take each play's earliest, so no count can
      // drift (`added` and `removed` are 0). What can be left behind are losers: the
      // consumer's blind writes never delete, and a reading writer may crash before its
      // deletes. Housekeeping: every candidate of the month's plays but the earliest goes.
      const rows = await monthRows(month);
      const all = await candidatesOf([...new Set(rows.map((r) => r.playId))]);
      const extra: CountedPlay[] = [];
      for (const list of all.values())
        for (const c of list.slice(1)) if (c.play.month === month) extra.push(c.play);
      if (!opts.dryRun) await runBatches(byPartition(extra, deleteStmt));
      return { added: 0, removed: 0 };
    },
  } satisfies RoyaltyStore;
}
