/**
 * The commands that steer the current play: `pause`, `resume`, `seek`, `next`,
 * `previous`, `logout`, and the reports of the device that plays it (`ended`,
 * `progress`). Each validates, then changes the context through the play lifecycle
 * (play-lifecycle.ts) and its position (play-position.ts); a new track to play is left as
 * `pendingStart`, which the machine settles in the same step when its bundle is at hand.
 */

import { noteBandwidth } from './network.ts';
import {
  endPlay,
  holdForResolve,
  movePlay,
  refuseUnplayable,
  refuseReport,
  setPendingPlay,
  publishReplaced,
  supersedePending,
  trackDone,
  walkSkipKnown,
  warnSkipped,
} from './play-lifecycle.ts';
import { MAX_PASSED_OVER, nextRef, previousRef, type TrackRef } from './play-order.ts';
import { accrue, positionNow, seekTo, setPlaying } from './play-position.ts';
import {
  isConnected,
  nowRef,
  playability,
  validPosition,
  type Playability,
  type Requester,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { NextCommand, PreviousCommand, ProgressCommand, SeekCommand } from './types.ts';
import { renewIfStale } from './url-renewal.ts';

export function pause(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  setPendingPlay(d, false, fx);
  setPlaying(d, now, false, env, fx);
  fx.ack(r);
}

export function resume(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  if (d.pendingStart || d.pendingResolve) {
    setPendingPlay(d, true, fx);
    return fx.ack(r);
  }
  if (!d.current) return fx.error(r, 'conflict', 'nothing to resume');
  // The active device is gone: the requester takes the play over (as a transfer here).
  if (!isConnected(d, d.activeDeviceId) && d.activeDeviceId !== r.deviceId) {
    return movePlay(d, r.deviceId, true, r, now, env, fx);
  }
  // Never playing without a playback: a restored play's bundle is loaded first (answered then).
  if (d.bundles[d.current.track.id] === undefined) return continueCurrent(d, true, r, now, fx);
  setPlaying(d, now, true, env, fx);
  renewIfStale(d, now, env, fx);
  fx.ack(r);
}

/** The current play's bundle is not loaded (a restored session): load it, then the same play goes on. */
export function continueCurrent(
  d: SessionContext,
  play: boolean,
  r: Requester | null,
  now: number,
  fx: Effects,
): void {
  d.pendingStart = {
    ref: d.current!.ref,
    positionMs: positionNow(d, now),
    play,
    requester: r,
    skips: 0,
    continuePlay: true,
  };
  fx.changed = true;
}

export function seek(
  d: SessionContext,
  c: SeekCommand,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (!validPosition(c.positionMs)) return fx.error(r, 'bad_request', 'positionMs must be a number >= 0');
  if (d.pendingResolve) return holdForResolve(d, c, r, fx);
  if (d.pendingStart) d.pendingStart = { ...d.pendingStart, positionMs: c.positionMs };
  else if (d.current) seekTo(d, now, c.positionMs, env, fx);
  else return fx.error(r, 'conflict', 'nothing is playing');
  fx.changed = true;
  fx.ack(r);
}

/**
 * `next`: the play ends (`skip`) and what follows starts, even past a pending start. The
 * tracks the listener may not play are passed over (a `track_skipped` warning each, and
 * the skip is a success); when only such tracks are left, the skip is refused with the
 * first one's reason and nothing changes: the play goes on. When a track on the way is not
 * loaded yet, the skip waits for it (`heldSkip`), so the answer is the same either way.
 */
export function next(
  d: SessionContext,
  c: NextCommand,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (d.pendingResolve) return holdForResolve(d, c, r, fx);
  const base = nowRef(d);
  if (!base) return fx.error(r, 'conflict', 'nothing is playing');
  const walk = walkSkipKnown(d, base, 'skip', now, env);
  const target = walk.target;
  if (target && playability(d, target.trackId, now) === 'unknown')
    return holdSkip(d, c, r, target.trackId, walk.passed, fx);
  const first = walk.passed[0];
  if (!target && first) {
    return refuseUnplayable(r, first.trackId, playability(d, first.trackId, now) as Refusal, fx);
  }
  // The pending track is skipped before it started: it leaves the queue / moves the cursor.
  if (d.pendingStart) fx.ack(d.pendingStart.requester);
  for (const p of walk.passed)
    warnSkipped(d, d.activeDeviceId, p.trackId, playability(d, p.trackId, now) as Refusal, fx);
  d.order = walk.order;
  endPlay(d, now, 'skip', env, fx);
  startTarget(d, target, r, fx);
}

type Refusal = Exclude<Playability, 'ok' | 'unknown'>;

/**
 * Wait for the bundle of `trackId` before deciding the skip: the background fetcher loads
 * it (aheadIds), and the machine applies the skip again once it is known (or failed).
 */
function holdSkip(
  d: SessionContext,
  c: NextCommand | PreviousCommand,
  r: Requester,
  trackId: string,
  passed: readonly TrackRef[],
  fx: Effects,
): void {
  if (d.fetchFailed.includes(trackId)) {
    return fx.error(r, 'unavailable', 'the catalog is unavailable, try again');
  }
  d.heldSkip = { trackId, passed: passed.map((p) => p.trackId), commands: [c] };
}

/**
 * `previous`: restart the track once past `previousRestartMs`, else the one before it; with
 * none before, restart it, or refuse when the command says so (`atFirst`).
 */
export function previous(
  d: SessionContext,
  c: PreviousCommand,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (d.pendingResolve) return holdForResolve(d, c, r, fx);
  const p = d.current;
  if (!d.pendingStart && !p) return fx.error(r, 'conflict', 'nothing is playing');
  if (p && !d.pendingStart && positionNow(d, now) > env.cfg.previousRestartMs) {
    const ref = p.ref;
    endPlay(d, now, 'skip', env, fx);
    return startTarget(d, ref, r, fx);
  }
  const base = d.pendingStart?.ref ?? p!.ref;
  // Back past the tracks the listener may not play; none left before: restart this one.
  const passed: TrackRef[] = [];
  let target = previousRef(d.order, base) ?? base;
  while (target !== base && playability(d, target.trackId, now) !== 'ok') {
    const verdict = playability(d, target.trackId, now);
    if (verdict === 'unknown') {
      const cached = env.peek?.({ trackIds: [target.trackId], country: d.country });
      if (cached) {
        d.bundles = { ...d.bundles, ...cached };
        continue;
      }
      return holdSkip(d, c, r, target.trackId, passed, fx);
    }
    passed.push(target);
    target = (passed.length < MAX_PASSED_OVER && previousRef(d.order, target)) || base;
  }
  if (target === base && c.atFirst === 'refuse')
    return fx.error(r, 'conflict', 'there is no previous track', { reason: 'no_previous_track' });
  if (d.pendingStart) fx.ack(d.pendingStart.requester);
  for (const t of passed)
    warnSkipped(d, d.activeDeviceId, t.trackId, playability(d, t.trackId, now) as Refusal, fx);
  endPlay(d, now, 'skip', env, fx);
  startTarget(d, target, r, fx);
}

/** Set the next start (from its beginning, playing), or stop when there is nothing left. */
function startTarget(
  d: SessionContext,
  target: ReturnType<typeof nextRef>,
  r: Requester | null,
  fx: Effects,
): void {
  // Skipped past a pending play's first track: the play it replaces is over now.
  publishReplaced(d, fx);
  d.pendingStart = target
    ? { ref: target, positionMs: 0, play: true, requester: r, skips: 0, continuePlay: false }
    : null;
  if (!target) fx.ack(r);
  fx.changed = true;
}

/** The device played the track to its end. */
export function ended(
  d: SessionContext,
  playId: string | undefined,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  // Only the device that plays ends a play, and only the play it is playing.
  if (refuseReport(d, playId, r, fx)) return;
  if (!d.current || r.deviceId !== d.activeDeviceId) return fx.ack(r);
  trackDone(d, now, env, fx);
  fx.ack(r);
}

/** A report of the device that plays: its position, and the bandwidth it measured. */
export function progress(
  d: SessionContext,
  c: ProgressCommand,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  const { bandwidthKbps, positionMs, playId } = c;
  if (
    bandwidthKbps !== undefined &&
    (typeof bandwidthKbps !== 'number' || !(bandwidthKbps >= 0) || !Number.isFinite(bandwidthKbps))
  ) {
    return fx.error(r, 'bad_request', 'bandwidthKbps must be a number >= 0');
  }
  if (!validPosition(positionMs)) return fx.error(r, 'bad_request', 'positionMs must be a number >= 0');
  // Only the device that plays reports on the play, and only on the play it is playing.
  if (refuseReport(d, playId, r, fx)) return;
  if (c.deviceId !== d.activeDeviceId) return fx.ack(r);
  // 0 is "no measurement" (the protocol allows it): the position still applies.
  if (bandwidthKbps !== undefined && bandwidthKbps > 0) noteBandwidth(d, bandwidthKbps, env, fx);
  const p = d.current;
  if (p && !d.pendingStart) accrue(d, now, env, fx, positionMs);
  fx.ack(r);
}

export function logout(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  supersedePending(d, fx);
  endPlay(d, now, 'logout', env, fx);
  fx.changed = true;
  fx.ack(r);
}
