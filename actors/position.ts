/**
 * Play position as an anchor: `positionMs` at server time `at`, moving with wall time
 * while playing. Device `progress` reports correct it, but never ahead of wall time since
 * the server last decided the position; the server clock alone decides ms_played (time
 * actually played, not the distance seeked), reports only lower it.
 */

import type { PositionAnchor } from './types.ts';

export const stoppedAnchor = (now: number): PositionAnchor => ({ positionMs: 0, at: now, playing: false });

/** Position at `now`, capped at the track's duration (a track never plays past its end). */
export function positionAt(anchor: PositionAnchor, now: number, durationMs: number): number {
  const moved = anchor.playing ? Math.max(0, now - anchor.at) : 0;
  return clamp(anchor.positionMs + moved, 0, durationMs);
}

/** Re-anchor at `now`, keeping the position, playing or paused as asked. */
export function reanchor(
  anchor: PositionAnchor,
  now: number,
  durationMs: number,
  playing: boolean,
): PositionAnchor {
  return { positionMs: positionAt(anchor, now, durationMs), at: now, playing };
}

/** Jump to a position (seek, start) at `now`. */
export function seekAnchor(
  positionMs: number,
  now: number,
  durationMs: number,
  playing: boolean,
): PositionAnchor {
  return { positionMs: clamp(Math.round(positionMs), 0, durationMs), at: now, playing };
}

/**
 * The position a device report sets: where the device says it is, but never past
 * `ceiling`, the last position the server decided (start, seek, resume, transfer, restore)
 * moved on by wall time (a device cannot play faster than real time), nor below 0. So a
 * stale report may lower the position and a later one raise it again.
 */
export function reportedPosition(
  ceiling: PositionAnchor,
  reportedMs: number,
  now: number,
  durationMs: number,
): number {
  return clamp(Math.round(reportedMs), 0, positionAt(ceiling, now, durationMs));
}

/**
 * ms played between the anchor and `now`, by the server clock: wall time while playing,
 * but not past the end of the track. `reportedMs`, when given, is a device report: a
 * stalled device (position behind) earns less than wall time, never more.
 */
export function playedSince(
  anchor: PositionAnchor,
  now: number,
  durationMs: number,
  reportedMs?: number,
): number {
  if (!anchor.playing) return 0;
  let played = Math.max(0, Math.min(now - anchor.at, durationMs - anchor.positionMs));
  if (reportedMs !== undefined) played = Math.min(played, Math.max(0, reportedMs - anchor.positionMs));
  return played;
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);
