/**
 * A session restored from a snapshot (a crash and restart, or a failover to another node)
 * whose play was playing when saved: paused until its active device is back, then the same
 * play goes on where it has got to by wall time; ms_played counts only what a device played.
 */
import { describe, expect, test } from 'vitest';
import { fakeBundle, fakeWorld, startFakeSession, T0, type FakeSession } from '../testkit/fake-ports.ts';
import { DEFAULT_ACTIVE_DEVICE_GRACE_MS } from './config.ts';
import { persistSession } from './session-machine.ts';
import type { PersistedSession } from './session-snapshot.ts';
import type { PlaybackOutput } from './types.ts';

const DUR = 200_000;
const tracks = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `t${i + 1}`, durationMs: DUR }));
const ctx = (s: FakeSession) => s.actor.getSnapshot().context;
const stateOf = (s: FakeSession): string => {
  const v = (s.actor.getSnapshot().value as { playback: string | Record<string, unknown> }).playback;
  return typeof v === 'string' ? v : Object.keys(v)[0]!;
};
const playbacks = (s: FakeSession, device = 'd1') =>
  s.rec.to(device, 'playback').map((p: PlaybackOutput) => [p.playId, p.track.id, p.positionMs, p.playing]);
const events = (s: FakeSession) => s.rec.events.map((e) => [e.type, e.play_id, e.ms_played, e.reason]);

/**
 * A play of t1 on d1 saved 33 s in, through JSON as the store keeps it, and a new actor
 * restored from it, its clock `gapMs` past the save.
 */
async function restoredAfter(gapMs: number, opts: { paused?: boolean } = {}) {
  const world = fakeWorld(tracks(4), { 'playlist:p1': ['t1', 't2', 't3', 't4'] });
  const s = startFakeSession({ world });
  s.hello('d1');
  s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
  await s.flush();
  s.clock.increment(33_000);
  if (opts.paused) s.send({ type: 'pause', deviceId: 'd1', requestId: 'pa' });
  const saved = JSON.parse(
    JSON.stringify(persistSession(s.actor.getSnapshot(), s.clock.now())),
  ) as PersistedSession;
  s.actor.stop();
  const r = startFakeSession({ world, restore: saved, epoch: 99 });
  r.clock.increment(saved.savedAt - T0 + gapMs);
  const helloResumed = (deviceId = 'd1') =>
    r.hello(deviceId, { resume: { epoch: saved.epoch, version: saved.version } });
  return { r, saved, world, playId: saved.current!.playId, helloResumed };
}

