/**
 * The one timer of a playing session (`after: tick` in the machine's `playing.ticking`,
 * rescheduled on every entry): the earliest of what is due while a track plays, and what
 * to do when it fires. Each deadline belongs to its concern:
 * - the royalty threshold: `play.progress` (play-position.ts);
 * - the 75 % point: the next track's first chunks at its play bitrate (prefetch.ts);
 * - URL renewal before expiry (url-renewal.ts);
 * - the end-of-track watchdog (play-lifecycle.ts).
 * Not while paused, and not while the active device is lost (`playing.held`): the grace
 * timer (see devices.ts `graceExpired`) decides then.
 */

import { trackDone, watchdogAt } from './play-lifecycle.ts';
import { accrue, progressDelay } from './play-position.ts';
import { positionAt } from './position.ts';
import { enterFullPhase, fullPhaseDelayOf } from './prefetch.ts';
import type { SessionContext } from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import { renew, renewAt } from './url-renewal.ts';

/** setTimeout overflows past 2^31-1 ms; an hour is plenty between checks. */
export const MAX_TICK_MS = 3_600_000;

/** Delay of the next timer check while playing. */
export function tickDelay(d: SessionContext, now: number, env: LogicEnv): number {
  const p = d.current;
  if (!p || !d.position.playing) return MAX_TICK_MS;
  const dur = p.track.durationMs;
  const pos = positionAt(d.position, now, dur);
  const delay = Math.min(
    Math.min(renewAt(p, env), watchdogAt(d, dur, env)) - now,
    progressDelay(d, now, env, pos),
    fullPhaseDelayOf(p, pos, env),
  );
  return Math.min(MAX_TICK_MS, Math.max(1, Math.ceil(delay)));
}

/** Timer check while playing. */
export function tick(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current;
  if (!p || !d.position.playing) return;
  // The device is lost (grace period): nothing is heard; the machine holds the timer then
  // (`playing.held`, same test), so this is only a guard.
  if (d.activeLostAt !== null) return;
  // Measured before `accrue` re-anchors at the clamped end (which would move it to now).
  if (now >= watchdogAt(d, p.track.durationMs, env)) return trackDone(d, now, env, fx);
  accrue(d, now, env, fx);
  enterFullPhase(d, now, env, fx);
  if (renewAt(d.current!, env) <= now) renew(d, now, env, fx);
}
