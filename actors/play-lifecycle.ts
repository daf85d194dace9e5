/**
 * The life of a play, as pure steps over a draft context: start (entitlement, bitrate,
 * playback output, play.start), accrue played time (play.progress once past the
 * threshold), end (play.end with a reason), renew URLs, and prefetch planning.
 *
 * Every function takes a draft (a shallow copy of the context the caller owns) and an
 * Effects collector; nested values are replaced, never mutated.
 */

import { chooseBitrate } from './bitrate.ts';
import { checkEntitlement, FORBIDDEN_MESSAGES } from './entitlement.ts';
import { listeningEvent, makePlayId, type PlayFacts } from './listening-events.ts';
import { buildPlayback, buildPrefetchItem, expiryFor, firstChunkKbps, rungs } from './playback-output.ts';
import { advance, nextRef, previousRef, upcoming, type TrackRef } from './play-order.ts';
import { planPrefetch, fullPhaseDelay, type PrefetchPhase } from './prefetch-planner.ts';
import {
  playedSince,
  positionAt,
  reanchor,
  reportedPosition,
  seekAnchor,
  stoppedAnchor,
} from './position.ts';
import {
  heardUntil,
  isConnected,
  nowRef,
  requesterOf,
  type CurrentPlay,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { EndReason, PositionAnchor, PrefetchItem, TrackBundle } from './types.ts';

/** Skipping blocked tracks stops after this many in a row (an all-blocked context ends). */
export const MAX_BLOCKED_SKIPS = 50;

const facts = (d: SessionContext, p: CurrentPlay): PlayFacts => ({
  playId: p.playId,
  userId: d.userId,
  trackId: p.track.id,
  artistId: p.track.artistId,
  contextUri: p.contextUri,
  country: d.country,
  plan: d.plan,
  deviceId: p.deviceId,
});

/** When a playing track reaches its end by the anchor (wall time at the anchor's pace). */
const endsAt = (d: SessionContext, dur: number): number =>
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
  if (progress) fx.event(listeningEvent('play.progress', facts(d, d.current), now, after));
}

/** End the current play: play.end with its ms_played and reason. */
export function endPlay(d: SessionContext, now: number, reason: EndReason, env: LogicEnv, fx: Effects): void {
  if (!d.current) return;
  accrue(d, now, env, fx);
  const p = d.current;
  fx.event(listeningEvent('play.end', facts(d, p), now, p.msPlayed, reason));
  d.current = null;
  decidePosition(d, stoppedAnchor(now));
  fx.changed = true;
}