describe('restored play', () => {
  test('restored play - the snapshot says the play was playing, and where, when; a paused one does not', async () => {
    const { saved } = await restoredAfter(0);
    expect(saved.positionMs).toBe(33_000);
    expect(saved.playingAt).toBe(saved.savedAt);
    const paused = await restoredAfter(0, { paused: true });
    expect(paused.saved.playingAt).toBeUndefined();
  });

  test('restored play - the active device back with its player: the same play goes on where it has got to, the gap counts', async () => {
    const { r, playId, helloResumed } = await restoredAfter(4_000);
    expect(stateOf(r)).toBe('paused');
    helloResumed();
    await r.flush();
    expect(stateOf(r)).toBe('playing');
    expect(playbacks(r)).toEqual([[playId, 't1', 37_000, true]]);
    expect(ctx(r).current!.msPlayed).toBe(37_000);
    // The same play: no play.start, no play.end; it goes on counting.
    expect(r.rec.events).toEqual([]);
    r.clock.increment(10_000);
    r.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await r.flush();
    expect(events(r)[0]).toEqual(['play.end', playId, 47_000, 'skip']);
  });

  test('restored play - the active device back without its player: the position moves on, ms_played does not', async () => {
    const { r, playId } = await restoredAfter(4_000);
    r.hello('d1');
    await r.flush();
    expect(stateOf(r)).toBe('playing');
    expect(playbacks(r)).toEqual([[playId, 't1', 37_000, true]]);
    expect(ctx(r).current!.msPlayed).toBe(33_000);
    r.clock.increment(10_000);
    r.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await r.flush();
    expect(events(r)[0]).toEqual(['play.end', playId, 43_000, 'skip']);
  });

  test('restored play - another device back first sees it paused; queue edits leave it waiting; the active one back plays it', async () => {
    const { r, playId, helloResumed } = await restoredAfter(1_000);
    r.hello('d2');
    r.send({ type: 'shuffle', deviceId: 'd2', requestId: 'sh', on: true });
    r.send({ type: 'queue.add', deviceId: 'd2', requestId: 'qa', uri: 'track:t4' });
    await r.flush();
    expect(stateOf(r)).toBe('paused');
    expect(r.rec.states.at(-1)!.output.state.position).toMatchObject({ positionMs: 33_000, playing: false });
    expect(playbacks(r, 'd2')).toEqual([]);
    r.clock.increment(2_000);
    helloResumed();
    await r.flush();
    expect(stateOf(r)).toBe('playing');
    expect(playbacks(r)).toEqual([[playId, 't1', 36_000, true]]);
    expect(playbacks(r, 'd2')).toEqual([]);
    expect(ctx(r).activeDeviceId).toBe('d1');
  });

  test('restored play - a pause from another device first: the active device back finds it paused', async () => {
    const { r, helloResumed } = await restoredAfter(1_000);
    r.hello('d2');
    r.send({ type: 'pause', deviceId: 'd2', requestId: 'pa' });
    helloResumed();
    await r.flush();
    expect(stateOf(r)).toBe('paused');
    expect(playbacks(r)).toEqual([]);
    expect(ctx(r).restoredPlaying).toBeNull();
  });

  test('restored play - a transfer first moves it, from where it was saved; the old active device back changes nothing', async () => {
    const { r, playId, helloResumed } = await restoredAfter(3_000);
    r.hello('d2');
    r.send({ type: 'transfer', deviceId: 'd2', requestId: 'tr', toDeviceId: 'd2', play: true });
    await r.flush();
    expect(playbacks(r, 'd2')).toEqual([[playId, 't1', 33_000, true]]);
    helloResumed();
    await r.flush();
    expect(playbacks(r)).toEqual([]);
    expect(ctx(r).activeDeviceId).toBe('d2');
    // Nobody played the 3 s before the transfer.
    expect(ctx(r).current!.msPlayed).toBe(33_000);
  });

  test('restored play - the active device never back: paused, nothing heard, nothing counted; back long after the track would have ended, it stays paused', async () => {
    const late = DUR - 33_000 + DEFAULT_ACTIVE_DEVICE_GRACE_MS + 1;
    const { r, helloResumed } = await restoredAfter(0);
    r.hello('d2');
    await r.flush();
    const before = r.nowCalls();
    r.clock.increment(late);
    // No timer runs meanwhile.
    expect(r.nowCalls() - before).toBe(0);
    expect(stateOf(r)).toBe('paused');
    helloResumed();
    await r.flush();
    expect(stateOf(r)).toBe('paused');
    expect(playbacks(r)).toEqual([]);
    expect(r.rec.events).toEqual([]);
    expect(ctx(r).current!.msPlayed).toBe(33_000);
    expect(ctx(r).position).toMatchObject({ positionMs: 33_000, playing: false });
  });

  test('restored play - past the track end by then: the play ends (trackdone) and the next track starts playing', async () => {
    const { r, playId, helloResumed } = await restoredAfter(DUR - 33_000 + 5_000);
    helloResumed();
    await r.flush();
    expect(events(r).slice(0, 2)).toEqual([
      ['play.end', playId, DUR, 'trackdone'],
      ['play.start', 'u1:1:2', 0, undefined],
    ]);
    expect(playbacks(r)).toEqual([['u1:1:2', 't2', 0, true]]);
    expect(stateOf(r)).toBe('playing');
  });

  test('restored play - past the end, back without its player: the gap is not counted', async () => {
    const { r, playId } = await restoredAfter(DUR - 33_000 + 5_000);
    r.hello('d1');
    await r.flush();
    expect(events(r)[0]).toEqual(['play.end', playId, 33_000, 'trackdone']);
    expect(playbacks(r)).toEqual([['u1:1:2', 't2', 0, true]]);
  });

  test('restored play - its track refused now: track_skipped, play.end blocked, the next playable track plays', async () => {
    const { r, world, playId, helloResumed } = await restoredAfter(2_000);
    world.tracks.set(
      't1',
      fakeBundle({ id: 't1', durationMs: DUR, rights: [{ territory: '*', allowed: false }] }),
    );
    world.tracks.set(
      't2',
      fakeBundle({ id: 't2', durationMs: DUR, rights: [{ territory: '*', allowed: false }] }),
    );
    helloResumed();
    await r.flush();
    expect(r.rec.to('d1', 'warning').map((w) => [w.code, 'trackId' in w ? w.trackId : null])).toEqual([
      ['track_skipped', 't1'],
      ['track_skipped', 't2'],
    ]);
    expect(events(r).slice(0, 2)).toEqual([
      ['play.end', playId, 35_000, 'blocked'],
      ['play.start', 'u1:1:2', 0, undefined],
    ]);
    expect(playbacks(r)).toEqual([['u1:1:2', 't3', 0, true]]);
  });

  test('restored play - saved again before its device is back, it still goes on from the first save', async () => {
    const { r, saved, world, playId } = await restoredAfter(1_000);
    r.hello('d2');
    const again = JSON.parse(
      JSON.stringify(persistSession(r.actor.getSnapshot(), r.clock.now())),
    ) as PersistedSession;
    expect([again.positionMs, again.playingAt]).toEqual([33_000, saved.playingAt]);
    r.actor.stop();
    const r2 = startFakeSession({ world, restore: again, epoch: 98 });
    r2.clock.increment(saved.savedAt - T0 + 5_000);
    r2.hello('d1');
    await r2.flush();
    expect(playbacks(r2)).toEqual([[playId, 't1', 38_000, true]]);
  });

  test('restored play - an older snapshot (no playingAt) or a malformed one restores paused, as before', async () => {
    const { saved, world } = await restoredAfter(0);
    const older = { ...saved } as Partial<PersistedSession>;
    delete older.playingAt;
    const bad = { ...saved, playingAt: 'soon' } as unknown as PersistedSession;
    for (const p of [older as PersistedSession, bad]) {
      const r = startFakeSession({ world, restore: p, epoch: 99 });
      r.clock.increment(saved.savedAt - T0 + 1_000);
      r.hello('d1', { resume: { epoch: saved.epoch, version: saved.version } });
      await r.flush();
      expect(stateOf(r)).toBe('paused');
      expect(playbacks(r)).toEqual([]);
      expect(ctx(r).restoredPlaying).toBeNull();
    }
  });
});

