/**
 * Royalty consumer: turns qualifying events into ledger rows (storage/royalties.ts explains
 * why a replay cannot count twice). The batch is acked only after every row of it is stored;
 * a failure rejects the batch, which the log redelivers.
 */
import type { ListeningEvent } from '../../actors/types.ts';
import { earlierPlay, type CountedPlay, type RoyaltyStore } from '../../storage/royalties.ts';
import type { BatchHandler, ConsumerSpec } from '../../storage/event-source.ts';
import { countedPlayOf, qualifies } from '../royalty-rule.ts';

/**
 * maxBatch bounds events per store commit, and a commit costs about one fsync whatever its
 * size: the consumer's ceiling is maxBatch / commit time. At 256, 50 ms commits (a loaded
 * 2-core machine) capped it at ~4 500 events/s, below the 5 000/s the lag benchmark offers;
 * 2 048 lifts that to ~21 000/s. Batches only grow when events queue up (the source hands
 * over what is buffered), so an idle consumer still commits one event at a time.
 */
export const ROYALTY_CONSUMER: ConsumerSpec = { name: 'royalties', ackWaitMs: 30_000, maxBatch: 2_048 };

export interface RoyaltyConsumerDeps {
  store: RoyaltyStore;
  /**
   * Called after a play is recorded, with the recorded event (its earliest of the batch; the
   * play's ledger row may be an earlier one): metrics, lag measurement.
   */
  onCounted?: (play: CountedPlay, event: ListeningEvent) => void;
  /** Fault injection for crash tests: runs after the effects are stored, before the ack. */
  afterStored?: (playsStored: number) => Promise<void>;
}

export function royaltyHandler(deps: RoyaltyConsumerDeps): BatchHandler {
  return async (batch) => {
    // One write per play per batch: its earliest qualifying event (the store keeps the
    // earliest of all batches: storage/royalties.ts).
    const firsts = new Map<string, { event: ListeningEvent; play: CountedPlay }>();
    for (const d of batch) {
      if (!qualifies(d.event)) continue;
      const play = countedPlayOf(d.event);
      const seen = firsts.get(d.event.play_id);
      if (!seen || earlierPlay(play, seen.play)) firsts.set(d.event.play_id, { event: d.event, play });
    }
    const chosen = [...firsts.values()];
    // Blind: the consumer needs no stored row back, and on CQL that saves a read per partition.
    await deps.store.recordStreamsBlind(chosen.map((c) => c.play));
    for (const c of chosen) deps.onCounted?.(c.play, c.event);
    await deps.afterStored?.(firsts.size);
  };
}
