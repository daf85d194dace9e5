/**
 * What happens when an invoked load settles: a context resolved, the pending track's
 * bundle loaded, upcoming bundles loaded in the background (also answering `queue.add`),
 * autoplay tracks from the radio port. Pure steps over a draft context, like the commands.
 */

import { appendAutoplay, loadContext, remainingInContext } from './play-order.ts';
import { nowRef, upcomingIds, type PendingResolve, type SessionContext } from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import {
  endPlay,
  MAX_BLOCKED_SKIPS,
  missingUpcoming,
  pruneBundles,
  settleStart,
} from './play-lifecycle.ts';
import { addToQueue } from './play-order.ts';
import { applyDeferred, nextShuffleSeed } from './session-commands.ts';
import type { LoadTracksResult, ResolvedContext } from './types.ts';

export function contextResolved(
  d: SessionContext,
  result: ResolvedContext | null,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  const req = d.pendingResolve;
  if (!req) return;
  d.pendingResolve = null;
  startResolved(d, req, result, now, env, fx);
  applyDeferred(d, req.deferred, now, env, fx);
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
      return fx.error(req.requester, 'not_found', `track ${req.startTrackId} does not exist in the context`, {
        trackId: req.startTrackId,
      });
    }
  } else if (startIndex !== null && startIndex >= result.tracks.length) {
    return fx.error(
      req.requester,
      'bad_request',
      `offset.index ${startIndex} is past the ${result.tracks.length} tracks`,
    );
  }
  endPlay(d, now, 'skip', env, fx);
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
      }
    : null;
  if (!start) fx.ack(req.requester);
}

export function resolveFailed(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const req = d.pendingResolve;
  d.pendingResolve = null;
  fx.changed = true;
  if (!req) return;
  fx.error(req.requester, 'unavailable', 'the catalog is unavailable, try again');
  // The play failed; what was sent after it still applies, to what plays now.
  applyDeferred(d, req.deferred, now, env, fx);
}

/** Bundles for the pending start (and what follows it) arrived. */
export function targetLoaded(
  d: SessionContext,
  result: LoadTracksResult,
  ids: readonly string[],
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  storeBundles(d, result, ids);
  settleStart(d, now, env, fx);
}

export function targetLoadFailed(d: SessionContext, fx: Effects): void {
  const pending = d.pendingStart;
  d.pendingStart = null;
  if (pending) fx.error(pending.requester, 'unavailable', 'the catalog is unavailable, try again');
  fx.changed = true;
}

/**
 * Settle the pending start in this step when its bundle is loaded already or cached (the
 * `peek` port): the start, or the blocked tracks it skips and the one after. Returns with the start still pending
 * when a bundle is not cached (the invoked load takes over). Only in steps after which the
 * machine routes, so the playback state follows.
 */
export function settleStartFromCache(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const peek = env.peek;
  for (let i = 0; i <= MAX_BLOCKED_SKIPS && d.pendingStart && !d.pendingResolve; i++) {
    const target = d.pendingStart.ref.trackId;
    if (d.bundles[target] === undefined) {
      if (!peek) return;
      // The same batch the invoked load would ask for: the target and what follows it.
      const ids = [target];
      for (const id of upcomingIds(d, env.cfg.prefetchAhead)) {
        if (!ids.includes(id) && d.bundles[id] === undefined) ids.push(id);
      }
      const result = peek({ trackIds: ids, country: d.country });
      if (!result) return;
      storeBundles(d, result, ids);
    }
    settleStart(d, now, env, fx);
  }
}

/** Upcoming bundles and queue adds from cache, when the fetcher is not already loading them. */
export function loadAheadFromCache(d: SessionContext, env: LogicEnv, fx: Effects): void {
  const peek = env.peek;
  if (!peek || d.aheadLoading) return;
  const ids = aheadIds(d, env);
  if (ids.length === 0) return;
  const result = peek({ trackIds: ids, country: d.country });
  if (result) aheadLoaded(d, result, ids, env, fx);
}

/** Ids the background fetcher should load now: pending queue adds and upcoming tracks. */
export function aheadIds(d: SessionContext, env: LogicEnv): string[] {
  // While the pending track loads, its batch already carries what follows it.
  const targetLoading = d.pendingStart !== null && d.bundles[d.pendingStart.ref.trackId] === undefined;
  const ids = targetLoading ? [] : missingUpcoming(d, env);
  for (const a of d.pendingAdds) if (!ids.includes(a.trackId)) ids.push(a.trackId);
  return ids;
}

export function aheadLoaded(
  d: SessionContext,
  result: LoadTracksResult,
  ids: readonly string[],
  env: LogicEnv,
  fx: Effects,
): void {
  storeBundles(d, result, ids);
  settleAdds(d, fx, (trackId) => {
    const b = d.bundles[trackId];
    return b === undefined ? 'retry' : b === null ? 'missing' : 'ok';
  });
  fx.replan = true;
  void env;
}

export function aheadLoadFailed(d: SessionContext, ids: readonly string[], fx: Effects): void {
  d.fetchFailed = [...d.fetchFailed, ...ids.filter((id) => !d.fetchFailed.includes(id))];
  settleAdds(d, fx, (trackId) => (ids.includes(trackId) ? 'failed' : 'retry'));
}

function settleAdds(
  d: SessionContext,
  fx: Effects,
  status: (id: string) => 'ok' | 'missing' | 'failed' | 'retry',
): void {
  const left = [];
  for (const a of d.pendingAdds) {
    const s = status(a.trackId);
    if (s === 'ok') {
      d.order = addToQueue(d.order, a.trackId);
      fx.ack(a.requester);
      fx.changed = true;
    } else if (s === 'missing') {
      fx.error(a.requester, 'not_found', `track ${a.trackId} does not exist`, { trackId: a.trackId });
    } else if (s === 'failed') {
      fx.error(a.requester, 'unavailable', 'the catalog is unavailable, try again');
    } else left.push(a);
  }
  d.pendingAdds = left;
}

function storeBundles(d: SessionContext, result: LoadTracksResult, ids: readonly string[]): void {
  const bundles = { ...d.bundles };
  for (const id of ids) {
    const b = result[id];
    bundles[id] = b && b.track && b.track.id === id ? b : null;
  }
  d.bundles = bundles;
  // Queue adds in flight are kept by the prune until they are answered.
  pruneBundles(d);
}

/** Autoplay is asked for once per context, when it is about to run out with repeat off. */
export function autoplayNeeded(d: SessionContext, env: LogicEnv): boolean {
  return (
    !d.autoplayRequested &&
    d.order.repeat === 'off' &&
    d.order.tracks.length > 0 &&
    nowRef(d) !== null &&
    d.order.autoplay.length === 0 &&
    remainingInContext(d.order) <= env.cfg.autoplayWhenRemaining
  );
}

export function radioSeeds(d: SessionContext): { seedTrackIds: string[]; exclude: string[] } {
  const seeds = d.order.tracks.slice(-5).map((t) => t.id);
  const exclude = [...d.order.tracks.map((t) => t.id), ...d.order.queue];
  return { seedTrackIds: seeds, exclude };
}

export function autoplayLoaded(d: SessionContext, trackIds: unknown, fx: Effects): void {
  if (!Array.isArray(trackIds)) return;
  const ids = trackIds.filter((x): x is string => typeof x === 'string' && x.length > 0);
  const before = d.order;
  d.order = appendAutoplay(d.order, ids);
  if (d.order !== before) fx.changed = fx.replan = true;
}
