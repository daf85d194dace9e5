/**
 * History consumer: each finished play (`play.end`) becomes one history entry, keyed by
 * (user, start ts, play id) so a redelivery rewrites the same entry. Blocked plays never
 * played and are left out.
 */
import type { HistoryStore } from '../../storage/history.ts';
import type { BatchHandler, ConsumerSpec } from '../../storage/event-source.ts';
import { forEachBounded } from './bounded.ts';

export const HISTORY_CONSUMER: ConsumerSpec = { name: 'history', ackWaitMs: 30_000, maxBatch: 256 };

export function historyHandler(store: HistoryStore): BatchHandler {
  return async (batch) => {
    const ends = batch.map((d) => d.event).filter((e) => e.type === 'play.end' && e.reason !== 'blocked');
    await forEachBounded(ends, 32, (e) =>
      store.appendHistory({
        userId: e.user,
        playId: e.play_id,
        trackId: e.track,
        // The play started ms_played before it ended (pauses aside): deterministic per event.
        ts: Math.max(0, e.ts - e.ms_played),
        msPlayed: e.ms_played,
        context: e.context,
        device: e.device,
        ...(e.reason ? { reason: e.reason } : {}),
      }),
    );
  };
}
