/**
 * Command handlers: one pure function per command over a draft context. They validate,
 * change the context, and record outputs; they never pick the machine state themselves:
 * the machine derives it from the context (`desiredPlayback`) after each step.
 */

import { QUALITY_KBPS } from './config.ts';
import { chooseBitrate } from './bitrate.ts';
import { addToQueue, advance, nextRef, previousRef, rebaseRef, setRepeat, setShuffle } from './play-order.ts';
import { hashString } from './prng.ts';
import {
  findDevice,
  isConnected,
  nowRef,
  requesterOf,
  type DeferredCommand,
  type Requester,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import {
  endPlay,
  handBack,
  noteNetworkLimit,
  renewIfStale,
  seekTo,
  setPlaying,
  supersedePending,
  accrue,
  positionNow,
  trackDone,
} from './play-lifecycle.ts';
import type {
  DeviceView,
  HelloCommand,
  PlayCommand,
  Quality,
  RepeatMode,
  SessionCommand,
  TransferCommand,
} from './types.ts';

export const MAX_QUEUE = 500;
const QUALITIES = Object.keys(QUALITY_KBPS) as Quality[];
const REPEATS: RepeatMode[] = ['off', 'context', 'track'];

/**
 * Ids that would read or set an inherited member of the plain records keyed by track id
 * (bundles, URL expiries): refused like malformed ids. protocol/ refuses them on the wire
 * too; this keeps the actor safe whoever calls it.
 */
const RESERVED: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** `track:<id>` or a bare id; '' when not a track uri. */
export function trackIdOf(uri: unknown): string {
  if (typeof uri !== 'string') return '';
  const id = uri.startsWith('track:') ? uri.slice(6) : uri.includes(':') ? '' : uri;
  return id.length > 0 && id.length <= 200 && !RESERVED.has(id) ? id : '';
}

const validPosition = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

export const nextShuffleSeed = (d: SessionContext): number => {
  d.shuffleCounter += 1;
  return hashString(`${d.userId}:${d.epoch}:${d.shuffleCounter}`);
};

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
  dispatch(d, c, r, now, env, fx);
}

/** At most this many commands wait for a context to resolve; more get `conflict`. */
export const MAX_DEFERRED = 16;

