/**
 * Where a command enters: the device must have said hello, a retried frame is acked and
 * not applied twice, then one handler per command, in the module of its concern:
 *
 *   play                                      play-context.ts
 *   pause resume seek next previous ended
 *   progress logout                           play-controls.ts
 *   hello disconnect transfer volume          devices.ts
 *   shuffle repeat queue.add queue.edit
 *   quality                                   queue-options.ts
 *
 * Handlers are pure functions over a draft context: they validate, change the context and
 * record outputs; they never pick the machine state: the machine derives it from the
 * context (`desiredPlayback`) after each step.
 */

import { disconnect, hello, transfer, volume } from './devices.ts';
import { play } from './play-context.ts';
import { ended, logout, next, pause, previous, progress, resume, seek } from './play-controls.ts';
import { holdForResolve, MAX_DEFERRED } from './play-lifecycle.ts';
import { quality, queueAdd, queueEdit, repeat, shuffle } from './queue-options.ts';
import {
  isConnected,
  requesterOf,
  type DeferredCommand,
  type Requester,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { DisconnectCommand, HelloCommand, SessionCommand } from './types.ts';

/** A retried frame (same device and request id) is acked again and not applied twice. */
export function isRetry(d: SessionContext, c: SessionCommand, env: LogicEnv): boolean {
  if (c.requestId === undefined || c.type === 'hello') return false;
  const key = `${c.deviceId}:${c.requestId}`;
  if (d.recentRequests.includes(key)) return true;
  const kept =
    d.recentRequests.length >= env.cfg.recentRequestsKept
      ? d.recentRequests.slice(1)
      : d.recentRequests.slice();
  kept.push(key);
  d.recentRequests = kept;
  return false;
}

export function handleCommand(
  d: SessionContext,
  c: SessionCommand,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (c.type === 'hello') return hello(d, c, now, env, fx);
  if (c.type === 'disconnect') return disconnect(d, c.deviceId, now, fx);
  const r = requesterOf(c);
  if (!isConnected(d, c.deviceId)) {
    fx.error(r, 'not_found', `device ${c.deviceId} has not said hello`, { reason: 'unknown_device' });
    return;
  }
  if (isRetry(d, c, env)) {
    fx.ack(r);
    return;
  }
  if (!d.restoredPlaying || !STEERS.has(c.type)) return dispatch(d, c, r, now, env, fx);
  const before = steering(d);
  dispatch(d, c, r, now, env, fx);
  // A restored play waiting for its active device: a pause, or any command that moved what
  // plays (a seek, a skip, a play, a transfer or a resume elsewhere), decides instead.
  if (c.type === 'pause' || steering(d).some((v, i) => v !== before[i])) d.restoredPlaying = null;
}

/** Commands that act on what plays (queue and option edits leave a restored play waiting). */
const STEERS: ReadonlySet<string> = new Set([
  'play',
  'pause',
  'resume',
  'seek',
  'next',
  'previous',
  'ended',
  'logout',
  'transfer',
]);

/** What a command that steers the play changes (replaced, never mutated: compared by reference). */
const steering = (d: SessionContext): unknown[] => [
  d.current,
  d.position,
  d.pendingStart,
  d.pendingResolve,
  d.heldSkip,
  d.activeDeviceId,
];

/**
 * Apply the commands held while a context resolved, in their order, after it resolved (or
 * failed to). They were checked for retries on arrival; their device may have gone since,
 * in which case their answers are dropped like any other to a gone device.
 */
export function applyDeferred(
  d: SessionContext,
  deferred: readonly DeferredCommand[],
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  for (const c of deferred) dispatch(d, c, requesterOf(c), now, env, fx);
}

const DEFERRABLE: ReadonlySet<string> = new Set(['next', 'previous', 'seek', 'transfer', 'pause', 'resume']);
const isDeferrable = (c: SessionCommand): c is DeferredCommand => DEFERRABLE.has(c.type);

/**
 * The track a held skip waits for is known (or its load failed): the skip and the
 * commands behind it apply now, in order (the machine routes after this).
 */
export function releaseHeldSkip(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const held = d.heldSkip;
  if (!held) return;
  d.heldSkip = null;
  applyDeferred(d, held.commands, now, env, fx);
}

/** Whether a held skip can be decided now: its track's bundle is known, or its load failed. */
export const heldSkipReady = (d: SessionContext): boolean =>
  d.heldSkip !== null &&
  (d.bundles[d.heldSkip.trackId] !== undefined || d.fetchFailed.includes(d.heldSkip.trackId));

function dispatch(
  d: SessionContext,
  c: Exclude<SessionCommand, HelloCommand | DisconnectCommand>,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  // Behind a skip waiting for a track's load, what acts on what plays waits too, in order.
  if (d.heldSkip && isDeferrable(c)) {
    if (d.heldSkip.commands.length >= MAX_DEFERRED) {
      return fx.error(r, 'conflict', `${MAX_DEFERRED} commands already wait for a skip`, {
        reason: 'too_many_pending',
      });
    }
    d.heldSkip = { ...d.heldSkip, commands: [...d.heldSkip.commands, c] };
    return;
  }
  // Behind a held command, pause and resume wait too: they apply to what it starts.
  if (
    (c.type === 'pause' || c.type === 'resume') &&
    d.pendingResolve &&
    d.pendingResolve.deferred.length > 0
  ) {
    return holdForResolve(d, c, r, fx);
  }
  switch (c.type) {
    case 'play':
      return play(d, c, r, now, env, fx);
    case 'pause':
      return pause(d, r, now, env, fx);
    case 'resume':
      return resume(d, r, now, env, fx);
    case 'seek':
      return seek(d, c, r, now, env, fx);
    case 'next':
      return next(d, c, r, now, env, fx);
    case 'previous':
      return previous(d, c, r, now, env, fx);
    case 'ended':
      return ended(d, c.playId, r, now, env, fx);
    case 'progress':
      return progress(d, c, r, now, env, fx);
    case 'logout':
      return logout(d, r, now, env, fx);
    case 'transfer':
      return transfer(d, c, r, now, env, fx);
    case 'volume':
      return volume(d, c, r, fx);
    case 'shuffle':
      return shuffle(d, c, r, fx);
    case 'repeat':
      return repeat(d, c, r, fx);
    case 'queue.add':
      return queueAdd(d, c, r, now, fx);
    case 'queue.edit':
      return queueEdit(d, c, r, fx);
    case 'quality':
      return quality(d, c, r, env, fx);
    default:
      // Exhaustive: a command type added to SessionCommand without a handler fails to compile.
      return ((unhandled: never) => unhandled)(c);
  }
}
