/**
 * CQL royalty adapter (tables `royalty_play_candidates` and `royalty_month_plays` in
 * schema-pipeline.cql; why it is exact: storage/royalties.ts). No lightweight transaction: a
 * batch of plays costs blind writes grouped into batches, one read of the plays' candidates,
 * and deletes only for plays that turn out to have several candidates.
 *
 * `recordStreams(plays)`:
 * 1. Writes each play as a candidate (`royalty_play_candidates`, keyed by play id then
 *    (ts, event_id), adding this call's token to `recorded_by`) and its month row
 *    (`royalty_month_plays`, at write timestamp 1), in unlogged batches: month rows grouped
 *    by partition, candidates a few plays per batch.
 * 2. Reads the candidates of those plays back (`IN`, a chunk of plays per query). Each play's
 *    ledger row is its earliest candidate; the month row of every other candidate is deleted at
 *    write timestamp 1, which shadows that row whenever its write lands.
 * Every step is idempotent, so a crash anywhere is repaired by the redelivery of the unacked
 * events, which runs both steps again.
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
/** Statements per unlogged batch: about 4 KiB, under Cassandra's 5 KiB batch warning. */
export const DEFAULT_BATCH_ROWS = 32;
/** Plays per `IN` read of candidates. */
const READ_CHUNK = 64;
/** Batches and reads of one call in flight at once. */
export const DEFAULT_RECORD_CONCURRENCY = 32;
/**
 * Month rows are written and deleted at this fixed timestamp only: a deletion wins over a write
 * of the same timestamp in Cassandra and ScyllaDB alike, whatever order they arrive in.
 */
const MONTH_ROW_TS = 1;

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

