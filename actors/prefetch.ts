/**
 * What lies ahead of the current play:
 * - the bundle cache: bundles of the current, pending, next two and previous tracks kept
 *   in the context (pruned on every start), so a skip or `previous` starts with no load;
 * - the background fetcher's batch (upcoming tracks, queue adds) and its results;
 * - the `prefetch` output to the active device: the next two plays by their first chunk,
 *   at the start bitrate, then from the 75 % point (`fullPhase`) the next one's first
 *   chunks at its play bitrate; sent when it differs from the last one.
 */

import { buildPrefetchItem, expiryFor, firstChunkKbps, rungs } from './playback-output.ts';
import { previousRef, type TrackRef } from './play-order.ts';
import { fullPhaseDelay, planPrefetch, type PrefetchPhase } from './prefetch-planner.ts';
import { positionAt } from './position.ts';
import { bitrateFor } from './network.ts';
import { settleAdds } from './queue-options.ts';
import {
  nowRef,
  playability,
  previewIds,
  upcomingIds,
  upcomingRefs,
  type CurrentPlay,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type { LoadTracksResult, PrefetchItem, TrackBundle } from './types.ts';

// ---- the bundle cache ----------------------------------------------------------------

/** Keep the bundles a load returned (null: the track does not exist), then prune. */
export function storeBundles(
  d: SessionContext,
  result: LoadTracksResult,
  ids: readonly string[],
  now: number,
): void {
  const bundles = { ...d.bundles };
  for (const id of ids) {
    const b = result[id];
    bundles[id] = b && b.track && b.track.id === id ? b : null;
  }
  d.bundles = bundles;
  // Queue adds in flight are kept by the prune until they are answered.
  pruneBundles(d, now);
}

/** Keep only the bundles and expiries of tracks that are current, pending, upcoming or being added. */
export function pruneBundles(d: SessionContext, now: number): void {
  const keep = keptIds(d, now);
  // A play's start may be refused: what it replaces is put back with its bundles and URLs.
  const replaced = d.pendingStart?.replaced;
  if (replaced) {
    const back = { ...d, current: replaced.current, order: replaced.order, position: replaced.position };
    for (const id of keptIds({ ...back, pendingStart: null }, now)) keep.add(id);
  }
  const bundles: Record<string, TrackBundle | null> = {};
  const urlExpiry: Record<string, number> = {};
  let bundleCount = 0;
  let expiryCount = 0;
  for (const id of keep) {
    const b = d.bundles[id];
    if (b !== undefined) {
      bundles[id] = b;
      bundleCount++;
    }
    const e = d.urlExpiry[id];
    if (e !== undefined) {
      urlExpiry[id] = e;
      expiryCount++;
    }
  }
  // Nothing pruned: the same objects stay, so the walks of this step see the same bundles.
  if (bundleCount !== countKeys(d.bundles)) d.bundles = bundles;
  if (expiryCount !== countKeys(d.urlExpiry)) d.urlExpiry = urlExpiry;
}

function countKeys(record: object): number {
  let n = 0;
  for (const _ in record) n++;
  return n;
}

function keptIds(d: SessionContext, now: number): Set<string> {
  const keep = new Set<string>();
  if (d.current) keep.add(d.current.track.id);
  if (d.pendingStart) keep.add(d.pendingStart.ref.trackId);
  const ref = nowRef(d);
  if (ref) {
    // The tracks passed over stay known, or the walk would stop at them and load them again.
    const passed: TrackRef[] = [];
    for (const r of upcomingRefs(d, 2, now, passed)) keep.add(r.trackId);
    for (const r of passed) keep.add(r.trackId);
    // The track before stays too, so `previous` starts without a load.
    const before = previousRef(d.order, ref);
    if (before) keep.add(before.trackId);
  }
  for (const a of d.pendingAdds) keep.add(a.trackId);
  if (d.heldSkip) for (const id of [d.heldSkip.trackId, ...d.heldSkip.passed]) keep.add(id);
  return keep;
}

// ---- the background fetcher -------------------------------------------------------------

/**
 * Upcoming tracks without a loaded bundle (and not known to have failed), past the ones
 * known unplayable: a blocked track's load is followed by the load of the one after it.
 */
export function missingUpcoming(d: SessionContext, env: LogicEnv, now: number): string[] {
  const out: string[] = [];
  for (const r of upcomingRefs(d, env.cfg.prefetchAhead, now)) {
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

/** Ids the background fetcher should load now: pending queue adds and upcoming tracks. */
export function aheadIds(d: SessionContext, env: LogicEnv, now: number): string[] {
  // While the pending track loads, its batch already carries what follows it.
  const targetLoading = d.pendingStart !== null && d.bundles[d.pendingStart.ref.trackId] === undefined;
  const ids = targetLoading ? [] : missingUpcoming(d, env, now);
  for (const a of d.pendingAdds) if (!ids.includes(a.trackId)) ids.push(a.trackId);
  // The track a held skip waits for (the one before, for `previous`, is no upcoming track).
  const held = d.heldSkip?.trackId;
  if (held && d.bundles[held] === undefined && !d.fetchFailed.includes(held) && !ids.includes(held))
    ids.push(held);
  return ids;
}

/** Upcoming bundles and queue adds from cache, when the fetcher is not already loading them. */
export function loadAheadFromCache(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const peek = env.peek;
  if (!peek || d.aheadLoading) return;
  // A blocked track found in the cache lets the walk reach the one after it: peek again.
  for (let i = 0; i <= env.cfg.prefetchAhead; i++) {
    const ids = aheadIds(d, env, now);
    if (ids.length === 0) return;
    const result = peek({ trackIds: ids, country: d.country });
    if (!result) return;
    aheadLoaded(d, result, ids, now, fx);
  }
}

export function aheadLoaded(
  d: SessionContext,
  result: LoadTracksResult,
  ids: readonly string[],
  now: number,
  fx: Effects,
): void {
  // The preview grows by the tracks found playable (past those found not): the state says so.
  const before = previewIds(d, now).join(',');
  storeBundles(d, result, ids, now);
  if (previewIds(d, now).join(',') !== before) fx.changed = true;
  settleAdds(d, fx, (trackId) => playability(d, trackId, now));
  fx.replan = true;
}

export function aheadLoadFailed(d: SessionContext, ids: readonly string[], fx: Effects): void {
  d.fetchFailed = [...d.fetchFailed, ...ids.filter((id) => !d.fetchFailed.includes(id))];
  settleAdds(d, fx, (trackId) => (ids.includes(trackId) ? 'failed' : 'unknown'));
}

// ---- the prefetch output ------------------------------------------------------------------

/** Time until the 75 % point of the current play (Infinity once it was reached). */
export function fullPhaseDelayOf(p: CurrentPlay, positionMs: number, env: LogicEnv): number {
  return p.fullPhase ? Infinity : fullPhaseDelay(positionMs, p.track.durationMs, env.cfg.prefetchFullAt);
}

/** Past the 75 % point: the next track's first chunks go out at its play bitrate. */
export function enterFullPhase(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current!;
  const dur = p.track.durationMs;
  if (!p.fullPhase && positionAt(d.position, now, dur) >= Math.ceil(dur * env.cfg.prefetchFullAt)) {
    d.current = { ...p, fullPhase: true };
    fx.replan = true;
  }
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
  now: number,
): { ids: string[]; phase: PrefetchPhase } {
  if (d.order.repeat === 'track') return { ids: upcomingIds(d, 2, now).slice(1), phase: 'start' };
  return {
    ids: upcomingIds(d, env.cfg.prefetchAhead, now),
    phase: p.fullPhase ? 'full' : 'start',
  };
}

/** Build the prefetch for the active device; send it if it differs from the last one (or forced). */
export function sendPrefetch(d: SessionContext, now: number, env: LogicEnv, fx: Effects): void {
  const p = d.current;
  const deviceId = d.activeDeviceId;
  if (!p || !deviceId || d.pendingStart) return;
  const { ids, phase } = prefetchPlays(d, p, env, now);
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
    // Never a URL for a track the listener may not play now (the walk passed it over already).
    if (!bundle || playability(d, entry.trackId, now) !== 'ok') continue;
    const choice = bitrateFor(d, rungs(bundle), env);
    const kbps =
      entry.kind === 'full'
        ? choice.bitrateKbps
        : firstChunkKbps(bundle, env.cfg.startBitrateKbps, choice.bitrateKbps);
    // The same expiry as the later playback of the track, so the URLs are the same.
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
