/**
 * The royalty counting rule, pure: a play counts as one stream once an event reports
 * ms_played >= 30 000, unless the play was blocked (no rights in the territory). A play is
 * one listen whichever devices it ran on (a transfer keeps its play_id and ms_played), so
 * a listen split across devices counts once, by its play_id. Shared by
 * the consumer, the reconcile job (recount from exported events) and the tests' reference.
 */
import type { ListeningEvent } from '../actors/types.ts';
import { earlierPlay, type CountedPlay } from '../storage/royalties.ts';
import { monthOf } from '../storage/event-codec.ts';

export const STREAM_THRESHOLD_MS = 30_000;

export function qualifies(e: ListeningEvent): boolean {
  return e.ms_played >= STREAM_THRESHOLD_MS && e.reason !== 'blocked';
}

export function countedPlayOf(e: ListeningEvent): CountedPlay {
  return {
    playId: e.play_id,
    month: monthOf(e.ts),
    trackId: e.track,
    artistId: e.artist,
    userId: e.user,
    territory: e.country,
    product: e.product,
    ts: e.ts,
    msPlayed: e.ms_played,
    eventId: e.event_id,
  };
}

/**
 * Reference computation over any sequence of events (duplicates and replays included, in any
 * order): the earliest qualifying event of each play (earlierPlay: ts, then event id) decides
 * its ledger row, as in every RoyaltyStore.
 */
export function referenceLedger(events: Iterable<ListeningEvent>): Map<string, CountedPlay> {
  const ledger = new Map<string, CountedPlay>();
  for (const e of events) {
    if (!qualifies(e)) continue;
    const c = countedPlayOf(e);
    const seen = ledger.get(e.play_id);
    if (!seen || earlierPlay(c, seen)) ledger.set(e.play_id, c);
  }
  return ledger;
}