describe('restored play, saved while a play was loading', () => {
  test('restored play - a snapshot taken while a new play loads keeps the play it replaces, so its play.end is not lost', async () => {
    const world = fakeWorld(tracks(8), { 'playlist:p1': ['t1', 't2'], 'playlist:p2': ['t5', 't6'] });
    const s = startFakeSession({ world });
    s.hello('d1');
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    await s.flush();
    const first = ctx(s).current!.playId;
    s.clock.increment(33_000);
    // The next play's tracks load slowly: it is detached from the old play, not started yet.
    let release!: () => void;
    world.holdLoads = new Promise<void>((r) => (release = r));
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', contextUri: 'playlist:p2' });
    await s.flush();
    expect(ctx(s).pendingStart?.replaced?.current?.playId).toBe(first);
    const saved = JSON.parse(
      JSON.stringify(persistSession(s.actor.getSnapshot(), s.clock.now())),
    ) as PersistedSession;
    s.actor.stop();
    release();
    world.holdLoads = null;
    // Saved as it was before the unanswered play: the old play, playing, 33 s in.
    expect(saved.current?.playId).toBe(first);
    expect(saved.positionMs).toBe(33_000);
    expect(saved.playingAt).toBe(T0 + 33_000);

    const r = startFakeSession({ world, restore: saved, epoch: 99 });
    r.clock.increment(saved.savedAt - T0 + 2_000);
    r.hello('d1', { resume: { epoch: saved.epoch, version: saved.version } });
    await r.flush();
    // The device sends its unanswered play again: the old play ends (once), the new one starts.
    r.send({ type: 'play', deviceId: 'd1', requestId: 'p2', contextUri: 'playlist:p2' });
    await r.flush();
    const ends = r.rec.events.filter((e) => e.type === 'play.end');
    expect(ends.map((e) => e.play_id)).toEqual([first]);
    expect(ends[0]!.ms_played).toBe(35_000);
    expect(r.rec.events.filter((e) => e.type === 'play.start').map((e) => e.track)).toEqual(['t5']);
  });
});
