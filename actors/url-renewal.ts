/**
 * Signed URLs of the running play, signed afresh: before they expire (`urlRenewLeadMs`
 * ahead, by the timer or on `resume`), and when the active device comes back without its
 * player (a fresh hello: the app restarted). Each re-checks the rights first: a release
 * window may have closed, and a blocked track ends (`blocked`) and the next one starts.
 *
 * URL identity: each track keeps the expiry it was first signed with (`urlExpiry`, shared
 * with prefetch) so a prefetched URL equals the later playback's; a renewal signs anew.
 */

import { checkEntitlement } from './entitlement.ts';
import { endPlay, sendPlayback, warnSkipped } from './play-lifecycle.ts';
import { accrue } from './play-position.ts';
import { expiryFor, firstChunkKbps } from './playback-output.ts';
import { nextRef } from './play-order.ts';
import type { CurrentPlay, SessionContext } from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';

/** When the current play's URLs are renewed. */
export const renewAt = (p: CurrentPlay, env: LogicEnv): number => p.expiresAt - env.cfg.urlRenewLeadMs;

/**
 * Renew the URLs of the running play before they expire: a `playback` with
 * `renewal: true` (the device swaps the URLs, it does not restart).
 */
export function renew(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  resign(d, now, env, fx, true);
}

/** On resume: renew first if the URLs the device holds are about to expire. */
export function renewIfStale(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  if (d.current && renewAt(d.current, env) <= now) renew(d, now, env, fx);
}

/**
 * The active device is back without its player: the current play's playback again, at
 * the position of now, playing or paused as it was, URLs signed afresh as for a renewal,
 * and the prefetch.
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
    warnSkipped(d, deviceId, p.track.id, verdict.reason, fx);
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
