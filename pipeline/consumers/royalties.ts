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
  /** Called after a play's row is stored (metrics, lag measurement). */
  onCounted?: (row: CountedPlay, event: ListeningEvent, created: boolean) => void;
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
    const results = await deps.store.recordStreams(chosen.map((c) => c.play));
    results.forEach(({ row, created }, i) => deps.onCounted?.(row, chosen[i]!.event, created));
    await deps.afterStored?.(firsts.size);
  };
}
