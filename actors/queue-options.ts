/**
 * The queue and the listener's options: `queue.add` (answered at once when the track's
 * bundle is known, else when the background fetcher has loaded it), `shuffle`, `repeat`
 * and `quality`. A command that changes nothing is acked with no new version.
 */

import { targetKbps } from './bitrate.ts';
import { QUALITY_KBPS } from './config.ts';
import { checkNetwork } from './network.ts';
import { addToQueue, rebaseRef, setRepeat, setShuffle } from './play-order.ts';
import { hashString } from './prng.ts';
import { FORBIDDEN_MESSAGES } from './entitlement.ts';
import {
  nowRef,
  playability,
  trackIdOf,
  type Playability,
  type Requester,
  type SessionContext,
} from './session-context.ts';
import type { Effects, LogicEnv } from './session-effects.ts';
import type {
  QualityCommand,
  QueueAddCommand,
  QueueEditCommand,
  Quality,
  RepeatCommand,
  RepeatMode,
  ShuffleCommand,
} from './types.ts';

export const MAX_QUEUE = 500;
const QUALITIES = Object.keys(QUALITY_KBPS) as Quality[];
const REPEATS: RepeatMode[] = ['off', 'context', 'track'];

/** The seed of the next shuffle order: per session, never repeated (the counter is persisted). */
export const nextShuffleSeed = (d: SessionContext): number => {
  d.shuffleCounter += 1;
  return hashString(`${d.userId}:${d.epoch}:${d.shuffleCounter}`);
};

export function queueAdd(
  d: SessionContext,
  c: QueueAddCommand,
  r: Requester,
  now: number,
  fx: Effects,
): void {
  const trackId = trackIdOf(c.uri);
  if (!trackId) return fx.error(r, 'bad_request', 'uri must be a track uri');
  if (d.order.queue.length + d.pendingAdds.length >= MAX_QUEUE) {
    return fx.error(r, 'bad_request', `the queue holds at most ${MAX_QUEUE} tracks`);
  }
  const verdict = playability(d, trackId, now);
  // Checked and loaded in the background (the fetcher); answered in `settleAdds`. Behind an
  // add still waiting, even a known track waits: adds land in the order they were sent.
  if (verdict === 'unknown' || d.pendingAdds.length > 0) {
    d.pendingAdds = [...d.pendingAdds, { trackId, requester: r }];
    return;
  }
  if (verdict !== 'ok') return refuseAdd(r, trackId, verdict, fx);
  d.order = addToQueue(d.order, trackId);
  fx.changed = fx.replan = true;
  fx.ack(r);
}

/**
 * Remove (by index, or every entry of a uri), move or clear the user queue. An index past
 * the queue is `bad_request`; a uri not queued is `not_found`; an edit that changes nothing
 * (clearing an empty queue, a move to the same place) is acked with no new version.
 */
export function queueEdit(d: SessionContext, c: QueueEditCommand, r: Requester, fx: Effects): void {
  const q = d.order.queue;
  const isIndex = (i: unknown): i is number =>
    Number.isInteger(i) && (i as number) >= 0 && (i as number) < q.length;
  let next: string[];
  const e = c.edit;
  /** With `expect`, the entry at `i` must be that track: else the caller's view is stale. */
  const staleAt = (i: number, expect: string | undefined): boolean => {
    if (expect === undefined || q[i] === trackIdOf(expect)) return false;
    fx.error(r, 'conflict', `the queue changed: entry ${i} is not ${expect} any more`, {
      reason: 'version_mismatch',
    });
    return true;
  };
  if (e.op === 'clear') next = [];
  else if (e.op === 'remove' && 'index' in e) {
    if (!isIndex(e.index))
      return fx.error(r, 'bad_request', `index must be below the queue's length ${q.length}`);
    if (staleAt(e.index, e.expect)) return;
    next = q.filter((_, i) => i !== e.index);
  } else if (e.op === 'remove') {
    const trackId = trackIdOf(e.uri);
    if (!trackId) return fx.error(r, 'bad_request', 'uri must be a track uri');
    next = q.filter((id) => id !== trackId);
    if (next.length === q.length)
      return fx.error(r, 'not_found', `track ${trackId} is not queued`, { trackId });
  } else if (e.op === 'move') {
    if (!isIndex(e.from) || !isIndex(e.to))
      return fx.error(r, 'bad_request', `from and to must be below the queue's length ${q.length}`);
    if (staleAt(e.from, e.expect)) return;
    next = q.slice();
    const [moved] = next.splice(e.from, 1);
    next.splice(e.to, 0, moved!);
  } else return fx.error(r, 'bad_request', 'unknown queue edit');
  if (next.length === q.length && next.every((id, i) => id === q[i])) return fx.ack(r);
  d.order = { ...d.order, queue: next };
  fx.changed = fx.replan = true;
  fx.ack(r);
}

