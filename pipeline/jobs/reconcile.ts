/**
 * Reconcile one month: recompute the counts from the ledger and from the exported events and
 * compare them with the stored counts.
 * - stored counts vs ledger: drift in the derived count rows; `repair` rewrites them from the
 *   ledger (RoyaltyStore.repairCounts).
 * - ledger vs exported events (the counting rule re-run over the warehouse files): a play that
 *   qualifies in the events but has no ledger row was never counted; `repair` records it
 *   (recordStream is idempotent). A ledger row with no qualifying exported event is reported
 *   only: the export may lag, and the ledger is never deleted from (audit).
 */
import type { CountedPlay, RoyaltyStore, StreamCount } from '../../storage/royalties.ts';
import { countsFromLedger } from '../../storage/royalties.ts';
import { readExport } from '../consumers/warehouse-export.ts';
import { referenceLedger } from '../royalty-rule.ts';

export interface CountDiff {
  kind: 'track' | 'artist';
  id: string;
  territory: string;
  product: string;
  stored: number;
  ledger: number;
  events?: number;
}

export interface ReconcileReport {
  month: string;
  ledgerPlays: number;
  /** The ledger's counts per track (what the month pays for). */
  ledgerTracks: StreamCount[];
  eventPlays?: number;
  differences: CountDiff[];
  missingFromLedger: string[];
  missingFromEvents: string[];
  repaired?: { countRowsAdded: number; countRowsRemoved: number; playsRecorded: number };
}

const keyOf = (c: StreamCount) => `${c.id}\u0000${c.territory}\u0000${c.product}`;

function diff(
  kind: 'track' | 'artist',
  stored: StreamCount[],
  ledger: StreamCount[],
  events?: StreamCount[],
): CountDiff[] {
  const all = new Map<string, CountDiff>();
  const at = (c: StreamCount) => {
    const k = keyOf(c);
    let d = all.get(k);
    if (!d) {
      d = {
        kind,
        id: c.id,
        territory: c.territory,
        product: c.product,
        stored: 0,
        ledger: 0,
        ...(events ? { events: 0 } : {}),
      };
      all.set(k, d);
    }
    return d;
  };
  for (const c of stored) at(c).stored = c.streams;
  for (const c of ledger) at(c).ledger = c.streams;
  for (const c of events ?? []) at(c).events = c.streams;
  return [...all.values()].filter(
    (d) => d.stored !== d.ledger || (d.events !== undefined && d.events !== d.ledger),
  );
}

export async function reconcileMonth(opts: {
  store: RoyaltyStore;
  month: string;
  exportDir?: string;
  repair?: boolean;
  progress?: (step: string) => void;
}): Promise<ReconcileReport> {
  const { store, month } = opts;
  const step = opts.progress ?? (() => undefined);
  const ledgerRows: CountedPlay[] = [];
  for await (const r of store.scanLedger(month)) ledgerRows.push(r);
  step('ledger read');
  const fromLedger = countsFromLedger(ledgerRows);
  const stored = { tracks: await store.trackCounts(month), artists: await store.artistCounts(month) };
  step('counts read');
  let fromEvents: ReturnType<typeof countsFromLedger> | undefined;
  let eventLedger: Map<string, CountedPlay> | undefined;
  if (opts.exportDir) {
    const events = [];
    for await (const e of readExport(opts.exportDir, (day) => day.startsWith(month))) events.push(e);
    eventLedger = new Map([...referenceLedger(events)].filter(([, r]) => r.month === month));
    fromEvents = countsFromLedger(eventLedger.values());
  }
  step('events read');
  const inLedger = new Set(ledgerRows.map((r) => r.playId));
  const missingFromLedger = eventLedger ? [...eventLedger.keys()].filter((id) => !inLedger.has(id)) : [];
  const missingFromEvents = eventLedger ? [...inLedger].filter((id) => !eventLedger.has(id)) : [];
  const report: ReconcileReport = {
    month,
    ledgerPlays: ledgerRows.length,
    ledgerTracks: fromLedger.tracks,
    ...(eventLedger ? { eventPlays: eventLedger.size } : {}),
    differences: [
      ...diff('track', stored.tracks, fromLedger.tracks, fromEvents?.tracks),
      ...diff('artist', stored.artists, fromLedger.artists, fromEvents?.artists),
    ],
    missingFromLedger,
    missingFromEvents,
  };
  if (opts.repair) {
    let playsRecorded = 0;
    for (const id of missingFromLedger) {
      if ((await store.recordStream(eventLedger!.get(id)!)).created) playsRecorded++;
    }
    const r = await store.repairCounts(month);
    report.repaired = { countRowsAdded: r.added, countRowsRemoved: r.removed, playsRecorded };
  }
  step('done');
  return report;
}
