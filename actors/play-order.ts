/**
 * What plays next: the context (in context or shuffle order), the user queue in front of
 * it, and autoplay tracks after it. Pure functions over a small serialisable value.
 *
 * Rules (as in Spotify):
 * - `queue.add` tracks play before the context continues; playing one removes it from the
 *   queue and leaves the context cursor where it was.
 * - repeat `track`: a finished track plays again; an explicit `next` still moves on
 *   (wrapping at the end of the context, as repeat track sits above repeat context).
 * - repeat `context`: after the last context track comes the first again; autoplay tracks
 *   are not played (from one, the next is the context's first track).
 * - repeat `off`: after the context come autoplay tracks, then nothing.
 * - shuffle on keeps the current track and shuffles the rest after it; shuffle off goes
 *   back to context order after the current track.
 */

import { smartShuffleFrom } from './smart-shuffle.ts';
import type { ContextTrack, RepeatMode } from './types.ts';

export type TrackSource = 'context' | 'queue' | 'autoplay';

/** A track to play and where it comes from. `pos`: position in the play sequence (context) or autoplay index. */
export interface TrackRef {
  trackId: string;
  source: TrackSource;
  pos: number;
}

export interface PlayOrder {
  contextUri: string | null;
  tracks: ContextTrack[];
  /** Shuffled permutation of `tracks` indices; null in context order. */
  order: number[] | null;
  /** Sequence position of the current (or last played) context track; -1 before the first. */
  cursor: number;
  queue: string[];
  autoplay: string[];
  /** Index of the current (or last played) autoplay track; -1 before the first. */
  autoplayPos: number;
  shuffle: boolean;
  repeat: RepeatMode;
  /** Seed of the current shuffle order, so a snapshot rebuilds the same order. */
  shuffleSeed: number;
}

export const emptyPlayOrder = (): PlayOrder => ({
  contextUri: null,
  tracks: [],
  order: null,
  cursor: -1,
  queue: [],
  autoplay: [],
  autoplayPos: -1,
  shuffle: false,
  repeat: 'off',
  shuffleSeed: 0,
});

/** Track index at a sequence position. */
export const indexAt = (o: PlayOrder, pos: number): number => (o.order ? o.order[pos]! : pos);

export function contextRef(o: PlayOrder, pos: number): TrackRef | null {
  if (pos < 0 || pos >= o.tracks.length) return null;
  return { trackId: o.tracks[indexAt(o, pos)]!.id, source: 'context', pos };
}

/**
 * Load a new context and pick where it starts: `startIndex` is an index into `tracks`
 * (context order); null starts at the beginning (or a shuffled start when shuffle is on).
 */
export function loadContext(
  o: PlayOrder,
  contextUri: string | null,
  tracks: ContextTrack[],
  startIndex: number | null,
  seed: number,
): { order: PlayOrder; start: TrackRef | null } {
  const next: PlayOrder = {
    ...o,
    contextUri,
    tracks,
    order: null,
    cursor: -1,
    autoplay: [],
    autoplayPos: -1,
  };
  if (tracks.length === 0) return { order: next, start: null };
  if (o.shuffle) {
    next.shuffleSeed = seed;
    next.order = smartShuffleFrom(tracks, seed, startIndex);
    return { order: next, start: contextRef(next, 0) };
  }
  return { order: next, start: contextRef(next, startIndex ?? 0) };
}

/** The next track: after a finished track (`trackdone`) or an explicit skip. */
export function nextRef(
  o: PlayOrder,
  current: TrackRef | null,
  reason: 'trackdone' | 'skip',
): TrackRef | null {
  if (reason === 'trackdone' && o.repeat === 'track' && current) return current;
  if (o.queue.length > 0) return { trackId: o.queue[0]!, source: 'queue', pos: 0 };
  // Repeat keeps to the context, even once autoplay tracks were appended or played: its
  // end, or an autoplay track, is followed by its start.
  if (o.repeat !== 'off')
    return (current?.source === 'autoplay' ? null : contextRef(o, o.cursor + 1)) ?? contextRef(o, 0);
  if (current?.source === 'autoplay' || (o.cursor >= o.tracks.length - 1 && o.autoplayPos >= 0)) {
    return autoplayRef(o, o.autoplayPos + 1);
  }
  return contextRef(o, o.cursor + 1) ?? autoplayRef(o, o.autoplayPos + 1);
}

function autoplayRef(o: PlayOrder, pos: number): TrackRef | null {
  const id = o.autoplay[pos];
  return id === undefined ? null : { trackId: id, source: 'autoplay', pos };
}

/**
 * The track before: from a queued track, the context track that played before it; from
 * autoplay, the autoplay track before or the last context track; from a context track, the
 * one before (wrapping with repeat context). null means "restart the current track".
 */
export function previousRef(o: PlayOrder, current: TrackRef | null): TrackRef | null {
  if (!current) return contextRef(o, o.cursor);
  if (current.source === 'queue') return contextRef(o, o.cursor);
  if (current.source === 'autoplay') return autoplayRef(o, current.pos - 1) ?? contextRef(o, o.cursor);
  const before = contextRef(o, current.pos - 1);
  if (before) return before;
  if (o.repeat !== 'off' && o.tracks.length > 0) return contextRef(o, o.tracks.length - 1);
  return null;
}

/**
 * The order once `ref` is chosen to play: the cursor moves to it, a queued track at the
 * head of the queue (pos 0) leaves the queue. A ref of a track that already left the queue
 * (pos -1: the current queued track, restarted or repeated) changes nothing.
 */
