/**
 * Royalty store port: the immutable audit ledger of counted plays and the stream counts
 * derived from it, per (track, month) and (artist, month) with territory and product.
 * Adapters: storage/royalties.lmdb.ts, storage/royalties.scylla.ts
 * (tables in storage/schema-pipeline.cql); contract suite storage/royalties.contract.ts.
 *
 * Exactly-once design (why replays cannot count twice):
 * - The ledger is keyed by play id and written first-writer-wins (`INSERT ... IF NOT EXISTS`):
 *   a play has one ledger row whatever number of events, duplicates or redeliveries arrive,
 *   and the row never changes afterwards (audit).
 * - Counts are NOT counters. Each counted play writes one idempotent row per count it
 *   contributes to, keyed by play id (`royalty_track_streams ((month, track), territory,
 *   product, play_id)`), and a count is the number of rows. Re-writing a row is a no-op, so
 *   there is nothing to "apply once". CQL counters were rejected because an increment cannot
 *   be made idempotent nor atomic with the ledger write: a crash between the two would either
 *   lose or double a stream.
 * - The count rows are always written from the *stored* ledger row (LWT returns it when the
 *   insert was not applied), in one logged batch. A crash after the ledger write and before the
 *   batch is repaired by the redelivery of the unacked event, which re-runs `recordStream`;
 *   `repairCounts` (the reconcile job) fixes any remaining drift from the ledger.
 */
import { StorageError } from './errors.ts';

export type Product = 'free' | 'premium';

/** One counted stream: a ledger row. */
export interface CountedPlay {
  playId: string;
  /** Reporting period `YYYY-MM` (UTC), of the event that qualified the play. */
  month: string;
  trackId: string;
  artistId: string;
  userId: string;
  /** ISO country of the listener. */
  territory: string;
  product: Product;
  /** Epoch ms of the qualifying event. */
  ts: number;
  msPlayed: number;
  /** The event that qualified it (audit trail back to the log). */
  eventId: string;
}

export interface StreamCount {
  month: string;
  /** Track id or artist id, as the query says. */
  id: string;
  territory: string;
  product: Product;
  streams: number;
}

export interface RecordResult {
  /** True when this call created the ledger row (first qualifying event of the play). */
  created: boolean;
  /** The stored ledger row (the first writer's, when `created` is false). */
  row: CountedPlay;
}

export interface RepairReport {
  /** Count rows that were missing for ledger rows and have been written. */
  added: number;
  /** Count rows with no ledger row behind them, deleted. */
  removed: number;
}

export interface RoyaltyStore {
  /**
   * Records a counted play: idempotent by playId (see the design above). The first writer's
   * row is kept and returned to every later or concurrent call (`created: false`), and the
   * play counts once. `bad_request` for a malformed play (validateCountedPlay).
   */
  recordStream(play: CountedPlay): Promise<RecordResult>;
  /**
   * `recordStream` for many plays (distinct play ids), results in input order. A malformed
   * play fails the whole call with `bad_request` before any play is written.
   */
  recordStreams(plays: readonly CountedPlay[]): Promise<RecordResult[]>;
  /** The ledger row of a play; undefined when it was never counted. */
  getLedgerRow(playId: string): Promise<CountedPlay | undefined>;
  /** Every ledger row of a month, in no particular order. */
  scanLedger(month: string): AsyncIterable<CountedPlay>;
  /**
   * The derived counts of a month, one row per (id, territory, product), in sortCounts order;
   * equal to countsFromLedger of the month's ledger rows. [] for a month with no plays.
   */
  trackCounts(month: string): Promise<StreamCount[]>;
  /** As trackCounts, per artist. */
  artistCounts(month: string): Promise<StreamCount[]>;
  /**
   * Makes the count rows of a month equal to what the ledger implies and reports what it
   * changed; `dryRun` only reports. {0, 0} when nothing drifted.
   */
  repairCounts(month: string, opts?: { dryRun?: boolean }): Promise<RepairReport>;
}

/** Canonical order for comparing and printing counts. */
export function sortCounts(counts: StreamCount[]): StreamCount[] {
  return counts.sort(
    (a, b) =>
      a.id.localeCompare(b.id) ||
      a.territory.localeCompare(b.territory) ||
      a.product.localeCompare(b.product),
  );
}

/** Aggregates ledger rows into track and artist counts: the reference every check compares with. */
export function countsFromLedger(rows: Iterable<CountedPlay>): {
  tracks: StreamCount[];
  artists: StreamCount[];
} {
  const tracks = new Map<string, StreamCount>();
  const artists = new Map<string, StreamCount>();
  const bump = (m: Map<string, StreamCount>, r: CountedPlay, id: string) => {
    const k = `${id}\u0000${r.territory}\u0000${r.product}`;
    const c = m.get(k);
    if (c) c.streams++;
    else m.set(k, { month: r.month, id, territory: r.territory, product: r.product, streams: 1 });
  };
  for (const r of rows) {
    bump(tracks, r, r.trackId);
    bump(artists, r, r.artistId);
  }
  return { tracks: sortCounts([...tracks.values()]), artists: sortCounts([...artists.values()]) };
}

export function validateCountedPlay(p: CountedPlay): void {
  const ok =
    typeof p.playId === 'string' &&
    p.playId.length > 0 &&
    /^\d{4}-\d{2}$/.test(p.month) &&
    typeof p.trackId === 'string' &&
    typeof p.artistId === 'string' &&
    typeof p.userId === 'string' &&
    typeof p.territory === 'string' &&
    typeof p.eventId === 'string' &&
    (p.product === 'free' || p.product === 'premium') &&
    Number.isSafeInteger(p.ts) &&
    Number.isSafeInteger(p.msPlayed);
  if (!ok) throw new StorageError('bad_request', `bad counted play ${JSON.stringify(p).slice(0, 200)}`);
}
