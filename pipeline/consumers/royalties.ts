/**
 * Royalty consumer: turns qualifying events into ledger rows (storage/royalties.ts explains
 * why a replay cannot count twice). The batch is acked only after every row of it is stored;
 * a failure rejects the batch, which the log redelivers.
 */
import type { ListeningEvent } from '../../storage/event-log.ts';
import type { CountedPlay, RoyaltyStore } from '../../storage/royalties.ts';
import type { BatchHandler, ConsumerSpec } from '../event-source.ts';
import { countedPlayOf, qualifies } from '../royalty-rule.ts';

export const ROYALTY_CONSUMER: ConsumerSpec = { name: 'royalties', ackWaitMs: 30_000, maxBatch: 256 };

export interface RoyaltyConsumerDeps {
  store: RoyaltyStore;
  /** Called after a play's row is stored (metrics, lag measurement). */
  onCounted?: (row: CountedPlay, event: ListeningEvent, created: boolean) => void;
  /** Fault injection for crash tests: runs after the effects are stored, before the ack. */
  afterStored?: (playsStored: number) => Promise<void>;
}

export function royaltyHandler(deps: RoyaltyConsumerDeps): BatchHandler {
  return async (batch) => {
    // One write per play per batch: the first qualifying event in log order.
    const firsts = new Map<string, ListeningEvent>();
    for (const d of batch) if (qualifies(d.event) && !firsts.has(d.event.play_id)) firsts.set(d.event.play_id, d.event);
    const events = [...firsts.values()];
    const results = await deps.store.recordStreams(events.map(countedPlayOf));
    results.forEach(({ row, created }, i) => deps.onCounted?.(row, events[i]!, created));
    await deps.afterStored?.(firsts.size);
  };
}
