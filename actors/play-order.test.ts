import { describe, expect, test } from 'vitest';
import { listeningEvent, makePlayId } from './listening-events.ts';
import {
  addToQueue,
  advance,
  appendAutoplay,
  emptyPlayOrder,
  loadContext,
  nextRef,
  previousRef,
  rebaseRef,
  setRepeat,
  setShuffle,
  upcoming,
  type PlayOrder,
  type TrackRef,
} from './play-order.ts';
import { fullPhaseDelay, planPrefetch } from './prefetch-planner.ts';

const ctxTracks = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i}`, artistId: `a${i % 3}` }));

function started(n: number, at = 0): { o: PlayOrder; cur: TrackRef } {
  const { order, start } = loadContext(emptyPlayOrder(), 'playlist:p', ctxTracks(n), at, 1);
  return { o: advance(order, start!), cur: start! };
}

const ids = (refs: TrackRef[]) => refs.map((r) => r.trackId);

describe('play order', () => {
  test('play order - next follows the context; the queue plays first and leaves the queue', () => {
    let { o, cur } = started(5);
    o = addToQueue(addToQueue(o, 'q1'), 'q2');
    expect(ids(upcoming(o, cur, 4))).toEqual(['q1', 'q2', 't1', 't2']);
    const n1 = nextRef(o, cur, 'skip')!;
    expect(n1).toEqual({ trackId: 'q1', source: 'queue', pos: 0 });
    o = advance(o, n1);
    expect(o.queue).toEqual(['q2']);
    expect(o.cursor).toBe(0);
  });

  test('play order - repeat track repeats on trackdone only; repeat context wraps; off ends', () => {
    let { o, cur } = started(3, 2);
    expect(nextRef(o, cur, 'trackdone')).toBeNull();
    o = setRepeat(o, 'context');
    expect(nextRef(o, cur, 'trackdone')!.trackId).toBe('t0');
    o = setRepeat(o, 'track');
    expect(nextRef(o, cur, 'trackdone')).toEqual(cur);
    // Skipping with repeat track moves on and wraps, as repeat track sits above repeat context.
    expect(nextRef(o, cur, 'skip')!.trackId).toBe('t0');
  });

  test('play order - previous goes back, wraps with repeat context, and from a queued track returns to the context', () => {
    let { o, cur } = started(4, 2);
    expect(previousRef(o, cur)!.trackId).toBe('t1');
    const first = started(4, 0);
    expect(previousRef(first.o, first.cur)).toBeNull();
    expect(previousRef(setRepeat(first.o, 'context'), first.cur)!.trackId).toBe('t3');
    o = addToQueue(o, 'q');
    const q = nextRef(o, cur, 'skip')!;
    o = advance(o, q);
    expect(previousRef(o, { ...q, pos: -1 })!.trackId).toBe('t2');
  });

  test('play order - shuffle on keeps the current track first; off resumes context order after it', () => {
    let { o, cur } = started(10, 4);
    const on = setShuffle(o, true, cur, 77);
    const curOn = rebaseRef(o, on, cur)!;
    expect(curOn.trackId).toBe('t4');
    expect(on.order![0]).toBe(4);
    expect(on.cursor).toBe(0);
    const nextShuffled = nextRef(on, curOn, 'skip')!;
    expect(nextShuffled.trackId).toBe(`t${on.order![1]}`);
    o = advance(on, nextShuffled);
    const off = setShuffle(o, false, nextShuffled, 0);
    const curOff = rebaseRef(o, off, nextShuffled)!;
    expect(nextRef(off, curOff, 'skip')!.trackId).toBe(`t${on.order![1]! + 1}`);
  });

  test('play order - upcoming honours queue + shuffle + repeat together, never past what exists', () => {
    let { o, cur } = started(4, 0);
    o = setShuffle(o, true, cur, 5);
    cur = rebaseRef(started(4, 0).o, o, cur)!;
    o = addToQueue(o, 'q1');
    const shuffled = o.order!.map((i) => `t${i}`);
    expect(ids(upcoming(o, cur, 3))).toEqual(['q1', shuffled[1], shuffled[2]]);
    o = setRepeat(o, 'context');
    expect(ids(upcoming(o, cur, 6))).toEqual([
      'q1',
      shuffled[1],
      shuffled[2],
      shuffled[3],
      shuffled[0],
      shuffled[1],
    ]);
    o = setRepeat(o, 'track');
    expect(ids(upcoming(o, cur, 2))).toEqual([cur.trackId, 'q1']);
    o = setRepeat(o, 'off');
    expect(ids(upcoming(o, cur, 10))).toHaveLength(4);
  });

  test('play order - autoplay follows the context once it runs out, without duplicates', () => {
    let { o, cur } = started(2, 1);
    o = appendAutoplay(o, ['r1', 't0', 'r2', 'r1']);
    expect(o.autoplay).toEqual(['r1', 'r2']);
    const r1 = nextRef(o, cur, 'trackdone')!;
    expect(r1).toEqual({ trackId: 'r1', source: 'autoplay', pos: 0 });
    o = advance(o, r1);
    expect(nextRef(o, r1, 'skip')!.trackId).toBe('r2');
    expect(previousRef(o, r1)!.trackId).toBe('t1');
  });
  test('play order - repeat context keeps to the context once autoplay was appended or is playing', () => {
    let { o, cur } = started(2, 1);
    o = setRepeat(appendAutoplay(o, ['r1', 'r2']), 'context');
    // At the last context track with autoplay queued: wraps to the start.
    expect(nextRef(o, cur, 'trackdone')).toEqual({ trackId: 't0', source: 'context', pos: 0 });
    // Playing the last autoplay track when repeat context is turned on: the context start, then on.
    o = advance(setRepeat(o, 'off'), { trackId: 'r2', source: 'autoplay', pos: 1 });
    o = setRepeat(o, 'context');
    const r2: TrackRef = { trackId: 'r2', source: 'autoplay', pos: 1 };
    expect(nextRef(o, r2, 'trackdone')).toEqual({ trackId: 't0', source: 'context', pos: 0 });
    expect(ids(upcoming(o, r2, 3))).toEqual(['t0', 't1', 't0']);
    // Repeat off again: autoplay goes on where it was.
    expect(nextRef(setRepeat(o, 'off'), r2, 'trackdone')).toBeNull();
  });
});

describe('prefetch planner', () => {
  test('prefetch planner - start phase names chunk 0 of the next two tracks, at most two', () => {
    expect(planPrefetch(['a', 'b', 'c'], 'start', { ahead: 2, fullChunks: 3 })).toEqual([
      { trackId: 'a', kind: 'start', chunkCount: 1 },
      { trackId: 'b', kind: 'start', chunkCount: 1 },
    ]);
    expect(planPrefetch(['a', 'b', 'c'], 'start', { ahead: 5, fullChunks: 3 })).toHaveLength(2);
  });

  test('prefetch planner - full phase names 3 chunks of the next play and chunk 0 of the one after', () => {
    expect(planPrefetch(['a', 'b'], 'full', { ahead: 2, fullChunks: 3, currentTrackId: 'cur' })).toEqual([
      { trackId: 'a', kind: 'full', chunkCount: 3 },
      { trackId: 'b', kind: 'start', chunkCount: 1 },
    ]);
    expect(fullPhaseDelay(10_000, 200_000, 0.75)).toBe(140_000);
    expect(fullPhaseDelay(160_000, 200_000, 0.75)).toBe(0);
  });

  test('prefetch planner - exactly the next two plays: the current track or a duplicate among them is dropped, never replaced from further ahead', () => {
    // The current track queued again: 'c' would be the third play, so it is not named.
    expect(
      planPrefetch(['cur', 'b', 'c'], 'start', { ahead: 2, fullChunks: 3, currentTrackId: 'cur' }),
    ).toEqual([{ trackId: 'b', kind: 'start', chunkCount: 1 }]);
    // The next play is the current track again: the full phase is not moved to the play after.
    expect(planPrefetch(['cur', 'b'], 'full', { ahead: 2, fullChunks: 3, currentTrackId: 'cur' })).toEqual([
      { trackId: 'b', kind: 'start', chunkCount: 1 },
    ]);
    expect(planPrefetch(['a', 'a', 'b'], 'full', { ahead: 2, fullChunks: 3 })).toEqual([
      { trackId: 'a', kind: 'full', chunkCount: 3 },
    ]);
  });
});

describe('listening events', () => {
  test('listening events - ids derive from the play id and type, the same on every retry', () => {
    const playId = makePlayId('u1', 1_700_000_000_000, 7);
    const facts = {
      playId,
      userId: 'u1',
      trackId: 't',
      artistId: 'a',
      contextUri: null,
      country: 'SE',
      plan: 'free' as const,
      deviceId: 'd',
    };
    const e1 = listeningEvent('play.end', facts, 5, 31_000.4, 'skip');
    const e2 = listeningEvent('play.end', facts, 9, 31_000.4, 'skip');
    expect(e1.event_id).toBe(`${playId}:play.end`);
    expect(e2.event_id).toBe(e1.event_id);
    expect(e1).toMatchObject({
      type: 'play.end',
      ms_played: 31_000,
      context: '',
      product: 'free',
      reason: 'skip',
    });
    expect(makePlayId('u1', 1, 8)).not.toBe(makePlayId('u1', 1, 7));
    expect(Object.keys(listeningEvent('play.start', facts, 1, 0))).not.toContain('reason');
  });
});
