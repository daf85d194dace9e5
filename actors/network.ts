/**
 * The network against the quality setting: the bitrate a play or a prefetch gets
 * (quality, plan cap, the active device's measured bandwidth with headroom), and the
 * `warning` sent once when the network starts limiting it below the setting. Checked at
 * every start, and when the bandwidth (a `progress` report) or the quality changes.
 */

import { chooseBitrate, type BitrateChoice } from './bitrate.ts';
import { QUALITY_KBPS } from './config.ts';
import type { SessionContext } from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';

/** The bitrate for a track encoded at `available` rungs, under this session's setting and network. */
export const bitrateFor = (d: SessionContext, available: readonly number[], env: LogicEnv): BitrateChoice =>
  chooseBitrate({
    quality: d.quality,
    plan: d.plan,
    bandwidthKbps: d.bandwidthKbps,
    headroom: env.cfg.bandwidthHeadroom,
    available,
  });

/** A bandwidth the active device measured (0 is no measurement: the caller skips it). */
export function noteBandwidth(d: SessionContext, bandwidthKbps: number, env: LogicEnv, fx: Effects): void {
  d.bandwidthKbps = bandwidthKbps;
  checkNetwork(d, env, fx);
}

/** A bandwidth or quality change: warn when the network now limits the setting. */
export function checkNetwork(d: SessionContext, env: LogicEnv, fx: Effects): void {
  const choice = bitrateFor(
    d,
    [QUALITY_KBPS.low, QUALITY_KBPS.normal, QUALITY_KBPS.high, QUALITY_KBPS.very_high],
    env,
  );
  noteNetworkLimit(d, d.activeDeviceId, choice, fx);
}

/** Warn once when the network starts limiting the bitrate below the listener's setting. */
export function noteNetworkLimit(
  d: SessionContext,
  deviceId: string | null,
  choice: BitrateChoice,
  fx: Effects,
): void {
  const limited = choice.limitedByNetwork;
  if (limited && !d.networkLimited && deviceId) {
    const sustainableKbps = choice.sustainableKbps;
    fx.send(deviceId, {
      type: 'warning',
      code: 'bandwidth_below_quality',
      message: `the network sustains about ${Math.floor(sustainableKbps)} kbit/s, below the ${choice.targetKbps} kbit/s quality setting`,
      requestedKbps: choice.targetKbps,
      sustainableKbps: Math.floor(sustainableKbps),
    });
  }
  d.networkLimited = limited;
}