export function createScyllaRoyalties(
  client: Client,
  ks: string,
  opts: ScyllaRoyaltiesOptions = {},
): RoyaltyStore {
  const concurrency = Math.max(1, opts.recordConcurrency ?? DEFAULT_RECORD_CONCURRENCY);
  const batchRows = Math.max(1, opts.batchRows ?? DEFAULT_BATCH_ROWS);
  const q = {
    candidate:
      `UPDATE ${ks}.royalty_play_candidates SET month = ?, track_id = ?, artist_id = ?, user_id = ?, ` +
      `territory = ?, product = ?, ms_played = ?, recorded_by = recorded_by + ? ` +
      `WHERE play_id = ? AND ts = ? AND event_id = ?`,
    candidatesOf: `SELECT ${COLS}, recorded_by FROM ${ks}.royalty_play_candidates WHERE play_id IN ?`,
    ledgerRow: `SELECT ${COLS} FROM ${ks}.royalty_play_candidates WHERE play_id = ? LIMIT 1`,
    allCandidates: `SELECT ${COLS} FROM ${ks}.royalty_play_candidates`,
    monthRow:
      `INSERT INTO ${ks}.royalty_month_plays (${COLS}, bucket) ` +
      `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) USING TIMESTAMP ${MONTH_ROW_TS}`,
    deleteMonthRow:
      `DELETE FROM ${ks}.royalty_month_plays USING TIMESTAMP ${MONTH_ROW_TS} ` +
      `WHERE month = ? AND bucket = ? AND play_id = ? AND ts = ? AND event_id = ?`,
    scanMonth: `SELECT ${COLS} FROM ${ks}.royalty_month_plays WHERE month = ? AND bucket = ?`,
  };

  const candidateStmt = (p: CountedPlay, token: string) => ({
    query: q.candidate,
    params: [
      p.month,
      p.trackId,
      p.artistId,
      p.userId,
      p.territory,
      p.product,
      p.msPlayed,
      [token],
      p.playId,
      p.ts,
      p.eventId,
    ],
  });
  const monthRowStmt = (p: CountedPlay) => ({
    query: q.monthRow,
    params: [
      p.playId,
      p.ts,
      p.eventId,
      p.month,
      p.trackId,
      p.artistId,
      p.userId,
      p.territory,
      p.product,
      p.msPlayed,
      bucketOf(p.playId),
    ],
  });
  const deleteMonthRowStmt = (p: CountedPlay) => ({
    query: q.deleteMonthRow,
    params: [p.month, bucketOf(p.playId), p.playId, p.ts, p.eventId],
  });

  type Stmt = { query: string; params: unknown[] };
  const runBatches = (batches: Stmt[][]) =>
    bounded(batches, concurrency, (b) =>
      cqlCall('royalty rows', () => client.batch(b, { prepare: true, logged: false, isIdempotent: true })),
    );

  /** Month-row statements grouped by partition, then cut into batches. */
  const byPartition = (plays: readonly CountedPlay[], stmt: (p: CountedPlay) => Stmt): Stmt[][] => {
    const parts = new Map<string, Stmt[]>();
    for (const p of plays) {
      const key = `${p.month}\u0000${bucketOf(p.playId)}`;
      const list = parts.get(key);
      if (list) list.push(stmt(p));
      else parts.set(key, [stmt(p)]);
    }
    return [...parts.values()].flatMap((list) => chunks(list, batchRows));
  };

  /** The candidates of each play, earliest first (the ledger row first). */
  async function candidatesOf(playIds: readonly string[]) {
    const out = new Map<string, { play: CountedPlay; recordedBy: string[] }[]>();
    await bounded(chunks(playIds, READ_CHUNK), concurrency, async (ids) => {
      const rs = await exec(client, q.candidatesOf, [ids], READ);
      for (const r of rs.rows) {
        const c = { play: rowToPlay(r), recordedBy: (r.recorded_by as string[] | null) ?? [] };
        const list = out.get(c.play.playId);
        if (list) list.push(c);
        else out.set(c.play.playId, [c]);
      }
    });
    for (const list of out.values()) list.sort((a, b) => (earlierPlay(a.play, b.play) ? -1 : 1));
    return out;
  }

  /** Every month row of a month, each play's earliest first (the clustering order). */
  async function monthRows(month: string): Promise<CountedPlay[]> {
    const rows: CountedPlay[] = [];
    for (let b = 0; b < LEDGER_BUCKETS; b++) {
      for (const r of await execAllPages(client, q.scanMonth, [month, b], 5_000)) rows.push(rowToPlay(r));
    }
    return rows;
  }

  /**
   * The month's ledger rows: the first month row of each play. A play has one once its batch is
   * done; a loser not yet deleted (its batch still running) is skipped here if it is in the
   * same month, and is deleted before that batch is acknowledged otherwise.
   */
  async function monthLedger(month: string): Promise<CountedPlay[]> {
    const out: CountedPlay[] = [];
    let last: string | undefined;
    for (const r of await monthRows(month)) {
      if (r.playId === last) continue;
      last = r.playId;
      out.push(r);
    }
    return out;
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
      await runBatches([
        ...byPartition(plays, monthRowStmt),
        ...chunks(
          plays.map((p) => candidateStmt(p, token)),
          batchRows,
        ),
      ]);
      const candidates = await candidatesOf([...new Set(plays.map((p) => p.playId))]);
      const losers: CountedPlay[] = [];
      for (const list of candidates.values()) for (const c of list.slice(1)) losers.push(c.play);
      if (losers.length > 0) await runBatches(byPartition(losers, deleteMonthRowStmt));
      return plays.map((p): RecordResult => {
        const list = candidates.get(p.playId);
        const first = list?.[0];
        // Read after our own write: a play with no candidate means the node lost the write.
        if (!first) throw new StorageError('unavailable', `royalty candidate of ${p.playId} not readable`);
        const mine = first.play.ts === p.ts && first.play.eventId === p.eventId;
        const created = mine && first.recordedBy.length > 0 && first.recordedBy.every((t) => t >= token);
        return { created, row: first.play };
      });
    },
    async getLedgerRow(playId) {
      const rs = await exec(client, q.ledgerRow, [playId], READ);
      const r = rs.first();
      return r ? rowToPlay(r) : undefined;
    },
    async *scanLedger(month) {
      for (const r of await monthLedger(month)) yield r;
    },
    trackCounts: async (month) => countsFromLedger(await monthLedger(month)).tracks,
    artistCounts: async (month) => countsFromLedger(await monthLedger(month)).artists,
    async repairCounts(month, opts = {}): Promise<RepairReport> {
      // The candidates are the truth: a play's ledger row is its earliest one. A full scan is
      // fine for a batch job; rows of a partition come together, earliest first.
      const winners = new Map<string, CountedPlay>();
      for (const r of await execAllPages(client, q.allCandidates, [], 5_000)) {
        const p = rowToPlay(r);
        const seen = winners.get(p.playId);
        if (!seen || earlierPlay(p, seen)) winners.set(p.playId, p);
      }
      const key = (p: CountedPlay) => `${p.playId}\u0000${p.ts}\u0000${p.eventId}`;
      const want = new Map<string, CountedPlay>();
      for (const p of winners.values()) if (p.month === month) want.set(key(p), p);
      const have = new Set<string>();
      const extra: CountedPlay[] = [];
      for (const r of await monthRows(month)) {
        if (want.has(key(r))) have.add(key(r));
        else extra.push(r);
      }
      const missing = [...want].filter(([k]) => !have.has(k)).map(([, p]) => p);
      if (!opts.dryRun) {
        await runBatches(byPartition(extra, deleteMonthRowStmt));
        await runBatches(byPartition(missing, monthRowStmt));
      }
      return { added: missing.length, removed: extra.length };
    },
  } satisfies RoyaltyStore;
}
