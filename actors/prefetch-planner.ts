/**
 * Prefetch planner: which chunks of which upcoming tracks a device should fetch ahead.
 *
 * - With each playback (phase `start`): chunk 0 of each of the next 1-2 plays, at the
 *   start bitrate (the chunk their playback will name first).
 * - At 75 % of the current track (phase `full`): the first N chunks of the next play at
 *   the bitrate it will play at.
 * - Any change of what plays next re-plans with the phase already reached.
 * Exactly the next `ahead` plays (never more than 2), in the order that will really play
 * (play-order.ts `upcoming`); of those, a play whose first chunk the device already has
 * (the current track again, a track named twice) is left out and nothing from further
 * ahead takes its place. Tracks without a loaded bundle are left out by the caller (it
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

/** `nextPlays`: track ids of the plays after the current one, in play order. */
export function planPrefetch(
  nextPlays: readonly string[],
  phase: PrefetchPhase,
  opts: { ahead: number; fullChunks: number; currentTrackId?: string | null },
): PrefetchPlanEntry[] {
  const ahead = Math.min(Math.max(opts.ahead, 1), MAX_PREFETCH_AHEAD);
  const out: PrefetchPlanEntry[] = [];
  nextPlays.slice(0, ahead).forEach((trackId, i) => {
    if (trackId === opts.currentTrackId || out.some((e) => e.trackId === trackId)) return;
    // Only the very next play is worth its first chunks at the play bitrate.
    out.push(
      phase === 'full' && i === 0
        ? { trackId, kind: 'full', chunkCount: opts.fullChunks }
        : { trackId, kind: 'start', chunkCount: 1 },
    );
  });
  return out;
}

/** Delay until the `full` phase, from the current position; 0 when already past it. */
export function fullPhaseDelay(positionMs: number, durationMs: number, fraction: number): number {
  return Math.max(0, Math.ceil(durationMs * fraction) - positionMs);
}