/** A position the server decides: reports are capped by wall time from here on. */
function decidePosition(d: SessionContext, anchor: PositionAnchor): void {
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

/** Answer a pending start that a newer command replaces: it was accepted, then overtaken. */
export function supersedePending(d: SessionContext, fx: Effects): void {
  if (d.pendingStart) fx.ack(d.pendingStart.requester);
  if (d.pendingResolve) {
    fx.ack(d.pendingResolve.requester);
    // Commands held for the overtaken play were accepted, then overtaken with it.
    for (const c of d.pendingResolve.deferred) fx.ack(requesterOf(c));
  }
  d.pendingStart = null;
  d.pendingResolve = null;
}

/**
 * Settle the pending start once its bundle is known: start it, or refuse it (error to the
 * requester) and move on to the next track when it came from a context, queue or autoplay.
 */
export function settleStart(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const pending = d.pendingStart;
  if (!pending) return;
  const bundle = d.bundles[pending.ref.trackId];
  if (bundle === undefined) return;
  // An automatic start (track end, a skip past a refused track) has no requester: the
  // active device is told, with no requestId, so it can say why the track was passed over.
  const told = pending.requester ?? (d.activeDeviceId ? { deviceId: d.activeDeviceId } : null);
  if (bundle === null) {
    fx.error(told, 'not_found', `track ${pending.ref.trackId} does not exist`, {
      trackId: pending.ref.trackId,
    });
    skipBlocked(d, pending.ref, fx);
    return;
  }
  const verdict = checkEntitlement(bundle, d, now);
  if (!verdict.ok) {
    fx.error(told, 'forbidden', FORBIDDEN_MESSAGES[verdict.reason], {
      reason: verdict.reason,
      trackId: pending.ref.trackId,
    });
    skipBlocked(d, pending.ref, fx);
    return;
  }
  startPlay(d, now, bundle, env, fx);
}

/** Refused track: go on with the one after it (greyed-out tracks are skipped), or stop. */
function skipBlocked(d: SessionContext, ref: TrackRef, fx: Effects): void {
  const pending = d.pendingStart!;
  d.order = advance(d.order, ref);
  const next = pending.skips < MAX_BLOCKED_SKIPS ? nextRef(d.order, ref, 'skip') : null;
  d.pendingStart =
    next && !(next.source === ref.source && next.pos === ref.pos && next.trackId === ref.trackId)
      ? {
          ...pending,
          ref: next,
          positionMs: 0,
          requester: null,
          skips: pending.skips + 1,
          continuePlay: false,
        }
      : null;
  fx.changed = true;
}

function startPlay(d: SessionContext, now: number, bundle: TrackBundle, env: LogicEnv, fx: Effects): void {
  const pending = d.pendingStart!;
  d.pendingStart = null;
  const deviceId = d.activeDeviceId ?? pending.requester?.deviceId ?? '';
  const choice = chooseBitrate({
    quality: d.quality,
    plan: d.plan,
    bandwidthKbps: d.bandwidthKbps,
    headroom: env.cfg.bandwidthHeadroom,
    available: rungs(bundle),
  });
  noteNetworkLimit(d, deviceId, choice.limitedByNetwork, choice.targetKbps, choice.sustainableKbps, fx);
  const trackId = bundle.track.id;
  const expiresAt = expiryFor(d.urlExpiry[trackId], now, env.cfg);
  d.urlExpiry = { ...d.urlExpiry, [trackId]: expiresAt };
  const dur = bundle.track.durationMs;
  let play: CurrentPlay;
  if (pending.continuePlay && d.current && d.current.track.id === trackId) {
    play = { ...d.current, deviceId, bitrateKbps: choice.bitrateKbps, expiresAt };
  } else {
    d.order = advance(d.order, pending.ref);
    d.playCounter += 1;
    play = {
      playId: makePlayId(d.userId, d.epoch, d.playCounter),
      ref: pending.ref.source === 'queue' ? { ...pending.ref, pos: -1 } : pending.ref,
      track: bundle.track,
      contextUri: d.order.contextUri,
      deviceId,
      bitrateKbps: choice.bitrateKbps,
      expiresAt,
      msPlayed: 0,
      progressSent: false,
      fullPhase: false,
    };
    fx.event(listeningEvent('play.start', facts(d, play), now, 0));
  }
  d.current = play;
  decidePosition(d, seekAnchor(pending.positionMs, now, dur, pending.play));
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
  pruneBundles(d);
}

/** Warn once when the network starts limiting the bitrate below the listener's setting. */
export function noteNetworkLimit(
  d: SessionContext,
  deviceId: string | null,
  limited: boolean,
  targetKbps: number,
  sustainableKbps: number,
  fx: Effects,
): void {
  if (limited && !d.networkLimited && deviceId) {
    fx.send(deviceId, {
      type: 'warning',
      code: 'bandwidth_below_quality',
      message: `the network sustains about ${Math.floor(sustainableKbps)} kbit/s, below the ${targetKbps} kbit/s quality setting`,
      requestedKbps: targetKbps,
      sustainableKbps: Math.floor(sustainableKbps),
    });
  }
  d.networkLimited = limited;
}

/** Keep only the bundles and expiries of tracks that are current, pending, upcoming or being added. */
export function pruneBundles(d: SessionContext): void {
  const keep = new Set<string>();
  if (d.current) keep.add(d.current.track.id);
  if (d.pendingStart) keep.add(d.pendingStart.ref.trackId);
  const ref = nowRef(d);
  if (ref) {
    for (const r of upcoming(d.order, ref, 2)) keep.add(r.trackId);
    // The track before stays too, so `previous` starts without a load.
    const before = previousRef(d.order, ref);
    if (before) keep.add(before.trackId);
  }
  for (const a of d.pendingAdds) keep.add(a.trackId);
  const bundles: Record<string, TrackBundle | null> = {};
  const urlExpiry: Record<string, number> = {};
  for (const id of keep) {
    const b = d.bundles[id];
    if (b !== undefined) bundles[id] = b;
    const e = d.urlExpiry[id];
    if (e !== undefined) urlExpiry[id] = e;
  }
  d.bundles = bundles;
  d.urlExpiry = urlExpiry;
}

/** Upcoming tracks without a loaded bundle (and not known to have failed). */
export function missingUpcoming(d: SessionContext, env: LogicEnv): string[] {
  const ref = nowRef(d);
  if (!ref) return [];
  const out: string[] = [];
  for (const r of upcoming(d.order, ref, env.cfg.prefetchAhead)) {
    if (
      d.bundles[r.trackId] === undefined &&
      !d.fetchFailed.includes(r.trackId) &&
      !out.includes(r.trackId)
    ) {
      out.push(r.trackId);
    }
  }
  return out;
}

/**
 * The plays a prefetch may name, in order, and its phase. With repeat track the next play
 * is the current track, already loaded: only what a `next` would play is named, by its
 * first chunk (no 75 % prefetch), so a skip stays instant.
 */
function prefetchPlays(
  d: SessionContext,
  p: CurrentPlay,
  env: LogicEnv,
): { ids: string[]; phase: PrefetchPhase } {
  if (d.order.repeat === 'track')
    return {
      ids: upcoming(d.order, p.ref, 2)
        .slice(1)
        .map((r) => r.trackId),
      phase: 'start',
    };
  return {
    ids: upcoming(d.order, p.ref, env.cfg.prefetchAhead).map((r) => r.trackId),
    phase: p.fullPhase ? 'full' : 'start',
  };
}

/** Build the prefetch for the active device; send it if it differs from the last one (or forced). */
export function sendPrefetch(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current;
  const deviceId = d.activeDeviceId;
  if (!p || !deviceId || d.pendingStart) return;
  const { ids, phase } = prefetchPlays(d, p, env);
  const plan = planPrefetch(ids, phase, {
    ahead: env.cfg.prefetchAhead,
    fullChunks: env.cfg.prefetchFullChunks,
    currentTrackId: p.track.id,
  });
  const items: PrefetchItem[] = [];
  let key = '';
  let urlExpiry = d.urlExpiry;
  for (const entry of plan) {
    const bundle = d.bundles[entry.trackId];
    if (!bundle) continue;
    const choice = chooseBitrate({
      quality: d.quality,
      plan: d.plan,
      bandwidthKbps: d.bandwidthKbps,
      headroom: env.cfg.bandwidthHeadroom,
      available: rungs(bundle),
    });
    const kbps =
      entry.kind === 'full'
        ? choice.bitrateKbps
        : firstChunkKbps(bundle, env.cfg.startBitrateKbps, choice.bitrateKbps);
    const exp = expiryFor(urlExpiry[entry.trackId], now, env.cfg);
    if (urlExpiry[entry.trackId] !== exp) urlExpiry = { ...urlExpiry, [entry.trackId]: exp };
    items.push(buildPrefetchItem(env.sign, bundle, kbps, entry.chunkCount, exp));
    key += `${entry.trackId}/${entry.kind}/${kbps}/${exp};`;
    if (entry.kind === 'full') d.fullPrefetched = entry.trackId;
  }
  d.urlExpiry = urlExpiry;
  if (!fx.forcePrefetch && key === d.lastPrefetchKey) return;
  d.lastPrefetchKey = key;
  // A playback with nothing ahead needs no prefetch; a change to "nothing ahead" is still told.
  if (items.length === 0 && fx.forcePrefetch) return;
  fx.send(deviceId, { type: 'prefetch', items });
}

/**
 * Delay of the next timer check while playing: royalty threshold, 75 % point, URL renewal,
 * end-of-track watchdog.
 */
export function tickDelay(d: SessionContext, now: number, env: LogicEnv): number {
  const p = d.current;
  if (!p || !d.position.playing) return MAX_TICK_MS;
  const dur = p.track.durationMs;
  const pos = positionAt(d.position, now, dur);
  let delay = Math.min(p.expiresAt - env.cfg.urlRenewLeadMs, endsAt(d, dur) + env.cfg.endWatchdogMs) - now;
  if (!p.progressSent) {
    const left = env.cfg.progressThresholdMs - msPlayedAt(d, now);
    if (left <= dur - pos) delay = Math.min(delay, left);
  }
  if (!p.fullPhase) delay = Math.min(delay, fullPhaseDelay(pos, dur, env.cfg.prefetchFullAt));
  return Math.min(MAX_TICK_MS, Math.max(1, Math.ceil(delay)));
}

/** setTimeout overflows past 2^31-1 ms; an hour is plenty between checks. */
export const MAX_TICK_MS = 3_600_000;

/** Timer check while playing. */
export function tick(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current;
  if (!p || !d.position.playing) return;
  // The device is lost (grace period): nothing is heard; the machine holds the timer then
  // (`playing.held`, same test), so this is only a guard.
  if (d.activeLostAt !== null) return;
  const dur = p.track.durationMs;
  // Measured before `accrue` re-anchors at the clamped end (which would move it to now).
  if (now >= endsAt(d, dur) + env.cfg.endWatchdogMs) return trackDone(d, now, env, fx);
  accrue(d, now, env, fx);
  if (!d.current!.fullPhase && positionAt(d.position, now, dur) >= Math.ceil(dur * env.cfg.prefetchFullAt)) {
    d.current = { ...d.current!, fullPhase: true };
    fx.replan = true;
  }
  if (d.current!.expiresAt - env.cfg.urlRenewLeadMs <= now) renew(d, now, env, fx);
}

/**
 * Renew the URLs of the running play before they expire, re-checking the rights (a
 * release window may have closed): blocked ends the play and moves on.
 */
export function renew(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  resign(d, now, env, fx, true);
}

/**
 * The active device is back without its player (a fresh hello: the app restarted): the
 * current play's playback again, at the position of now, playing or paused as it was,
 * URLs signed afresh as for a renewal, and the prefetch.
 */
export function handBack(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  resign(d, now, env, fx, false);
}

/**
 * Sign the current play's URLs afresh and send its playback, after re-checking its rights.
 * `renewal`: the device plays it already and only swaps the URLs; else it starts it, from
 * a first chunk at the start bitrate.
 */
function resign(d: SessionContext, now: number, env: LogicEnv, fx: Effects, renewal: boolean): void {
  const p = d.current;
  if (!p) return;
  const bundle = d.bundles[p.track.id];
  const deviceId = d.activeDeviceId;
  if (!bundle || !deviceId) return;
  const verdict = checkEntitlement(bundle, d, now);
  if (!verdict.ok) {
    const ref = p.ref;
    const play = d.position.playing;
    endPlay(d, now, 'blocked', env, fx);
    fx.error({ deviceId }, 'forbidden', FORBIDDEN_MESSAGES[verdict.reason], {
      reason: verdict.reason,
      trackId: p.track.id,
    });
    const next = nextRef(d.order, ref, 'skip');
    if (next)
      d.pendingStart = { ref: next, positionMs: 0, play, requester: null, skips: 0, continuePlay: false };
    return;
  }
  const expiresAt = expiryFor(undefined, now, env.cfg);
  d.urlExpiry = { ...d.urlExpiry, [p.track.id]: expiresAt };
  d.current = { ...p, expiresAt };
  accrue(d, now, env, fx); // re-anchors at now, so the playback names the position of now
  const firstKbps = renewal ? p.bitrateKbps : firstChunkKbps(bundle, env.cfg.startBitrateKbps, p.bitrateKbps);
  sendPlayback(d, deviceId, bundle, firstKbps, renewal, env, fx);
  if (!renewal) fx.replan = fx.forcePrefetch = true;
}

/** The `playback` of the current play, from its anchor, URLs signed with its expiry. */
function sendPlayback(
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
    buildPlayback(env.sign, {
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

/** On resume: renew first if the URLs the device holds are about to expire. */
export function renewIfStale(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  if (d.current && d.current.expiresAt - env.cfg.urlRenewLeadMs <= now) renew(d, now, env, fx);
}

/** Active device still away when the grace period ends: pause where it was lost (see `heardUntil`). */
export function graceExpired(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  if (isConnected(d, d.activeDeviceId)) return;
  setPlaying(d, now, false, env, fx);
  if (d.pendingStart?.play) {
    d.pendingStart = { ...d.pendingStart, play: false };
    fx.changed = true;
  }
}
