/**
 * Embedded feature adapter, laid out like the CQL tables: feature_applied_plays [playId],
 * track_play_stats [trackId], track_cooccurrence [trackId, otherId], feature_session_tail
 * [userId]. The marker check and every increment commit in one transaction: exactly once.
 */
import type { FeatureStore, SessionTail, TrackStats } from './features.ts';
import { StorageError } from './errors.ts';
import { validateFinishedPlay, validateLimit } from './features-validate.ts';
import { type EmbeddedEnv, openTable, prefixEnd } from './lmdb-env.ts';

export function createLmdbFeatures(env: EmbeddedEnv): FeatureStore {
  const applied = openTable<number>(env, 'feature_applied_plays');
  const stats = openTable<TrackStats>(env, 'track_play_stats');
  const cooc = openTable<number>(env, 'track_cooccurrence');
  const tails = openTable<SessionTail>(env, 'feature_session_tail');
  return {
    async applyPlay(p) {
      validateFinishedPlay(p);
      try {
        return await env.transaction(() => {
          if (applied.get([p.playId]) !== undefined) return false;
          void applied.put([p.playId], p.ts);
          const s = stats.get([p.trackId]) ?? { plays: 0, skips: 0 };
          void stats.put([p.trackId], { plays: s.plays + 1, skips: s.skips + (p.skipped ? 1 : 0) });
          for (const other of p.neighbours) {
            if (other === p.trackId) continue;
            void cooc.put([p.trackId, other], (cooc.get([p.trackId, other]) ?? 0) + 1);
            void cooc.put([other, p.trackId], (cooc.get([other, p.trackId]) ?? 0) + 1);
          }
          void tails.put([p.userId], p.tail);
          return true;
        });
      } catch (cause) {
        throw new StorageError('unavailable', 'embedded features: applyPlay failed', { cause });
      }
    },
    async sessionTail(userId) {
      return tails.get([userId]);
    },
    async trackStats(trackId) {
      return stats.get([trackId]) ?? { plays: 0, skips: 0 };
    },
    async cooccurring(trackId, limit = 20) {
      validateLimit(limit);
      const out: { trackId: string; count: number }[] = [];
      for (const { key, value } of cooc.getRange({ start: [trackId], end: prefixEnd([trackId]) })) {
        out.push({ trackId: (key as string[])[1]!, count: value });
      }
      return out.sort((a, b) => b.count - a.count || a.trackId.localeCompare(b.trackId)).slice(0, limit);
    },
  } satisfies FeatureStore;
}