/** A track the listener may not play is not queued: it would only be passed over. */
function refuseAdd(
  r: Requester,
  trackId: string,
  verdict: Exclude<Playability, 'ok' | 'unknown'>,
  fx: Effects,
) {
  if (verdict === 'not_found')
    return fx.error(r, 'not_found', `track ${trackId} does not exist`, { trackId });
  fx.error(r, 'forbidden', FORBIDDEN_MESSAGES[verdict], { reason: verdict, trackId });
}

/**
 * Answer the queue adds whose bundle load settled, in the order they were sent: from the
 * first still unknown on, every add keeps waiting (a later one must not land before it).
 */
export function settleAdds(
  d: SessionContext,
  fx: Effects,
  status: (id: string) => Playability | 'failed',
): void {
  const left = [];
  for (const a of d.pendingAdds) {
    const s = left.length > 0 ? 'unknown' : status(a.trackId);
    if (s === 'ok') {
      d.order = addToQueue(d.order, a.trackId);
      fx.ack(a.requester);
      fx.changed = true;
    } else if (s === 'failed') {
      fx.error(a.requester, 'unavailable', 'the catalog is unavailable, try again');
    } else if (s === 'unknown') left.push(a);
    else refuseAdd(a.requester, a.trackId, s, fx);
  }
  d.pendingAdds = left;
}

export function shuffle(d: SessionContext, c: ShuffleCommand, r: Requester, fx: Effects): void {
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
  fx.ack(r);
}

export function repeat(d: SessionContext, c: RepeatCommand, r: Requester, fx: Effects): void {
  if (!REPEATS.includes(c.mode))
    return fx.error(r, 'bad_request', `repeat mode must be one of ${REPEATS.join(', ')}`);
  if (c.mode === d.order.repeat) return fx.ack(r);
  d.order = setRepeat(d.order, c.mode);
  fx.changed = fx.replan = true;
  fx.ack(r);
}

/** The quality setting: applies from the next start; the network is checked against it now. */
export function quality(
  d: SessionContext,
  c: QualityCommand,
  r: Requester,
  env: LogicEnv,
  fx: Effects,
): void {
  if (!QUALITIES.includes(c.quality))
    return fx.error(r, 'bad_request', `quality must be one of ${QUALITIES.join(', ')}`);
  // The plan caps it: the requester is told before the ack, every time it asks.
  const capKbps = targetKbps(c.quality, d.plan);
  if (capKbps < QUALITY_KBPS[c.quality]) {
    fx.send(r.deviceId, {
      type: 'warning',
      code: 'quality_capped',
      message: `${c.quality} (${QUALITY_KBPS[c.quality]} kbit/s) needs a premium plan: plays get at most ${capKbps} kbit/s`,
      requestedKbps: QUALITY_KBPS[c.quality],
      bitrateKbps: capKbps,
    });
  }
  if (c.quality === d.quality) return fx.ack(r);
  d.quality = c.quality;
  checkNetwork(d, env, fx);
  fx.changed = fx.replan = true;
  fx.ack(r);
}
