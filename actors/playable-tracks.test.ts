/**
 * The tracks a listener may not play now (territory, release window, plan): no URL, no
 * preview, and a skip onto them that either passes them over as a success with a
 * `track_skipped` warning or, when nothing playable is left, is refused and changes nothing.
 * Also the artist context and the free plan's quality cap. Fake ports, simulated clock.
 */
import { describe, expect, test } from 'vitest';
import { fakeWorld, startFakeSession, type FakeSession, type FakeTrackSpec } from '../testkit/fake-ports.ts';
import { positionAt } from './position.ts';
import type { DeviceOutput, RightsRow } from './types.ts';

const BLOCKED_IN_SE: RightsRow[] = [
  { territory: '*', allowed: true },
  { territory: 'SE', allowed: false },
];

const specsOf = (n: number, blocked: readonly number[]): FakeTrackSpec[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${i + 1}`,
    artistId: `a${(i % 3) + 1}`,
    ...(blocked.includes(i + 1) ? { rights: BLOCKED_IN_SE } : {}),
  }));

function session(n: number, blocked: readonly number[], opts: { config?: object; plan?: 'free' } = {}) {
  const specs = specsOf(n, blocked);
  const world = fakeWorld(specs, {
    'playlist:p1': specs.map((s) => s.id),
    'artist:a1': specs.filter((s) => s.artistId === 'a1').map((s) => s.id),
  });
  const s = startFakeSession({
    world,
    country: 'SE',
    ...(opts.config ? { config: opts.config } : {}),
    ...(opts.plan ? { plan: opts.plan } : {}),
  });
  s.hello('d1');
  return s;
}

async function playing(n: number, blocked: readonly number[], config?: object): Promise<FakeSession> {
  const s = session(n, blocked, config ? { config } : {});
  s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
  await s.flush();
  return s;
}

const answers = (s: FakeSession, requestId: string) =>
  s.rec.sent
    .map((x) => x.output)
    .filter((o) => (o.type === 'ack' || o.type === 'error') && o.requestId === requestId);
const ctx = (s: FakeSession) => s.actor.getSnapshot().context;
const lastState = (s: FakeSession) => s.rec.states.at(-1)!.output.state;
/** Every URL the session handed out, from every output it sent. */
const urlsSent = (s: FakeSession): string[] =>
  s.rec.sent.flatMap(({ output }) => JSON.stringify(output).match(/\/o\/[^"?]+/g) ?? []);
const named = (o: DeviceOutput): string[] =>
  o.type === 'prefetch' ? o.items.map((i) => i.trackId) : o.type === 'playback' ? [o.track.id] : [];

describe('no URL for a track the listener may not play', () => {
  test('rights - the prefetch passes over a track blocked in the country and no URL is signed for it', async () => {
    const s = await playing(4, [2]);
    const prefetches = s.rec.to('d1', 'prefetch');
    expect(prefetches.at(-1)!.items.map((i) => i.trackId)).toEqual(['t3', 't4']);
    expect(s.rec.sent.flatMap((x) => named(x.output))).not.toContain('t2');
    expect(urlsSent(s).filter((u) => u.startsWith('/o/t2-'))).toEqual([]);
  });

  test('rights - at the 75 % point the full prefetch is of the next playable track, never the blocked one', async () => {
    const s = await playing(4, [2]);
    s.clock.increment(150_000);
    await s.flush();
    const full = s.rec.to('d1', 'prefetch').at(-1)!;
    expect(full.items[0]!.trackId).toBe('t3');
    expect(full.items[0]!.chunks.length).toBeGreaterThan(1);
    expect(urlsSent(s).filter((u) => u.startsWith('/o/t2-'))).toEqual([]);
  });
});

describe('the preview lists only what will really play', () => {
  test('rights - next_tracks never names a blocked track, shuffle off', async () => {
    const s = await playing(5, [2, 3]);
    expect(lastState(s).next).toEqual(['t4', 't5']);
    for (const st of s.rec.states) expect(st.output.state.next).not.toContain('t2');
    for (const st of s.rec.states) expect(st.output.state.next).not.toContain('t3');
  });

  test('rights - next_tracks never names a blocked track, shuffle on, and fills up once the rights are known', async () => {
    const blocked = [2, 3, 5, 7];
    const s = await playing(8, blocked);
    s.send({ type: 'shuffle', deviceId: 'd1', requestId: 'sh', on: true });
    // One background load per blocked track found on the way.
    for (let i = 0; i < blocked.length; i++) await s.flush();
    const shown = s.rec.states.flatMap((st) => st.output.state.next);
    for (const b of blocked) expect(shown).not.toContain(`t${b}`);
    // The background loads found the playable ones: the preview holds two of them.
    expect(lastState(s).next).toHaveLength(2);
    const prefetched = s.rec.to('d1', 'prefetch').flatMap((p) => p.items.map((i) => i.trackId));
    for (const b of blocked) expect(prefetched).not.toContain(`t${b}`);
  });
});

describe('a skip onto a track the listener may not play', () => {
  test('rights - next passes over the blocked track: ack, a track_skipped warning, no error', async () => {
    const s = await playing(3, [2]);
    s.rec.clear();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(answers(s, 'n')).toEqual([{ type: 'ack', requestId: 'n' }]);
    expect(s.rec.to('d1', 'warning')).toEqual([
      expect.objectContaining({ code: 'track_skipped', trackId: 't2', reason: 'region_blocked' }),
    ]);
    expect(s.rec.to('d1', 'error')).toEqual([]);
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t3');
  });

  test('rights - next with only blocked tracks left is refused and changes nothing: the play goes on', async () => {
    const s = await playing(3, [2, 3]);
    const before = ctx(s);
    s.rec.clear();
    s.clock.increment(5_000);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(answers(s, 'n')).toEqual([
      expect.objectContaining({ type: 'error', code: 'forbidden', reason: 'region_blocked', trackId: 't2' }),
    ]);
    const after = ctx(s);
    expect(after.current!.playId).toBe(before.current!.playId);
    expect(after.position.playing).toBe(true);
    expect(after.version).toBe(before.version);
    expect(after.order).toEqual(before.order);
    expect(s.rec.events).toEqual([]);
    expect(s.rec.states).toEqual([]);
    expect(s.rec.to('d1', 'playback')).toEqual([]);
  });

  /**
   * Plays p1 with one track of prefetch and the background fetcher's load (of t3, past the
   * blocked t2) held in flight; returns its release.
   */
  async function withAheadLoadHeld(s: FakeSession): Promise<() => void> {
    let releaseTarget!: () => void;
    let releaseAhead!: () => void;
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    s.world.holdLoads = new Promise<void>((r) => (releaseTarget = r));
    await s.flush();
    s.world.holdLoads = new Promise<void>((r) => (releaseAhead = r));
    releaseTarget();
    await s.flush();
    expect(ctx(s).current!.track.id).toBe('t1');
    expect(ctx(s).bundles['t3']).toBeUndefined();
    return releaseAhead;
  }

  test('rights - a skip whose landing is not loaded yet waits for the load, then is refused with nothing changed', async () => {
    const s = session(3, [2, 3], { config: { prefetchAhead: 1 } });
    const release = await withAheadLoadHeld(s);
    const before = ctx(s);
    s.rec.clear();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(answers(s, 'n')).toEqual([]);
    release();
    await s.flush();
    expect(answers(s, 'n')).toEqual([
      expect.objectContaining({ type: 'error', code: 'forbidden', reason: 'region_blocked', trackId: 't2' }),
    ]);
    expect(ctx(s).current!.playId).toBe(before.current!.playId);
    expect(ctx(s).order).toEqual(before.order);
    expect(s.rec.events).toEqual([]);
    expect(s.rec.to('d1', 'playback')).toEqual([]);
  });

  test('rights - a skip waiting for a load goes on to the playable track once it is known, with the commands sent behind it', async () => {
    const s = session(4, [2], { config: { prefetchAhead: 1 } });
    const release = await withAheadLoadHeld(s);
    s.rec.clear();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    s.send({ type: 'pause', deviceId: 'd1', requestId: 'pa' });
    await s.flush();
    expect(answers(s, 'n')).toEqual([]);
    release();
    await s.flush();
    expect(answers(s, 'n')).toEqual([{ type: 'ack', requestId: 'n' }]);
    expect(answers(s, 'pa')).toEqual([{ type: 'ack', requestId: 'pa' }]);
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t3');
    expect(ctx(s).position.playing).toBe(false);
    expect(s.rec.to('d1', 'warning')).toEqual([
      expect.objectContaining({ code: 'track_skipped', trackId: 't2' }),
    ]);
  });

  test('rights - previous passes back over a blocked track to the one before it, with the warning', async () => {
    const s = session(3, [2]);
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', contextUri: 'playlist:p1', offset: { index: 2 } });
    await s.flush();
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t3');
    s.rec.clear();
    s.send({ type: 'previous', deviceId: 'd1', requestId: 'b' });
    await s.flush();
    expect(answers(s, 'b')).toEqual([{ type: 'ack', requestId: 'b' }]);
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t1');
    expect(s.rec.to('d1', 'warning')).toEqual([
      expect.objectContaining({ code: 'track_skipped', trackId: 't2', reason: 'region_blocked' }),
    ]);
    expect(urlsSent(s).filter((u) => u.startsWith('/o/t2-'))).toEqual([]);
  });

  test('rights - a play starting on a blocked track passes over it as a success, with the warning', async () => {
    const s = session(3, [1]);
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', contextUri: 'playlist:p1' });
    await s.flush();
    expect(answers(s, 'p')).toEqual([{ type: 'ack', requestId: 'p' }]);
    expect(s.rec.to('d1', 'warning')).toEqual([
      expect.objectContaining({ code: 'track_skipped', trackId: 't1', reason: 'region_blocked' }),
    ]);
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t2');
  });
});

describe('a play of tracks the listener may not play', () => {
  /** Where the play is now, by the server clock. */
  const positionNow = (s: FakeSession) => {
    const c = ctx(s);
    return positionAt(c.position, s.clock.now(), c.current!.track.durationMs);
  };

  for (const peek of [false, true]) {
    test(`rights - a play of only blocked tracks is refused and changes nothing: the play before it goes on (${peek ? 'cached' : 'loaded'})`, async () => {
      const s = await playing(4, [3, 4]);
      s.world.peek = peek;
      s.clock.increment(5_000);
      const before = ctx(s);
      const at = positionNow(s);
      const next = lastState(s).next;
      s.rec.clear();
      s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', uris: ['track:t3', 'track:t4'] });
      await s.flush();
      expect(answers(s, 'p2')).toEqual([
        expect.objectContaining({
          type: 'error',
          code: 'forbidden',
          reason: 'region_blocked',
          trackId: 't4',
        }),
      ]);
      const after = ctx(s);
      expect(after.current!.playId).toBe(before.current!.playId);
      expect(after.position.playing).toBe(true);
      expect(positionNow(s)).toBe(at);
      expect(after.order).toEqual(before.order);
      expect(after.activeDeviceId).toBe('d1');
      expect(after.version).toBe(before.version);
      expect(s.rec.events).toEqual([]);
      expect(s.rec.states).toEqual([]);
      expect(s.rec.to('d1', 'playback')).toEqual([]);
      // The play goes on as before: a next skips to its own next track.
      s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
      await s.flush();
      expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe(next[0]);
      expect(s.rec.events.map((e) => [e.type, e.play_id, e.reason])).toEqual([
        ['play.end', before.current!.playId, 'skip'],
        ['play.start', expect.any(String), undefined],
      ]);
    });
  }

  test('rights - a refused play from another device leaves the active device as it was', async () => {
    const s = await playing(4, [3, 4]);
    s.hello('d2');
    s.send({ type: 'disconnect', deviceId: 'd1' });
    await s.flush();
    const before = ctx(s);
    expect(before.activeLostAt).not.toBeNull();
    s.rec.clear();
    s.send({ type: 'play', deviceId: 'd2', requestId: 'p2', uris: ['track:t3'] });
    s.send({ type: 'play', deviceId: 'd2', requestId: 'p3', uris: ['track:nope'] });
    await s.flush();
    expect(answers(s, 'p2')).toEqual([{ type: 'ack', requestId: 'p2' }]);
    expect(answers(s, 'p3')).toEqual([
      expect.objectContaining({ type: 'error', code: 'not_found', reason: 'unknown_track' }),
    ]);
    const after = ctx(s);
    expect(after.activeDeviceId).toBe('d1');
    expect(after.activeLostAt).toBe(before.activeLostAt);
    expect(after.current!.playId).toBe(before.current!.playId);
    expect(after.version).toBe(before.version);
    expect(s.rec.events).toEqual([]);
  });

  test('rights - a play passing over a blocked track ends the play before it once, as a skip, and starts the playable one', async () => {
    const s = await playing(4, [3]);
    const old = ctx(s).current!.playId;
    s.rec.clear();
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', uris: ['track:t3', 'track:t2'] });
    await s.flush();
    expect(answers(s, 'p2')).toEqual([{ type: 'ack', requestId: 'p2' }]);
    expect(s.rec.to('d1', 'warning')).toEqual([
      expect.objectContaining({ code: 'track_skipped', trackId: 't3', reason: 'region_blocked' }),
    ]);
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t2');
    expect(s.rec.events.map((e) => [e.type, e.play_id, e.track, e.reason])).toEqual([
      ['play.end', old, 't1', 'skip'],
      ['play.start', ctx(s).current!.playId, 't2', undefined],
    ]);
    expect(ctx(s).order.contextUri).toBeNull();
  });
});

describe('what a play replaces while its first track loads', () => {
  /** Playing t1, then a play of t7 (blocked) and t8 whose load is held in flight; returns its release. */
  async function playHeld(s: FakeSession): Promise<() => void> {
    let release!: () => void;
    s.world.holdLoads = new Promise<void>((r) => (release = r));
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', uris: ['track:t7', 'track:t8'] });
    await s.flush();
    return release;
  }

  test('rights - a next while the play loads ends the play before it once, as a skip', async () => {
    const s = await playing(9, [7]);
    const old = ctx(s).current!.playId;
    s.rec.clear();
    const release = await playHeld(s);
    expect(s.rec.events).toEqual([]);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    release();
    await s.flush();
    await s.flush();
    expect(answers(s, 'n')).toEqual([{ type: 'ack', requestId: 'n' }]);
    const ends = s.rec.events.filter((e) => e.type === 'play.end');
    expect(ends.map((e) => [e.play_id, e.reason])).toEqual([[old, 'skip']]);
    expect(ctx(s).current!.playId).not.toBe(old);
  });

  test('rights - a play overtaking a loading play ends the play before it once, when its own track starts', async () => {
    const s = await playing(9, [7]);
    const old = ctx(s).current!.playId;
    s.rec.clear();
    const release = await playHeld(s);
    s.world.holdLoads = null;
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p3', uris: ['track:t9'] });
    release();
    await s.flush();
    await s.flush();
    expect(answers(s, 'p2')).toEqual([{ type: 'ack', requestId: 'p2' }]);
    expect(answers(s, 'p3')).toEqual([{ type: 'ack', requestId: 'p3' }]);
    expect(s.rec.events.map((e) => [e.type, e.play_id, e.track, e.reason])).toEqual([
      ['play.end', old, 't1', 'skip'],
      ['play.start', ctx(s).current!.playId, 't9', undefined],
    ]);
  });
});

describe('the queue', () => {
  test('rights - queue.add of a blocked track is refused and queues nothing, loaded or not', async () => {
    const s = await playing(6, [2, 6]);
    expect(ctx(s).bundles['t6']).toBeUndefined();
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'q2', uri: 'track:t2' });
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'q6', uri: 'track:t6' });
    await s.flush();
    for (const id of ['q2', 'q6'])
      expect(answers(s, id)).toEqual([
        expect.objectContaining({ type: 'error', code: 'forbidden', reason: 'region_blocked' }),
      ]);
    expect(ctx(s).order.queue).toEqual([]);
  });
});

describe('artist contexts', () => {
  test('rights - play of an artist context plays the artist tracks', async () => {
    const s = session(6, []);
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', contextUri: 'artist:a1' });
    await s.flush();
    expect(answers(s, 'p')).toEqual([{ type: 'ack', requestId: 'p' }]);
    expect(s.rec.to('d1', 'playback').at(-1)!.track.id).toBe('t1');
    expect(ctx(s).order.contextUri).toBe('artist:a1');
    expect(lastState(s).next).toEqual(['t4']);
  });
});

describe('the quality a free listener gets', () => {
  test('rights - very_high on a free plan: a quality_capped warning before the ack, the state says the setting and 160 kbps', async () => {
    const s = session(3, [], { plan: 'free' });
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', contextUri: 'playlist:p1' });
    await s.flush();
    s.rec.clear();
    s.send({ type: 'quality', deviceId: 'd1', requestId: 'q', quality: 'very_high' });
    await s.flush();
    const out = s.rec.sent.filter((x) => x.deviceId === 'd1').map((x) => x.output);
    expect(out.map((o) => o.type)).toEqual(['warning', 'ack']);
    expect(out[0]).toMatchObject({ code: 'quality_capped', requestedKbps: 320, bitrateKbps: 160 });
    expect(lastState(s)).toMatchObject({ quality: 'very_high', bitrateKbps: 96 });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(s.rec.to('d1', 'playback').at(-1)!.bitrateKbps).toBe(160);
    expect(lastState(s)).toMatchObject({ quality: 'very_high', bitrateKbps: 160 });
  });

  test('rights - a premium listener choosing very_high gets no warning', async () => {
    const s = session(3, []);
    s.send({ type: 'quality', deviceId: 'd1', requestId: 'q', quality: 'very_high' });
    await s.flush();
    expect(s.rec.to('d1', 'warning')).toEqual([]);
    expect(lastState(s)).toMatchObject({ quality: 'very_high', bitrateKbps: 320 });
  });
});
