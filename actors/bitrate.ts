/**
 * Bitrate policy: the bitrate of a play is the lowest of the quality setting, the plan's
 * cap and what the measured bandwidth sustains with headroom, rounded down to an encoded
 * rung. It is chosen once per play (never changes inside a track). When the network is
 * what limits it, the caller warns the listener instead of dropping quality silently.
 */

import { PLAN_CAP_KBPS, QUALITY_KBPS } from './config.ts';
import type { Plan, Quality } from './types.ts';

export interface BitrateInput {
  quality: Quality;
  plan: Plan;
  /** Last measured throughput of the active device, kbit/s; null when unknown. */
  bandwidthKbps: number | null;
  /** bandwidth / headroom is what can be sustained. */
  headroom: number;
  /** Encoded rungs of the track. */
  available: readonly number[];
}

export interface BitrateChoice {
  bitrateKbps: number;
  /** min(quality, plan cap): what the listener is entitled to and asked for. */
  targetKbps: number;
  /** What the network sustains; Infinity when unmeasured. */
  sustainableKbps: number;
  /** true when the network, not the setting or plan, lowered the bitrate. */
  limitedByNetwork: boolean;
}

export function targetKbps(quality: Quality, plan: Plan): number {
  return Math.min(QUALITY_KBPS[quality], PLAN_CAP_KBPS[plan]);
}

export function sustainableKbps(bandwidthKbps: number | null, headroom: number): number {
  return bandwidthKbps === null || !(bandwidthKbps > 0) ? Infinity : bandwidthKbps / headroom;
}

/** Highest rung <= limit, else the lowest rung (something must play). */
export function pickRung(available: readonly number[], limit: number): number {
  let best = -1;
  let lowest = Infinity;
  for (const r of available) {
    if (r <= limit && r > best) best = r;
    if (r < lowest) lowest = r;
  }
  return best >= 0 ? best : lowest;
}

export function chooseBitrate(input: BitrateInput): BitrateChoice {
  const target = targetKbps(input.quality, input.plan);
  const sustainable = sustainableKbps(input.bandwidthKbps, input.headroom);
  return {
    bitrateKbps: pickRung(input.available, Math.min(target, sustainable)),
    targetKbps: target,
    sustainableKbps: sustainable,
    limitedByNetwork: sustainable < target,
  };
}

/** The first chunk plays at the low start bitrate, never above the chosen one. */
export function startBitrate(available: readonly number[], startKbps: number, chosenKbps: number): number {
  return pickRung(available, Math.min(startKbps, chosenKbps));
}
