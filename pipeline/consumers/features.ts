/**
 * Features consumer: each finished play updates its track's play/skip counts and pairs the
 * track with the earlier tracks of the user's listening run (co-occurrence), for the radio
 * service. Plays of one user are applied in log order (the session tail depends on order);
 * different users run in parallel.
 */
import type { ListeningEvent } from '../../actors/types.ts';
import { nextSession, type FeatureStore } from '../../storage/features.ts';
import type { BatchHandler, ConsumerSpec } from '../../storage/event-source.ts';
import { forEachBounded } from './bounded.ts';

export const FEATURES_CONSUMER: ConsumerSpec = { name: 'features', ackWaitMs: 30_000, maxBatch: 256 };

export function featuresHandler(store: FeatureStore): BatchHandler {
  return async (batch) => {
    const byUser = new Map<string, ListeningEvent[]>();
    for (const { event: e } of batch) {
      if (e.type !== 'play.end' || e.reason === 'blocked') continue;
      const list = byUser.get(e.user);
      if (list) list.push(e);
      else byUser.set(e.user, [e]);
    }
    await forEachBounded([...byUser.values()], 32, async (plays) => {
      for (const e of plays) {
        const { neighbours, tail } = nextSession(await store.sessionTail(e.user), e.track, e.ts);
        await store.applyPlay({
          playId: e.play_id,
          userId: e.user,
          trackId: e.track,
          ts: e.ts,
          skipped: e.reason === 'skip',
          neighbours,
          tail,
        });
      }
    });
  };
}
