/**
 * Where the current play is and how long it has been heard: the position the server
 * decides (start, seek, pause, resume), ms_played accrued by the server clock, and
 * `play.progress` once it reaches the royalty threshold.
 *
 * Pure steps over a draft context (a shallow copy the caller owns) and an Effects
 * collector; nested values are replaced, never mutated.
 */

import { listeningEvent, type PlayFacts } from './listening-events.ts';
import { playedSince, positionAt, reanchor, reportedPosition, seekAnchor } from './position.ts';
import { heardUntil, type CurrentPlay, type SessionContext } from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { PositionAnchor } from './types.ts';

/** What every listening event of a play carries. */
export const playFacts = (d: SessionContext, p: CurrentPlay): PlayFacts => ({
  playId: p.playId,
  userId: d.userId,
  trackId: p.track.id,
  artistId: p.track.artistId,
  contextUri: p.contextUri,
  country: d.country,
  plan: d.plan,
  deviceId: p.deviceId,
  devices: p.devices,
});

/** When a playing track reaches its end by the anchor (wall time at the anchor's pace). */
export const endsAt = (d: SessionContext, dur: number): number =>
  d.position.at + Math.max(0, dur - d.position.positionMs);

/** ms_played of the current play at `now` (not folded in). */
export const msPlayedAt = (d: SessionContext, now: number): number =>
  d.current
    ? d.current.msPlayed + playedSince(d.position, heardUntil(d, now), d.current.track.durationMs)
    : 0;

/** Position of the current play at `now` (0 without one), as far as it was heard. */
export const positionNow = (d: SessionContext, now: number): number =>
  d.current ? positionAt(d.position, heardUntil(d, now), d.current.track.durationMs) : 0;

/**
 * Fold the time played since the anchor into ms_played, re-anchor at `now`, and publish
 * play.progress the one time the threshold is crossed. `reportedMs`: a device report that
 * sets the position (up to the ceiling, see `reportedPosition`) and may lower, never
 * raise, the time earned.
 */
export function accrue(
  d: SessionContext,
  now: number,
  env: LogicEnv,
  fx: Effects,
  reportedMs?: number,
): void {
  const p = d.current;
  if (!p) return;
  const dur = p.track.durationMs;
  const until = heardUntil(d, now);
  const played = playedSince(d.position, until, dur, reportedMs);
  const before = p.msPlayed;
  const after = before + played;
  const positionMs =
    reportedMs !== undefined
      ? reportedPosition(d.ceiling, reportedMs, now, dur)
      : positionAt(d.position, until, dur);
  // At the end the anchor stays where the end was reached, so re-anchoring (a tick, a
  // report of the end) does not move the end-of-track watchdog later.
  const at = d.position.playing && positionMs >= dur ? Math.min(now, endsAt(d, dur)) : now;
  d.position = { positionMs, at, playing: d.position.playing };
  // Reached, not crossed: a play restored past the threshold unsent still gets it (once),
  // and the timer due for it is not re-armed every millisecond.
  const progress = !p.progressSent && after >= env.cfg.progressThresholdMs;
  d.current = { ...p, msPlayed: after, progressSent: p.progressSent || progress };
  if (progress) fx.event(listeningEvent('play.progress', playFacts(d, d.current), now, after));
}

/**
 * Time until ms_played reaches the threshold (the timer's `tick` then publishes
 * play.progress), or Infinity when it went out already or the track ends first.
 */
export function progressDelay(d: SessionContext, now: number, env: LogicEnv, positionMs: number): number {
  const p = d.current;
  if (!p || p.progressSent) return Infinity;
  const left = env.cfg.progressThresholdMs - msPlayedAt(d, now);
  return left <= p.track.durationMs - positionMs ? left : Infinity;
}

/** A position the server decides: reports are capped by wall time from here on. */
export function decidePosition(d: SessionContext, anchor: PositionAnchor): void {
  d.position = d.ceiling = anchor;
}

/** Pause or play the current play at `now`. */
export function setPlaying(
  d: SessionContext,
  now: number,
  playing: boolean,
  env: LogicEnv,
  fx: Effects,
): void {
  if (!d.current || d.position.playing === playing) return;
  accrue(d, now, env, fx);
  const dur = d.current.track.durationMs;
  d.position = reanchor(d.position, now, dur, playing);
  // Resuming decides the position; pausing stops the ceiling where it is.
  d.ceiling = playing ? d.position : reanchor(d.ceiling, now, dur, false);
  fx.changed = true;
}

export function seekTo(d: SessionContext, now: number, positionMs: number, env: LogicEnv, fx: Effects): void {
  if (!d.current) return;
  accrue(d, now, env, fx);
  decidePosition(d, seekAnchor(positionMs, now, d.current.track.durationMs, d.position.playing));
  fx.changed = true;
}
