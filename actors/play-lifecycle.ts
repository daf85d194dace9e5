/**
 * The life of a play, in the order it happens:
 * 1. pending: a command (or a track end) sets `pendingStart`; a newer one supersedes it;
 * 2. load: its bundle comes from the context's cache, the `peekTracks` port, or the
 *    machine's invoked `loadTracks` (`targetLoaded`);
 * 3. start: rights checked (a refused or missing track is passed over), bitrate chosen,
 *    `playback` to the active device, `play.start`;
 * 4. end: `play.end` with its reason (trackdone, skip, transfer, logout, blocked), by a
 *    command, the device's `ended`, or the watchdog when a track overruns its end.
 * Played time and position are in play-position.ts; URL renewal in url-renewal.ts.
 *
 * Pure steps over a draft context (a shallow copy the caller owns) and an Effects
 * collector; nested values are replaced, never mutated.
 */

import { FORBIDDEN_MESSAGES } from './entitlement.ts';
import { isPlayOfSession, listeningEvent, makePlayId } from './listening-events.ts';
import { bitrateFor, noteNetworkLimit } from './network.ts';
import { buildPlayback, expiryFor, firstChunkKbps, rungs } from './playback-output.ts';
import { advance, nextRef, MAX_PASSED_OVER, walkSkip, type SkipWalk, type TrackRef } from './play-order.ts';
import { accrue, decidePosition, endsAt, playFacts } from './play-position.ts';
import { seekAnchor, stoppedAnchor } from './position.ts';
import { pruneBundles, storeBundles } from './prefetch.ts';
import {
  isConnected,
  knownUnplayable,
  playability,
  requesterOf,
  upcomingIds,
  type ActiveBefore,
  type Playability,
  type CurrentPlay,
  type ReplacedPlay,
  type DeferredCommand,
  type PendingStart,
  type Requester,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { EndReason, LoadTracksResult, TrackBundle, WarningOutput } from './types.ts';

/** Skipping blocked tracks stops after this many in a row (an all-blocked context ends). */
export const MAX_BLOCKED_SKIPS = MAX_PASSED_OVER;

// ---- pending ----------------------------------------------------------------------------

/**
 * Answer a pending start that a newer command replaces: it was accepted, then overtaken.
 * What a pending `play` was to replace is put back: the newer command acts on it.
 */
export function supersedePending(d: SessionContext, fx: Effects): void {
  if (d.pendingStart) fx.ack(d.pendingStart.requester);
  if (d.pendingStart?.replaced) restoreReplaced(d, d.pendingStart.replaced);
  if (d.pendingResolve) {
    restoreActive(d, d.pendingResolve.active);
    fx.ack(d.pendingResolve.requester);
    // Commands held for the overtaken play were accepted, then overtaken with it.
    for (const c of d.pendingResolve.deferred) fx.ack(requesterOf(c));
  }
  if (d.heldSkip) for (const c of d.heldSkip.commands) fx.ack(requesterOf(c));
  d.pendingStart = null;
  d.pendingResolve = null;
  d.heldSkip = null;
}

/** At most this many commands wait for a context to resolve; more get `conflict`. */
export const MAX_DEFERRED = 16;

/**
 * Hold a command until the pending play's context resolved (see PendingResolve.deferred);
 * the machine applies the held commands in order then, and they are answered then.
 */
export function holdForResolve(d: SessionContext, c: DeferredCommand, r: Requester, fx: Effects): void {
  const pending = d.pendingResolve!;
  if (pending.deferred.length >= MAX_DEFERRED) {
    return fx.error(
      r,
      'conflict',
      `a play is still being resolved and ${MAX_DEFERRED} commands already wait for it`,
      {
        reason: 'too_many_pending',
      },
    );
  }
  d.pendingResolve = { ...pending, deferred: [...pending.deferred, c] };
}

/** Play or pause what is about to start (a play resolving, a track loading); no change, no new version. */
export function setPendingPlay(d: SessionContext, play: boolean, fx: Effects): void {
  if (d.pendingStart && d.pendingStart.play !== play) {
    d.pendingStart = { ...d.pendingStart, play };
    fx.changed = true;
  } else if (d.pendingResolve && d.pendingResolve.play !== play) {
    d.pendingResolve = { ...d.pendingResolve, play };
    fx.changed = true;
  }
}

// ---- load -------------------------------------------------------------------------------

/** One batch for the pending start: its track and what follows it, so playback and prefetch go out together. */
export function targetBatch(d: SessionContext, env: LogicEnv, now: number): string[] {
  const ids = [d.pendingStart!.ref.trackId];
  for (const id of upcomingIds(d, env.cfg.prefetchAhead, now)) {
    if (!ids.includes(id) && d.bundles[id] === undefined) ids.push(id);
  }
  return ids;
}

/**
 * Settle the pending start in this step when its bundle is loaded already or cached (the
 * `peek` port): the start, or the blocked tracks it skips and the one after. Returns with
 * the start still pending when a bundle is not cached (the invoked load takes over). Only
 * in steps after which the machine routes, so the playback state follows.
 */
export function settleStartFromCache(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const peek = env.peek;
  for (let i = 0; i <= MAX_BLOCKED_SKIPS && d.pendingStart && !d.pendingResolve; i++) {
    if (d.bundles[d.pendingStart.ref.trackId] === undefined) {
      if (!peek) return;
      const ids = targetBatch(d, env, now);
      const result = peek({ trackIds: ids, country: d.country });
      if (!result) return;
      storeBundles(d, result, ids, now);
    }
    settleStart(d, now, env, fx);
  }
}

/** Bundles for the pending start (and what follows it) arrived from the invoked load. */
export function targetLoaded(
  d: SessionContext,
  result: LoadTracksResult,
  ids: readonly string[],
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  storeBundles(d, result, ids, now);
  settleStart(d, now, env, fx);
}

export function targetLoadFailed(d: SessionContext, fx: Effects): void {
  const pending = d.pendingStart;
  d.pendingStart = null;
  if (pending) fx.error(pending.requester, 'unavailable', 'the catalog is unavailable, try again');
  // A refused play changes nothing: what it was to replace goes on.
  if (pending?.replaced) return restoreReplaced(d, pending.replaced);
  fx.changed = true;
}

// ---- replace ----------------------------------------------------------------------------

/**
 * A `play`'s context loaded: fold the current play and detach it (it stops counting), its
 * `play.end` built now but not published, with what the new context replaces (see
 * ReplacedPlay): published when the new track starts, put back if none does.
 */
export function detachPlay(
  d: SessionContext,
  now: number,
  reason: EndReason,
  env: LogicEnv,
  fx: Effects,
): Omit<ReplacedPlay, 'active'> {
  accrue(d, now, env, fx);
  const p = d.current;
  const replaced = {
    current: p,
    position: d.position,
    ceiling: d.ceiling,
    order: d.order,
    autoplayRequested: d.autoplayRequested && d.radioFor === null,
    fetchFailed: d.fetchFailed,
    end: p ? listeningEvent('play.end', playFacts(d, p), now, p.msPlayed, reason) : null,
  };
  d.current = null;
  decidePosition(d, stoppedAnchor(now));
  return replaced;
}

/** Put back what a refused `play` was to replace; no new version (nothing changed). */
export function restoreReplaced(d: SessionContext, r: ReplacedPlay): void {
  d.pendingStart = null;
  d.current = r.current;
  d.position = r.position;
  d.ceiling = r.ceiling;
  d.order = r.order;
  // contextGen stays counted on: a radio answer asked for the refused context is dropped.
  d.autoplayRequested = r.autoplayRequested;
  d.fetchFailed = r.fetchFailed;
  restoreActive(d, r.active);
}

/** Give the active device back, unless a command moved the play since the claim. */
export function restoreActive(d: SessionContext, a: ActiveBefore | null): void {
  if (!a || d.activeDeviceId !== a.claimedBy) return;
  d.activeDeviceId = a.activeDeviceId;
  // Back meanwhile: connected, not lost.
  d.activeLostAt = isConnected(d, a.activeDeviceId) ? null : a.activeLostAt;
}

/** The play a pending `play` replaces is over for good (the new one starts, or is skipped past). */
export function publishReplaced(d: SessionContext, fx: Effects): void {
  const pending = d.pendingStart;
  if (!pending?.replaced) return;
  if (pending.replaced.end) fx.event(pending.replaced.end);
  d.pendingStart = { ...pending, replaced: undefined };
  fx.changed = true;
}

// ---- start ------------------------------------------------------------------------------

/**
 * Settle the pending start once its bundle is known: start it, or pass it over when the
 * listener may not play it (see passOver).
 */
export function settleStart(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const pending = d.pendingStart;
  if (!pending) return;
  const verdict = playability(d, pending.ref.trackId, now);
  if (verdict === 'unknown') return;
  if (verdict !== 'ok') return passOver(d, verdict, now, env, fx);
  startPlay(d, now, d.bundles[pending.ref.trackId]!, env, fx);
}

/** The `track_skipped` warning of a track passed over, to the active device. */
export function warnSkipped(
  d: SessionContext,
  deviceId: string | null | undefined,
  trackId: string,
  why: Exclude<Playability, 'ok' | 'unknown'>,
  fx: Effects,
): void {
  if (!deviceId) return;
  const warning: WarningOutput = {
    type: 'warning',
    code: 'track_skipped',
    message: `track ${trackId} was skipped: ${why === 'not_found' ? 'it does not exist' : FORBIDDEN_MESSAGES[why]}`,
    trackId,
    reason: why,
  };
  fx.send(deviceId, warning);
}

/** The refusal of a request whose every track is passed over: the reason of the first one. */
export function refuseUnplayable(
  r: Requester | null,
  trackId: string,
  why: Exclude<Playability, 'ok' | 'unknown'>,
  fx: Effects,
): void {
  if (why === 'not_found') fx.error(r, 'not_found', `track ${trackId} does not exist`, { trackId });
  else
    fx.error(r, 'forbidden', `no track left that you may play: ${trackId}: ${FORBIDDEN_MESSAGES[why]}`, {
      reason: why,
      trackId,
    });
}

/**
 * The pending track may not be played (greyed out): the active device is warned
 * (`track_skipped`) and the start goes on with the track after it; the requester is
 * answered when one starts (a success), or refused when none is left. A restored play
 * that may no longer be played ends (`blocked`).
 */
function passOver(
  d: SessionContext,
  why: Exclude<Playability, 'ok' | 'unknown'>,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  const pending = d.pendingStart!;
  const ref = pending.ref;
  warnSkipped(d, d.activeDeviceId ?? pending.requester?.deviceId, ref.trackId, why, fx);
  if (pending.continuePlay && d.current) endPlay(d, now, 'blocked', env, fx);
  d.order = advance(d.order, ref);
  const next = pending.skips < MAX_BLOCKED_SKIPS ? nextRef(d.order, ref, 'skip') : null;
  if (next && !(next.source === ref.source && next.pos === ref.pos && next.trackId === ref.trackId)) {
    d.pendingStart = { ...pending, ref: next, positionMs: 0, skips: pending.skips + 1, continuePlay: false };
  } else {
    d.pendingStart = null;
    refuseUnplayable(pending.requester, ref.trackId, why, fx);
    // A refused play changes nothing: what it was to replace goes on.
    if (pending.replaced) return restoreReplaced(d, pending.replaced);
  }
  // A play's start shows nothing until its track starts (or it is refused).
  if (!pending.replaced) fx.changed = true;
}

/**
 * Where a skip from `from` lands, past the tracks known unplayable, reading cached
 * bundles (the `peek` port) for the ones not loaded. The target is 'unknown' when a
 * bundle on the way is neither loaded nor cached: the caller waits for its load.
 */
export function walkSkipKnown(
  d: SessionContext,
  from: TrackRef,
  reason: 'trackdone' | 'skip',
  now: number,
  env: LogicEnv,
): SkipWalk {
  // A pending ref has not started: its queue slot and cursor are used up all the same.
  const order = advance(d.order, from);
  for (let i = 0; ; i++) {
    const walk = walkSkip(order, from, reason, knownUnplayable(d, now));
    const target = walk.target;
    if (!target || d.bundles[target.trackId] !== undefined || !env.peek || i > MAX_PASSED_OVER) return walk;
    const result = env.peek({ trackIds: [target.trackId], country: d.country });
    if (!result) return walk;
    storeBundles(d, result, [target.trackId], now);
  }
}

function startPlay(d: SessionContext, now: number, bundle: TrackBundle, env: LogicEnv, fx: Effects): void {
  publishReplaced(d, fx);
  const pending = d.pendingStart!;
  d.pendingStart = null;
  const deviceId = d.activeDeviceId ?? pending.requester?.deviceId ?? '';
  const choice = bitrateFor(d, rungs(bundle), env);
  noteNetworkLimit(d, deviceId, choice, fx);
  const trackId = bundle.track.id;
  // The expiry a prefetch of this track signed with, while it is fresh: the same URLs.
  const expiresAt = expiryFor(d.urlExpiry[trackId], now, env.cfg);
  d.urlExpiry = { ...d.urlExpiry, [trackId]: expiresAt };
  const dur = bundle.track.durationMs;
  let play: CurrentPlay;
  if (pending.continuePlay && d.current && d.current.track.id === trackId) {
    // The same play goes on (a restored play resumed, or a transfer): same id, ms_played kept.
    const devices = d.current.devices ?? [d.current.deviceId];
    play = {
      ...d.current,
      deviceId,
      // Each device once (bounded however often the play moves back and forth).
      devices: devices.includes(deviceId) ? devices : [...devices, deviceId],
      bitrateKbps: choice.bitrateKbps,
      expiresAt,
    };
  } else {
    d.order = advance(d.order, pending.ref);
    d.playCounter += 1;
    play = {
      playId: makePlayId(d.userId, d.epoch, d.playCounter),
      ref: pending.ref.source === 'queue' ? { ...pending.ref, pos: -1 } : pending.ref,
      track: bundle.track,
      contextUri: d.order.contextUri,
      deviceId,
      devices: [deviceId],
      bitrateKbps: choice.bitrateKbps,
      expiresAt,
      msPlayed: 0,
      progressSent: false,
      fullPhase: false,
    };
    fx.event(listeningEvent('play.start', playFacts(d, play), now, 0));
  }
  d.current = play;
  decidePosition(d, seekAnchor(pending.positionMs, now, dur, pending.play));
  // After the 75 % prefetch the device holds this track's first chunks at the play bitrate.
  const firstKbps =
    d.fullPrefetched === trackId
      ? choice.bitrateKbps
      : firstChunkKbps(bundle, env.cfg.startBitrateKbps, choice.bitrateKbps);
  d.fullPrefetched = null;
  if (deviceId) sendPlayback(d, deviceId, bundle, firstKbps, false, env, fx);
  fx.ack(pending.requester);
  fx.changed = true;
  fx.replan = true;
  fx.forcePrefetch = true;
  d.fetchFailed = [];
  d.lastPrefetchKey = '';
  pruneBundles(d, now);
}

/** The `playback` of the current play, from its anchor, URLs signed with its expiry. */
export function sendPlayback(
  d: SessionContext,
  deviceId: string,
  bundle: TrackBundle,
  firstChunkKbps: number,
  renewal: boolean,
  env: LogicEnv,
  fx: Effects,
): void {
  const p = d.current!;
  fx.send(
    deviceId,
    buildPlayback(env.signFile, {
      playId: p.playId,
      bundle,
      bitrateKbps: p.bitrateKbps,
      firstChunkKbps,
      positionMs: d.position.positionMs,
      playing: d.position.playing,
      expiresAt: p.expiresAt,
      renewal,
    }),
  );
}

// ---- end --------------------------------------------------------------------------------

/** End the current play: play.end with its ms_played and reason. */
export function endPlay(d: SessionContext, now: number, reason: EndReason, env: LogicEnv, fx: Effects): void {
  if (!d.current) return;
  accrue(d, now, env, fx);
  const p = d.current;
  fx.event(listeningEvent('play.end', playFacts(d, p), now, p.msPlayed, reason));
  d.current = null;
  decidePosition(d, stoppedAnchor(now));
  fx.changed = true;
}

/**
 * The current track played to its end: play.end (trackdone), then what plays next, or
 * stop when nothing is left. From the device's `ended`, or from the watchdog.
 */
export function trackDone(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current;
  if (!p) return;
  const target = nextRef(d.order, p.ref, 'trackdone');
  endPlay(d, now, 'trackdone', env, fx);
  d.pendingStart = target
    ? { ref: target, positionMs: 0, play: true, requester: null, skips: 0, continuePlay: false }
    : null;
  fx.changed = true;
}

/**
 * A device's report on a play (`progress`, `ended` with a `play_id`) is refused, with
 * nothing changed, unless it names the current play and comes from the device it plays on:
 * `conflict/stale_play` for a play this session started that is over, or that a transfer
 * moved to another device; `not_found/unknown_play` for an id this session never started
 * (another session's, or a play lost with a restart), so the device starts again. A report
 * without a play id refuses nothing. Returns whether it refused.
 */
export function refuseReport(
  d: SessionContext,
  playId: string | undefined,
  r: Requester,
  fx: Effects,
): boolean {
  if (playId === undefined) return false;
  const p = d.current;
  if (p && p.playId === playId) {
    if (r.deviceId === d.activeDeviceId) return false;
    fx.error(r, 'conflict', `play ${playId} plays on device ${d.activeDeviceId ?? 'none'} now`, {
      reason: 'stale_play',
    });
  } else if (isPlayOfSession(playId, d.userId, d.epoch, d.playCounter)) {
    const now = p ? `; the current play is ${p.playId}` : '';
    fx.error(r, 'conflict', `play ${playId} is over${now}`, { reason: 'stale_play' });
  } else {
    fx.error(r, 'not_found', `play ${playId} is unknown to this session; start it again with play`, {
      reason: 'unknown_play',
    });
  }
  return true;
}

/**
 * Watchdog: when a playing track with no `ended` from its device is ended by the server,
 * `endWatchdogMs` past its end by the anchor (a device behind the wall clock is waited for).
 */
export const watchdogAt = (d: SessionContext, dur: number, env: LogicEnv): number =>
  endsAt(d, dur) + env.cfg.endWatchdogMs;

/**
 * Move the play to another device (a transfer, or a resume from another device while the
 * active one is gone): the same play continues there at its position, with its play id and
 * ms_played (no play.end, no new play.start; its events name the devices it ran on). A
 * start under way just changes device.
 */
export function movePlay(
  d: SessionContext,
  to: string,
  playWanted: boolean | undefined,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  // Folded while a lost device is still the active one: its gone time is not played.
  accrue(d, now, env, fx);
  d.activeDeviceId = to;
  d.activeLostAt = null;
  fx.changed = true;
  if (d.pendingStart) {
    if (playWanted !== undefined) setPendingPlay(d, playWanted, fx);
    return fx.ack(r);
  }
  const p = d.current;
  if (!p) return fx.ack(r);
  const play = playWanted ?? d.position.playing;
  const positionMs = d.position.positionMs;
  // The play goes on there: same play id, its ms_played kept (one listen across devices is
  // one play). Held still until its playback goes out to the new device.
  decidePosition(d, seekAnchor(positionMs, now, p.track.durationMs, false));
  d.pendingStart = { ref: p.ref, positionMs, play, requester: r, skips: 0, continuePlay: true };
}
