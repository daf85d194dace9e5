/**
 * Prefetch planner: which chunks of which upcoming tracks a device should fetch ahead.
 *
 * - With each playback (phase `start`): chunk 0 of each of the next 1-2 tracks, at the
 *   start bitrate (the chunk their playback will name first).
 * - At 75 % of the current track (phase `full`): the first N chunks of the next track at
 *   the bitrate it will play at.
 * - Any change of what plays next re-plans with the phase already reached.
 * Never more than 2 tracks ahead; the order is the one that will really play
 * (play-order.ts `upcoming`). Tracks without a loaded bundle are left out (the caller
 * loads them and plans again).
 */

export type PrefetchPhase = 'start' | 'full';

export interface PrefetchPlanEntry {
  trackId: string;
  /** 'start': chunk 0 at the start bitrate; 'full': chunks 0..n-1 at the play bitrate. */
  kind: 'start' | 'full';
  chunkCount: number;
}

export const MAX_PREFETCH_AHEAD = 2;

export function planPrefetch(
  upcomingIds: readonly string[],
  phase: PrefetchPhase,
  opts: { ahead: number; fullChunks: number; currentTrackId?: string | null },
): PrefetchPlanEntry[] {
  const ahead = Math.min(Math.max(opts.ahead, 1), MAX_PREFETCH_AHEAD);
  const ids: string[] = [];
  for (const id of upcomingIds) {
    // The current track looping (repeat track) is already on the device; the same id twice is one fetch.
    if (id === opts.currentTrackId || ids.includes(id)) continue;
    ids.push(id);
    if (ids.length >= ahead) break;
  }
  return ids.map((trackId, i) =>
    phase === 'full' && i === 0
      ? { trackId, kind: 'full', chunkCount: opts.fullChunks }
      : { trackId, kind: 'start', chunkCount: 1 },
  );
}

/** Delay until the `full` phase, from the current position; 0 when already past it. */
export function fullPhaseDelay(positionMs: number, durationMs: number, fraction: number): number {
  return Math.max(0, Math.ceil(durationMs * fraction) - positionMs);
}
