/**
 * Royalty store port: the immutable audit ledger of counted plays and the stream counts
 * derived from it, per (track, month) and (artist, month) with territory and product.
 * Adapters: storage/royalties.lmdb.ts, storage/royalties.scylla.ts
 * (tables in storage/schema-pipeline.cql); contract suite storage/royalties.contract.ts.
 *
 * Exactly-once design (why duplicates, redeliveries and crashes cannot count twice or lose a
 * play), the same on every adapter and needing no consensus round per play:
 * - A play counts once, whatever number of qualifying events, duplicates or redeliveries
 *   arrive: its ledger row is its EARLIEST qualifying event by (ts, then event id), a choice
 *   made by the events themselves, not by which write lands first. Recording the same event
 *   again writes the same row (idempotent); recording another event of the play either loses
 *   to the stored one or, being earlier, replaces it, in any order and concurrently.
 * - Counts are NOT counters incremented per event: they are derived from rows (one per counted
 *   play), so re-writing a row changes no count. CQL counters were rejected because an
 *   increment can be made neither idempotent nor atomic with the ledger write.
 * - CQL (royalties.scylla.ts): every qualifying event recorded is a candidate row in its
 *   month's partition (one of 16 buckets by play id), clustered by play then (ts, event id):
 *   the row's key is the event's identity, so a play's earliest candidate of a month is its
 *   first row there by construction. The consumer only writes (`recordStreamsBlind`): no read,
 *   no delete, so no order or repetition of writes changes the outcome. Scans take each play's
 *   first row of the month and leave out plays with an earlier candidate in another month;
 *   a crash anywhere is repaired by the redelivery of the unacked events, which writes the
 *   same rows again. `recordStreams` also reads the rows back (to report them) and deletes
 *   losers. No lightweight transaction: see pipeline/README.md ("Why royalties are exact").
 * - LMDB (royalties.lmdb.ts): the same rule inside one write transaction per batch.
 * `repairCounts` (the reconcile job) makes a month's rows equal to its ledger if they ever drift.
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
  /**
   * True when this call recorded the play's ledger row first (its event is the play's earliest
   * qualifying one and no earlier call had recorded it). Informational: counts never depend on
   * it. Of concurrent calls recording the same event, more than one may say true on CQL.
   */
  created: boolean;
  /** The stored ledger row: the play's earliest qualifying event recorded so far. */
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
   * Records a counted play: idempotent by playId (see the design above). The play's earliest
   * qualifying event (earlierPlay) is its ledger row, whichever order events are recorded in;
   * it is returned to every call, and the play counts once. `bad_request` for a malformed play
   * (validateCountedPlay).
   */
  recordStream(play: CountedPlay): Promise<RecordResult>;
  /**
   * `recordStream` for many plays (distinct play ids), results in input order. A malformed
   * play fails the whole call with `bad_request` before any play is written.
   */
  recordStreams(plays: readonly CountedPlay[]): Promise<RecordResult[]>;
  /**
   * `recordStreams` without the results: afterwards the ledger, scans and counts are the same
   * as after `recordStreams`, but nothing is read back (on CQL: blind writes only). The royalty
   * consumer's path. `bad_request` as recordStreams.
   */
  recordStreamsBlind(plays: readonly CountedPlay[]): Promise<void>;
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

/**
 * An event is identified by (play id, ts, event id): the log's event ids are deterministic
 * and an event's details never change, so recording the same identity again with other
 * details is a caller error whose outcome the CQL adapter does not define (the last write of
 * that row wins there).
 *
 * Whether `a` is an earlier qualifying event of a play than `b`: by ts, then by event id (two
 * events of one play may share a millisecond). The earliest recorded is the play's ledger row.
 */
export function earlierPlay(
  a: Pick<CountedPlay, 'ts' | 'eventId'>,
  b: Pick<CountedPlay, 'ts' | 'eventId'>,
): boolean {
  return a.ts < b.ts || (a.ts === b.ts && a.eventId < b.eventId);
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