/** Hold a command until the pending play's context resolved (answered when it is applied). */
function defer(d: SessionContext, c: DeferredCommand, r: Requester, fx: Effects): void {
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

function dispatch(
  d: SessionContext,
  c: Exclude<SessionCommand, HelloCommand | { type: 'disconnect' }>,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  // Behind a held command, pause and resume wait too: they apply to what it starts.
  if (
    (c.type === 'pause' || c.type === 'resume') &&
    d.pendingResolve &&
    d.pendingResolve.deferred.length > 0
  ) {
    return defer(d, c, r, fx);
  }
  switch (c.type) {
    case 'play':
      return play(d, c, r, now, env, fx);
    case 'pause':
      return pause(d, r, now, env, fx);
    case 'resume':
      return resume(d, r, now, env, fx);
    case 'seek': {
      if (!validPosition(c.positionMs)) return fx.error(r, 'bad_request', 'positionMs must be a number >= 0');
      if (d.pendingResolve) return defer(d, c, r, fx);
      if (d.pendingStart) d.pendingStart = { ...d.pendingStart, positionMs: c.positionMs };
      else if (d.current) seekTo(d, now, c.positionMs, env, fx);
      else return fx.error(r, 'conflict', 'nothing is playing');
      fx.changed = true;
      return fx.ack(r);
    }
    case 'next':
      if (d.pendingResolve) return defer(d, c, r, fx);
      return skip(d, r, now, env, fx);
    case 'previous':
      if (d.pendingResolve) return defer(d, c, r, fx);
      return previous(d, r, now, env, fx);
    case 'ended':
      return ended(d, c.playId, r, now, env, fx);
    case 'transfer':
      return transfer(d, c, r, now, env, fx);
    case 'shuffle': {
      if (typeof c.on !== 'boolean') return fx.error(r, 'bad_request', 'on must be a boolean');
      // Already so: no new order, so no shuffle seed is used up.
      if (c.on === d.order.shuffle) return fx.ack(r);
      const before = d.order;
      // Around what plays now: the track loading, if any, else the current one.
      d.order = setShuffle(d.order, c.on, nowRef(d), c.on ? nextShuffleSeed(d) : d.order.shuffleSeed);
      if (d.current) d.current = { ...d.current, ref: rebaseRef(before, d.order, d.current.ref)! };
      if (d.pendingStart)
        d.pendingStart = { ...d.pendingStart, ref: rebaseRef(before, d.order, d.pendingStart.ref)! };
      fx.changed = fx.replan = true;
      return fx.ack(r);
    }
    case 'repeat':
      if (!REPEATS.includes(c.mode))
        return fx.error(r, 'bad_request', `repeat mode must be one of ${REPEATS.join(', ')}`);
      if (c.mode === d.order.repeat) return fx.ack(r);
      d.order = setRepeat(d.order, c.mode);
      fx.changed = fx.replan = true;
      return fx.ack(r);
    case 'queue.add': {
      const trackId = trackIdOf(c.uri);
      if (!trackId) return fx.error(r, 'bad_request', 'uri must be a track uri');
      if (d.order.queue.length + d.pendingAdds.length >= MAX_QUEUE) {
        return fx.error(r, 'bad_request', `the queue holds at most ${MAX_QUEUE} tracks`);
      }
      const known = d.bundles[trackId];
      if (known === null) return fx.error(r, 'not_found', `track ${trackId} does not exist`, { trackId });
      if (known === undefined) {
        // Checked and loaded in the background (the fetcher region); answered when it lands.
        d.pendingAdds = [...d.pendingAdds, { trackId, requester: r }];
        return;
      }
      d.order = addToQueue(d.order, trackId);
      fx.changed = fx.replan = true;
      return fx.ack(r);
    }
    case 'quality': {
      if (!QUALITIES.includes(c.quality))
        return fx.error(r, 'bad_request', `quality must be one of ${QUALITIES.join(', ')}`);
      if (c.quality === d.quality) return fx.ack(r);
      d.quality = c.quality;
      checkNetwork(d, env, fx);
      fx.changed = fx.replan = true;
      return fx.ack(r);
    }
    case 'volume': {
      if (typeof c.volume !== 'number' || !(c.volume >= 0 && c.volume <= 100)) {
        return fx.error(r, 'bad_request', 'volume must be between 0 and 100');
      }
      const target = c.targetDeviceId ?? c.deviceId;
      const device = findDevice(d, target);
      if (!device)
        return fx.error(r, 'not_found', `device ${target} is unknown`, { reason: 'unknown_device' });
      if (device.volume === Math.round(c.volume)) return fx.ack(r);
      d.devices = d.devices.map((x) => (x.id === target ? { ...x, volume: Math.round(c.volume) } : x));
      fx.changed = true;
      return fx.ack(r);
    }
    case 'progress':
      return progress(d, c.deviceId, c.positionMs, c.playId, c.bandwidthKbps, r, now, env, fx);
    case 'logout':
      supersedePending(d, fx);
      endPlay(d, now, 'logout', env, fx);
      fx.changed = true;
      return fx.ack(r);
  }
}

function hello(d: SessionContext, c: HelloCommand, now: number, env: LogicEnv, fx: Effects): void {
  const known = findDevice(d, c.deviceId);
  const volume =
    typeof c.volume === 'number' && c.volume >= 0 && c.volume <= 100
      ? Math.round(c.volume)
      : (known?.volume ?? 100);
  const device = { id: c.deviceId, name: c.name, type: c.deviceType, volume, connected: true };
  d.devices = rememberDevice(d.devices, device, d.activeDeviceId, env.cfg.maxKnownDevices);
  if (c.plan === 'free' || c.plan === 'premium') d.plan = c.plan;
  if (typeof c.country === 'string' && c.country) d.country = c.country;
  const resumed = !!c.resume && c.resume.epoch === d.epoch && c.resume.version <= d.version;
  const active = c.deviceId === d.activeDeviceId;
  // Back without its player, the device played nothing while it was gone: folded before
  // it counts as back. A resumed one kept its player: the gap counts.
  if (active && !resumed) accrue(d, now, env, fx);
  if (active) d.activeLostAt = null;
  // A fresh (not resumed) connection starts a new request-id space: forget the device's
  // remembered ids, or its first commands would be taken for retries and acked unapplied.
  // A resumed connection keeps them, so a request re-sent after the drop is not applied twice.
  if (!resumed) {
    const prefix = `${c.deviceId}:`;
    d.recentRequests = d.recentRequests.filter((k) => !k.startsWith(prefix));
  }
  fx.welcomes.push(
    c.requestId === undefined
      ? { deviceId: c.deviceId, resumed }
      : { deviceId: c.deviceId, requestId: c.requestId, resumed },
  );
  fx.changed = true;
  if (active && !resumed) giveBack(d, now, env, fx);
}

/**
 * The device list after `device` said hello: most recently seen last, and at most `max`
 * long by forgetting the disconnected devices seen least recently, never the active one
 * (connected devices are bounded by their sockets).
 */
export function rememberDevice(
  devices: readonly DeviceView[],
  device: DeviceView,
  activeId: string | null,
  max: number,
): DeviceView[] {
  const out = devices.filter((x) => x.id !== device.id);
  out.push(device);
  let excess = out.length - max;
  if (excess <= 0) return out;
  const kept: DeviceView[] = [];
  for (const x of out) {
    if (excess > 0 && !x.connected && x.id !== activeId) excess--;
    else kept.push(x);
  }
  return kept;
}

/**
 * The active device back without its player gets the current play again, playing or
 * paused as it was; a restored play's bundle is loaded first (as resume does). A start or
 * a play under way sends its own playback.
 */
function giveBack(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  if (!d.current || d.pendingStart || d.pendingResolve) return;
  if (d.bundles[d.current.track.id] === undefined)
    return continueCurrent(d, d.position.playing, null, now, fx);
  handBack(d, now, env, fx);
}

/** The current play's bundle is not loaded (a restored session): load it, then the same play goes on. */
function continueCurrent(
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

function disconnect(d: SessionContext, deviceId: string, now: number, fx: Effects): void {
  const known = findDevice(d, deviceId);
  if (!known || !known.connected) return;
  d.devices = d.devices.map((x) => (x.id === deviceId ? { ...x, connected: false } : x));
  if (deviceId === d.activeDeviceId) d.activeLostAt = now;
  // Answers owed to the device can no longer arrive; its pending adds still happen.
  fx.changed = true;
}

/**
 * The device that plays: the active one while it is connected (the requester is then a
 * remote control, as in Spotify Connect), else the requester. The running play, if any,
 * ends when the new one starts.
 */
function claimActive(d: SessionContext, deviceId: string, now: number, env: LogicEnv, fx: Effects): void {
  if (d.activeDeviceId === deviceId || isConnected(d, d.activeDeviceId)) return;
  // Folded while the lost device is still the active one: its gone time is not played.
  accrue(d, now, env, fx);
  d.activeDeviceId = deviceId;
  d.activeLostAt = null;
  fx.changed = true;
}

function play(
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
    (typeof c.contextUri !== 'string' || !/^(playlist|album):[^\s]{1,200}$/.test(c.contextUri))
  ) {
    return fx.error(r, 'bad_request', 'contextUri must be playlist:<id> or album:<id>');
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
  claimActive(d, c.deviceId, now, env, fx);
  d.pendingResolve = {
    contextUri: c.contextUri ?? null,
    trackIds,
    startTrackId,
    startIndex: c.contextUri && startTrackId === null ? (index ?? null) : null,
    positionMs: c.positionMs ?? 0,
    play: c.paused !== true,
    requester: r,
    deferred: [],
  };
  // No state broadcast yet: the one that matters goes out with the playback.
}

function pause(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  setPendingPlay(d, false, fx);
  setPlaying(d, now, false, env, fx);
  fx.ack(r);
}

/** Play or pause what is about to start (a play resolving, a track loading); no change, no new version. */
function setPendingPlay(d: SessionContext, play: boolean, fx: Effects): void {
  if (d.pendingStart && d.pendingStart.play !== play) {
    d.pendingStart = { ...d.pendingStart, play };
    fx.changed = true;
  } else if (d.pendingResolve && d.pendingResolve.play !== play) {
    d.pendingResolve = { ...d.pendingResolve, play };
    fx.changed = true;
  }
}

function resume(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  if (d.pendingStart || d.pendingResolve) {
    setPendingPlay(d, true, fx);
    return fx.ack(r);
  }
  if (!d.current) return fx.error(r, 'conflict', 'nothing to resume');
  if (!isConnected(d, d.activeDeviceId) && d.activeDeviceId !== r.deviceId) {
    return transferTo(d, r.deviceId, true, r, now, env, fx);
  }
  // Never playing without a playback: a restored play's bundle is loaded first (answered then).
  if (d.bundles[d.current.track.id] === undefined) return continueCurrent(d, true, r, now, fx);
  setPlaying(d, now, true, env, fx);
  renewIfStale(d, now, env, fx);
  fx.ack(r);
}

function skip(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  const base = d.pendingStart?.ref ?? d.current?.ref ?? null;
  if (!base) return fx.error(r, 'conflict', 'nothing is playing');
  if (d.pendingStart) {
    // The pending track is skipped before it started: it leaves the queue / moves the cursor.
    d.order = advance(d.order, base);
    fx.ack(d.pendingStart.requester);
  }
  const target = nextRef(d.order, base, 'skip');
  endPlay(d, now, 'skip', env, fx);
  startTarget(d, target, 0, true, r, fx);
}

function previous(d: SessionContext, r: Requester, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current;
  if (!d.pendingStart && !p) return fx.error(r, 'conflict', 'nothing is playing');
  if (p && !d.pendingStart && positionNow(d, now) > env.cfg.previousRestartMs) {
    const ref = p.ref;
    endPlay(d, now, 'skip', env, fx);
    return startTarget(d, ref, 0, true, r, fx);
  }
  const base = d.pendingStart?.ref ?? p!.ref;
  if (d.pendingStart) fx.ack(d.pendingStart.requester);
  const target = previousRef(d.order, base) ?? base;
  endPlay(d, now, 'skip', env, fx);
  startTarget(d, target, 0, true, r, fx);
}

function ended(
  d: SessionContext,
  playId: string | undefined,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  const p = d.current;
  // Only the device that plays ends a play, and only the play it is playing.
  if (!p || r.deviceId !== d.activeDeviceId || (playId !== undefined && playId !== p.playId))
    return fx.ack(r);
  trackDone(d, now, env, fx);
  fx.ack(r);
}

/** Set the next start, or stop when there is nothing left. */
function startTarget(
  d: SessionContext,
  target: ReturnType<typeof nextRef>,
  positionMs: number,
  play: boolean,
  r: Requester | null,
  fx: Effects,
): void {
  d.pendingStart = target
    ? { ref: target, positionMs, play, requester: r, skips: 0, continuePlay: false }
    : null;
  if (!target) fx.ack(r);
  fx.changed = true;
}

function transfer(
  d: SessionContext,
  c: TransferCommand,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (typeof c.toDeviceId !== 'string' || !findDevice(d, c.toDeviceId)) {
    return fx.error(r, 'not_found', `device ${String(c.toDeviceId)} is unknown`, {
      reason: 'unknown_device',
    });
  }
  if (!isConnected(d, c.toDeviceId)) {
    return fx.error(r, 'conflict', `device ${c.toDeviceId} is not connected`, { reason: 'device_offline' });
  }
  if (c.play !== undefined && typeof c.play !== 'boolean')
    return fx.error(r, 'bad_request', 'play must be a boolean');
  if (d.pendingResolve) return defer(d, c, r, fx);
  transferTo(d, c.toDeviceId, c.play, r, now, env, fx);
}

/** Move playback, with its position, to another device: the play ends there and a new one starts here. */
function transferTo(
  d: SessionContext,
  to: string,
  playWanted: boolean | undefined,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (to === d.activeDeviceId) {
    // Nothing moves: play or pause here exactly as resume and pause do; no play wanted, no change.
    if (playWanted === undefined || (!d.current && !d.pendingStart)) return fx.ack(r);
    return playWanted ? resume(d, r, now, env, fx) : pause(d, r, now, env, fx);
  }
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
  endPlay(d, now, 'transfer', env, fx);
  d.pendingStart = { ref: p.ref, positionMs, play, requester: r, skips: 0, continuePlay: false };
}

function progress(
  d: SessionContext,
  deviceId: string,
  positionMs: number,
  playId: string | undefined,
  bandwidthKbps: number | undefined,
  r: Requester,
  now: number,
  env: LogicEnv,
  fx: Effects,
): void {
  if (
    bandwidthKbps !== undefined &&
    (typeof bandwidthKbps !== 'number' || !(bandwidthKbps >= 0) || !Number.isFinite(bandwidthKbps))
  ) {
    return fx.error(r, 'bad_request', 'bandwidthKbps must be a number >= 0');
  }
  if (!validPosition(positionMs)) return fx.error(r, 'bad_request', 'positionMs must be a number >= 0');
  // Only the device that plays reports on the play.
  if (deviceId !== d.activeDeviceId) return fx.ack(r);
  // 0 is "no measurement" (the protocol allows it): the position still applies.
  if (bandwidthKbps !== undefined && bandwidthKbps > 0) {
    d.bandwidthKbps = bandwidthKbps;
    checkNetwork(d, env, fx);
  }
  const p = d.current;
  if (p && !d.pendingStart && (playId === undefined || playId === p.playId))
    accrue(d, now, env, fx, positionMs);
  fx.ack(r);
}

/** A bandwidth or quality change: warn when the network now limits the setting. */
function checkNetwork(d: SessionContext, env: LogicEnv, fx: Effects): void {
  const choice = chooseBitrate({
    quality: d.quality,
    plan: d.plan,
    bandwidthKbps: d.bandwidthKbps,
    headroom: env.cfg.bandwidthHeadroom,
    available: [QUALITY_KBPS.low, QUALITY_KBPS.normal, QUALITY_KBPS.high, QUALITY_KBPS.very_high],
  });
  noteNetworkLimit(
    d,
    d.activeDeviceId,
    choice.limitedByNetwork,
    choice.targetKbps,
    choice.sustainableKbps,
    fx,
  );
}
