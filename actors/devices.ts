/**
 * Devices and transfer: `hello` (a device connects, or comes back), `disconnect` (its
 * socket closed), the active device lost and the grace period, the device that plays
 * (`claimActive`, `transfer`), and per-device `volume`.
 *
 * The active device plays; the others are remote controls (as in Spotify Connect). Lost
 * while playing, it is waited for `activeDeviceGraceMs` (nothing accrues meanwhile), then
 * the play pauses where it was lost. Back with a fresh hello (its app restarted, its
 * player empty) it is handed the current play again.
 */

import { handBack } from './url-renewal.ts';
import { continueCurrent, pause, resume } from './play-controls.ts';
import { holdForResolve, movePlay, trackDone } from './play-lifecycle.ts';
import { accrue, decidePosition, setPlaying } from './play-position.ts';
import { positionAt, seekAnchor } from './position.ts';
import { findDevice, isConnected, type Requester, type SessionContext } from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { DeviceView, HelloCommand, TransferCommand, VolumeCommand } from './types.ts';

export function hello(d: SessionContext, c: HelloCommand, now: number, env: LogicEnv, fx: Effects): void {
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
  if (active && d.restoredPlaying) return playOnRestored(d, resumed, now, env, fx);
  if (active && !resumed) giveBack(d, now, env, fx);
}

/**
 * The active device is back on a session restored from a snapshot while its play was
 * playing (`restoredPlaying`): the same play goes on (same play id, no new play.start), at
 * the position it has reached since by wall time (the device played on from its URLs while
 * the server was away), or, past the track's end, the next track starts as after any end.
 * Not when the device is back more than `activeDeviceGraceMs` after that end (nothing was
 * heard that long, as for a lost device): it stays paused where it was saved.
 * ms_played: a device back with its player (a resumed hello) played the gap, which counts
 * (up to the track's end); one back without it (a fresh hello) played nothing since the
 * save, so the position moves on and ms_played does not. The bundle is loaded first, so
 * the rights are checked again (a track refused now is passed over with `track_skipped`).
 */
function playOnRestored(d: SessionContext, resumed: boolean, now: number, env: LogicEnv, fx: Effects): void {
  const saved = d.restoredPlaying!;
  d.restoredPlaying = null;
  const p = d.current;
  if (!p || d.pendingStart || d.pendingResolve) return;
  const dur = p.track.durationMs;
  if (now > saved.at + Math.max(0, dur - saved.positionMs) + env.cfg.activeDeviceGraceMs) {
    if (!resumed) giveBack(d, now, env, fx);
    return;
  }
  const from = { positionMs: saved.positionMs, at: saved.at, playing: true };
  if (resumed) {
    decidePosition(d, from);
    accrue(d, now, env, fx);
  }
  const positionMs = positionAt(from, now, dur);
  if (positionMs >= dur) return trackDone(d, now, env, fx);
  decidePosition(d, seekAnchor(positionMs, now, dur, false));
  continueCurrent(d, true, null, now, fx);
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

export function disconnect(d: SessionContext, deviceId: string, now: number, fx: Effects): void {
  const known = findDevice(d, deviceId);
  if (!known || !known.connected) return;
  d.devices = d.devices.map((x) => (x.id === deviceId ? { ...x, connected: false } : x));
  if (deviceId === d.activeDeviceId) d.activeLostAt = now;
  // Answers owed to the device can no longer arrive; its pending adds still happen.
  fx.changed = true;
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

/**
 * The device that plays: the active one while it is connected (the requester is then a
 * remote control, as in Spotify Connect), else the requester. The running play, if any,
 * ends when the new one starts. Returns whether the requester took it. `announce` false:
 * no new version for it (a `play` announces it with its playback, or puts it back).
 */
export function claimActive(
  d: SessionContext,
  deviceId: string,
  now: number,
  env: LogicEnv,
  fx: Effects,
  announce = true,
): boolean {
  if (d.activeDeviceId === deviceId || isConnected(d, d.activeDeviceId)) return false;
  // Folded while the lost device is still the active one: its gone time is not played.
  accrue(d, now, env, fx);
  d.activeDeviceId = deviceId;
  d.activeLostAt = null;
  if (announce) fx.changed = true;
  return true;
}

/**
 * Move playback, with its position, to another connected device (the play ends there and
 * a new one starts here, see `movePlay`). To the active device it is a `resume` or a
 * `pause` (`play`), nothing without `play`: never playing without a loaded bundle.
 */
export function transfer(
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
  if (d.pendingResolve) return holdForResolve(d, c, r, fx);
  if (c.toDeviceId === d.activeDeviceId) {
    // Nothing moves: play or pause here exactly as resume and pause do; no play wanted, no change.
    if (c.play === undefined || (!d.current && !d.pendingStart)) return fx.ack(r);
    return c.play ? resume(d, r, now, env, fx) : pause(d, r, now, env, fx);
  }
  movePlay(d, c.toDeviceId, c.play, r, now, env, fx);
}

export function volume(d: SessionContext, c: VolumeCommand, r: Requester, fx: Effects): void {
  if (typeof c.volume !== 'number' || !(c.volume >= 0 && c.volume <= 100)) {
    return fx.error(r, 'bad_request', 'volume must be between 0 and 100');
  }
  const target = c.targetDeviceId ?? c.deviceId;
  const device = findDevice(d, target);
  if (!device) return fx.error(r, 'not_found', `device ${target} is unknown`, { reason: 'unknown_device' });
  if (device.volume === Math.round(c.volume)) return fx.ack(r);
  d.devices = d.devices.map((x) => (x.id === target ? { ...x, volume: Math.round(c.volume) } : x));
  fx.changed = true;
  fx.ack(r);
}