export function advance(o: PlayOrder, ref: TrackRef): PlayOrder {
  switch (ref.source) {
    case 'context':
      return o.cursor === ref.pos ? o : { ...o, cursor: ref.pos };
    case 'queue':
      return ref.pos === 0 && o.queue[0] === ref.trackId ? { ...o, queue: o.queue.slice(1) } : o;
    case 'autoplay':
      return o.autoplayPos === ref.pos ? o : { ...o, autoplayPos: ref.pos };
  }
}

/** A walk passes over at most this many tracks in a row (an all-blocked context ends). */
export const MAX_PASSED_OVER = 50;

/**
 * The tracks that will really play after `current`, in order, at most `count`. With repeat
 * track the natural next is the current track again; the skip target follows it. Tracks
 * `passOver` names (the listener may not play them) are walked past, as a skip passes them
 * over, at most MAX_PASSED_OVER of them; `passed` collects them.
 */
export function upcoming(
  o: PlayOrder,
  current: TrackRef | null,
  count: number,
  passOver?: (trackId: string) => boolean,
  passed?: TrackRef[],
): TrackRef[] {
  const out: TrackRef[] = [];
  if (!current) return out;
  // One copy of the order, advanced in place as the walk goes (this runs several times per
  // step: a copy per advanced track was most of its cost). A pending ref (not started yet)
  // counts as started: its queue slot / cursor are used up.
  const order: PlayOrder = { ...o };
  advanceInPlace(order, current);
  let at: TrackRef = current;
  if (o.repeat === 'track') {
    out.push(current);
    if (out.length >= count) return out;
  }
  let passedCount = 0;
  while (out.length < count) {
    const n = nextRef(order, at, 'skip');
    if (!n) break;
    if (passOver?.(n.trackId)) {
      if (++passedCount > MAX_PASSED_OVER) break;
      passed?.push(n);
    } else out.push(n);
    advanceInPlace(order, n);
    at = n;
  }
  return out;
}

/** `advance` on a walk's own copy of the order: the same moves, no new order. */
function advanceInPlace(o: PlayOrder, ref: TrackRef): void {
  switch (ref.source) {
    case 'context':
      o.cursor = ref.pos;
      return;
    case 'queue':
      if (ref.pos === 0 && o.queue[0] === ref.trackId) o.queue = o.queue.slice(1);
      return;
    case 'autoplay':
      o.autoplayPos = ref.pos;
  }
}

/** Where a skip lands: the first track not passed over, the ones passed over, the order after them. */
export interface SkipWalk {
  target: TrackRef | null;
  passed: TrackRef[];
  /** The order advanced past the passed-over tracks (not past the target). */
  order: PlayOrder;
}

/**
 * The skip from `from` (`next`, or a track end) onto the first track that `verdict` does
 * not pass over; 'unknown' stops the walk there too (the caller loads it and walks again).
 */
export function walkSkip(
  o: PlayOrder,
  from: TrackRef,
  reason: 'trackdone' | 'skip',
  passOver: (trackId: string) => boolean,
): SkipWalk {
  const passed: TrackRef[] = [];
  let order = o;
  let at = from;
  let n = nextRef(order, at, reason);
  while (n && passOver(n.trackId)) {
    // The same track again (repeat track on a track end): nothing else would play either.
    if (
      passed.length >= MAX_PASSED_OVER ||
      (n.source === at.source && n.pos === at.pos && n.trackId === at.trackId)
    )
      return { target: null, passed, order };
    passed.push(n);
    order = advance(order, n);
    at = n;
    n = nextRef(order, at, 'skip');
  }
  return { target: n, passed, order };
}

/** Context tracks still to come after the cursor (0 when repeat context wraps forever is irrelevant). */
export const remainingInContext = (o: PlayOrder): number => Math.max(0, o.tracks.length - 1 - o.cursor);

/** Turn shuffle on (keeping `current` first) or off (back to context order after it). */
export function setShuffle(o: PlayOrder, on: boolean, current: TrackRef | null, seed: number): PlayOrder {
  if (on === o.shuffle) return o;
  if (on) {
    const currentIndex =
      current?.source === 'context' ? indexAt(o, current.pos) : o.cursor >= 0 ? indexAt(o, o.cursor) : null;
    if (o.tracks.length === 0) return { ...o, shuffle: true, shuffleSeed: seed };
    const order = smartShuffleFrom(o.tracks, seed, currentIndex);
    return { ...o, shuffle: true, shuffleSeed: seed, order, cursor: currentIndex === null ? -1 : 0 };
  }
  const cursor = o.cursor >= 0 ? indexAt(o, o.cursor) : -1;
  return { ...o, shuffle: false, order: null, cursor };
}

/**
 * After shuffle or a new context, the current track's ref must point into the new order.
 * Queue and autoplay refs are unaffected.
 */
export function rebaseRef(before: PlayOrder, after: PlayOrder, ref: TrackRef | null): TrackRef | null {
  if (!ref || ref.source !== 'context' || before === after) return ref;
  const index = indexAt(before, ref.pos);
  const pos = after.order ? after.order.indexOf(index) : index;
  return pos < 0 ? ref : { ...ref, pos };
}

export function setRepeat(o: PlayOrder, mode: RepeatMode): PlayOrder {
  return mode === o.repeat ? o : { ...o, repeat: mode };
}

export function addToQueue(o: PlayOrder, trackId: string): PlayOrder {
  return { ...o, queue: [...o.queue, trackId] };
}

export function appendAutoplay(o: PlayOrder, trackIds: readonly string[]): PlayOrder {
  const seen = new Set([...o.autoplay, ...o.tracks.map((t) => t.id), ...o.queue]);
  const fresh = trackIds.filter((id) => !seen.has(id) && (seen.add(id), true));
  return fresh.length === 0 ? o : { ...o, autoplay: [...o.autoplay, ...fresh] };
}
