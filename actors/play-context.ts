/**
 * The play context (a playlist, an album, an artist, or an explicit list of track uris):
 * - `play`: validated, then the context is resolved: in the same step when the
 *   `peekContext` port knows it, else by the machine's invoked `resolveContext`
 *   (`pendingResolve`); commands sent meanwhile are held (`holdForResolve`) and the machine
 *   applies them once it resolved or failed;
 * - resolved: the play order is loaded (shuffled when shuffle is on) and the start track
 *   becomes the pending start;
 * - autoplay: asked of the radio port once per context (`contextGen` tags the call) when
 *   the context is about to run out with repeat off and a track of it has started; the
 *   tracks are appended after it.
 */

import { claimActive } from './devices.ts';
import { detachPlay, restoreActive, supersedePending } from './play-lifecycle.ts';
import { appendAutoplay, loadContext, remainingInContext } from './play-order.ts';
import { nextShuffleSeed } from './queue-options.ts';
import {
  trackIdOf,
  validPosition,
  type DeferredCommand,
  type PendingResolve,
  type Requester,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { PlayCommand, RadioRequest, ResolvedContext } from './types.ts';

export function play(
  d: SessionContext,
  c: PlayCommand,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  const uris = Array.isArray(c.uris) ? c.uris : [];
  if (!c.contextUri && uris.length === 0)
    return fx.error(r, 'bad_request', 'play needs a contextUri or uris');
  if (
    c.contextUri !== undefined &&
    (typeof c.contextUri !== 'string' || !/^(playlist|album|artist):[^\s]{1,200}$/.test(c.contextUri))
  ) {
    return fx.error(r, 'bad_request', 'contextUri must be playlist:<id>, album:<id> or artist:<id>');
  }
  const trackIds = uris.map(trackIdOf);
  if (trackIds.some((id) => !id)) return fx.error(r, 'bad_request', 'uris must be track uris');
  if (c.positionMs !== undefined && !validPosition(c.positionMs))
    return fx.error(r, 'bad_request', 'positionMs must be a number >= 0');
  const index = c.offset?.index;
  if (index !== undefined && !(Number.isInteger(index) && index >= 0))
    return fx.error(r, 'bad_request', 'offset.index must be an integer >= 0');
  let startTrackId: string | null = null;
  if (c.offset?.uri !== undefined) {
    startTrackId = trackIdOf(c.offset.uri);
    if (!startTrackId) return fx.error(r, 'bad_request', 'offset.uri must be a track uri');
  } else if (index !== undefined && !c.contextUri) {
    startTrackId = trackIds[index] ?? null;
    if (!startTrackId)
      return fx.error(r, 'bad_request', `offset.index ${index} is past the ${trackIds.length} uris`);
  }
  supersedePending(d, fx);
  const before = { activeDeviceId: d.activeDeviceId, activeLostAt: d.activeLostAt, claimedBy: c.deviceId };
  // Announced with the playback, or put back if the play is refused (nothing changed then).
  const claimed = claimActive(d, c.deviceId, now, env, fx, false);
  d.pendingResolve = {
    contextUri: c.contextUri ?? null,
    trackIds,
    startTrackId,
    startIndex: c.contextUri && startTrackId === null ? (index ?? null) : null,
    positionMs: c.positionMs ?? 0,
    play: c.paused !== true,
    requester: r,
    active: claimed ? before : null,
    deferred: [],
  };
  // A context known in memory resolves now: nothing can have been held behind it yet.
  const known = env.peekContext?.({ userId: d.userId, contextUri: c.contextUri ?? null, trackIds });
  if (known !== undefined) {
    contextResolved(d, known, now, env, fx);
    return;
  }
  // No state broadcast yet: the one that matters goes out with the playback.
}

/** The context resolved: load it. Returns the commands held for it, for the caller to apply. */
export function contextResolved(
  d: SessionContext,
  result: ResolvedContext | null,
  now: number,
  env: LogicEnv,
  fx: Effects,
): readonly DeferredCommand[] {
  const req = d.pendingResolve;
  if (!req) return [];
  d.pendingResolve = null;
  startResolved(d, req, result, now, env, fx);
  return req.deferred;
}

function startResolved(
  d: SessionContext,
  req: PendingResolve,
  result: ResolvedContext | null,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (!result || result.tracks.length === 0) {
    restoreActive(d, req.active);
    const message =
      req.contextUri === null ? 'none of the uris names a known track' : `${req.contextUri} does not exist`;
    return fx.error(req.requester, 'not_found', message, {
      reason: req.contextUri === null ? 'unknown_track' : 'unknown_context',
    });
  }
  let startIndex: number | null = req.startIndex;
  if (req.startTrackId !== null) {
    startIndex = result.tracks.findIndex((t) => t.id === req.startTrackId);
    if (startIndex < 0) {
      restoreActive(d, req.active);
      return fx.error(req.requester, 'not_found', `track ${req.startTrackId} does not exist in the context`, {
        trackId: req.startTrackId,
      });
    }
  } else if (startIndex !== null && startIndex >= result.tracks.length) {
    restoreActive(d, req.active);
    return fx.error(
      req.requester,
      'bad_request',
      `offset.index ${startIndex} is past the ${result.tracks.length} tracks`,
    );
  }
  const replaced = detachPlay(d, now, 'skip', env, fx);
  const seed = d.order.shuffle ? nextShuffleSeed(d) : d.order.shuffleSeed;
  const { order, start } = loadContext(
    d.order,
    result.uri ?? req.contextUri,
    result.tracks,
    startIndex,
    seed,
  );
  d.order = order;
  d.autoplayRequested = false;
  d.contextGen += 1;
  d.fetchFailed = [];
  d.pendingStart = start
    ? {
        ref: start,
        positionMs: req.positionMs,
        play: req.play,
        requester: req.requester,
        skips: 0,
        continuePlay: false,
        replaced: { ...replaced, active: req.active },
      }
    : null;
  if (!start) {
    // Nothing to start: the old play is over now, as the new (empty) order replaced it.
    if (replaced.end) fx.event(replaced.end);
    fx.changed = true;
    fx.ack(req.requester);
  }
}

/**
 * The resolve failed (store unavailable): the play is refused. Returns the commands held
 * for it: they still apply, to what plays now.
 */
export function resolveFailed(d: SessionContext, fx: Effects): readonly DeferredCommand[] {
  const req = d.pendingResolve;
  d.pendingResolve = null;
  fx.changed = true;
  if (!req) return [];
  restoreActive(d, req.active);
  fx.error(req.requester, 'unavailable', 'the catalog is unavailable, try again');
  return req.deferred;
}

/**
 * Autoplay is asked for once per context, when it is about to run out with repeat off, and
 * only once a track of it has started: a `play` still pending may be refused (every track
 * blocked), and an answer landing first would turn that refusal into radio playback.
 */
export function autoplayNeeded(d: SessionContext, env: LogicEnv): boolean {
  return (
    !d.autoplayRequested &&
    d.order.repeat === 'off' &&
    d.order.tracks.length > 0 &&
    d.pendingStart === null &&
    d.current !== null &&
    d.order.autoplay.length === 0 &&
    remainingInContext(d.order) <= env.cfg.autoplayWhenRemaining
  );
}

/** Autoplay tracks a session remembers giving, so the radio never repeats one. */
const AUTOPLAY_SERVED_MAX = 500;

export function radioSeeds(
  d: SessionContext,
): Pick<RadioRequest, 'seedTrackIds' | 'exclude' | 'country' | 'plan'> {
  const seeds = d.order.tracks.slice(-5).map((t) => t.id);
  const exclude = [...d.order.tracks.map((t) => t.id), ...d.order.queue, ...d.autoplayServed];
  return { seedTrackIds: seeds, exclude, country: d.country, plan: d.plan };
}

export function autoplayLoaded(d: SessionContext, trackIds: unknown, fx: Effects): void {
  if (!Array.isArray(trackIds)) return;
  const ids = trackIds.filter((x): x is string => typeof x === 'string' && x.length > 0);
  const before = d.order;
  d.order = appendAutoplay(d.order, ids);
  if (d.order !== before) {
    fx.changed = fx.replan = true;
    d.autoplayServed = [...d.autoplayServed, ...d.order.autoplay.slice(before.autoplay.length)].slice(
      -AUTOPLAY_SERVED_MAX,
    );
  }
}

/** The radio did not answer: the context ends without autoplay, and the active device is told. */
export function autoplayFailed(d: SessionContext, fx: Effects): void {
  if (!d.activeDeviceId) return;
  fx.send(d.activeDeviceId, {
    type: 'warning',
    code: 'autoplay_unavailable',
    message: 'autoplay is unavailable now: playback stops when this context ends',
  });
}
