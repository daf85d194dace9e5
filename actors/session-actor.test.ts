import { describe, expect, test } from 'vitest';
import {
  fakeWorld,
  startFakeSession,
  T0,
  type FakeSession,
  type FakeTrackSpec,
} from '../testkit/fake-ports.ts';
import { referenceLedger } from '../pipeline/royalty-rule.ts';
import { persistSession } from './session-machine.ts';
import type { PersistedSession } from './session-snapshot.ts';
import type { PlaybackOutput, PrefetchOutput, SessionCommand } from './types.ts';

const tracks = (n: number, extra: Partial<FakeTrackSpec> = {}): FakeTrackSpec[] =>
  Array.from({ length: n }, (_, i) => ({ id: `t${i + 1}`, artistId: `a${(i % 3) + 1}`, ...extra }));

async function playing(
  opts: { n?: number; specs?: FakeTrackSpec[]; plan?: 'free' | 'premium'; config?: object } = {},
) {
  const specs = opts.specs ?? tracks(opts.n ?? 6);
  const world = fakeWorld(specs, { 'playlist:p1': specs.map((s) => s.id) });
  const s = startFakeSession({
    world,
    ...(opts.plan ? { plan: opts.plan } : {}),
    ...(opts.config ? { config: opts.config } : {}),
  });
  s.hello('d1');
  s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
  await s.flush();
  return s;
}

const lastPlayback = (s: FakeSession, device = 'd1'): PlaybackOutput => s.rec.to(device, 'playback').at(-1)!;
const lastPrefetch = (s: FakeSession, device = 'd1'): PrefetchOutput => s.rec.to(device, 'prefetch').at(-1)!;
const answers = (s: FakeSession, requestId: string) =>
  s.rec.sent.filter(
    (x) => (x.output.type === 'ack' || x.output.type === 'error') && x.output.requestId === requestId,
  );
const ctx = (s: FakeSession) => s.actor.getSnapshot().context;
/** The playback state's name (`playing` has sub-states: ticking, held). */
const stateOf = (s: FakeSession): string => {
  const v = (s.actor.getSnapshot().value as { playback: string | Record<string, unknown> }).playback;
  return typeof v === 'string' ? v : Object.keys(v)[0]!;
};

describe('session play', () => {
  test('session - play sends playback, then prefetch for the next two, then the ack', async () => {
    const s = await playing();
    const types = s.rec.sent.filter((x) => x.deviceId === 'd1').map((x) => x.output.type);
    expect(types).toEqual(['welcome', 'playback', 'prefetch', 'ack']);
    const pb = lastPlayback(s);
    expect(pb.track.id).toBe('t1');
    expect(pb.bitrateKbps).toBe(96);
    expect(pb.firstChunk.bitrateKbps).toBe(96);
    expect(pb.chunks.count).toBe(20);
    expect(pb.chunks.urls[0]).toMatch(/^\/o\/t1-96-0\?exp=/);
    expect(pb.gapless).toEqual({ encoderDelaySamples: 312, paddingSamples: 100, sampleRate: 48_000 });
    expect(pb.expiresAt).toBeGreaterThan(T0 + 3_000_000);
    expect(lastPrefetch(s).items.map((i) => [i.trackId, i.chunks.length, i.bitrateKbps])).toEqual([
      ['t2', 1, 96],
      ['t3', 1, 96],
    ]);
    expect(s.rec.events.map((e) => e.type)).toEqual(['play.start']);
    expect(stateOf(s)).toBe('playing');
  });

  test('session - a skip to a prefetched track names the same first-chunk URL the prefetch did', async () => {
    const s = await playing({ config: {} });
    s.send({ type: 'quality', deviceId: 'd1', requestId: 'q', quality: 'very_high' });
    const named = lastPrefetch(s).items[0]!;
    s.clock.increment(20_000);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    await s.flush();
    const pb = lastPlayback(s);
    expect(pb.track.id).toBe(named.trackId);
    expect(pb.bitrateKbps).toBe(320);
    expect(pb.firstChunk.url).toBe(named.chunks[0]!.url);
    expect(pb.firstChunk.init.url).toBe(named.init.url);
    expect(answers(s, 'n1').map((a) => a.output.type)).toEqual(['ack']);
  });

  test("session - at 75 % the next track's first 3 chunks go out at the play bitrate, and its playback starts from them", async () => {
    const s = await playing();
    s.send({ type: 'quality', deviceId: 'd1', requestId: 'q', quality: 'high' });
    s.clock.increment(150_000);
    const pf = lastPrefetch(s);
    expect(pf.items[0]!.trackId).toBe('t2');
    expect(pf.items[0]!.chunks.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(pf.items[0]!.bitrateKbps).toBe(160);
    expect(pf.items.length).toBeLessThanOrEqual(2);
    s.clock.increment(50_000);
    s.send({ type: 'ended', deviceId: 'd1', playId: lastPlayback(s).playId });
    await s.flush();
    const pb = lastPlayback(s);
    expect(pb.track.id).toBe('t2');
    expect(pb.firstChunk.url).toBe(pf.items[0]!.chunks[0]!.url);
    expect(pb.chunks.urls.slice(0, 3)).toEqual(pf.items[0]!.chunks.map((c) => c.url));
  });

  test('session - a device that never says ended: the server ends the track after the watchdog and plays the next', async () => {
    const s = await playing({ config: { endWatchdogMs: 10_000 } });
    const first = lastPlayback(s).playId;
    s.clock.increment(200_000 + 9_999);
    expect(s.rec.events.some((e) => e.type === 'play.end')).toBe(false);
    s.clock.increment(1);
    await s.flush();
    const end = s.rec.events.find((e) => e.type === 'play.end')!;
    expect(end).toMatchObject({ track: 't1', reason: 'trackdone', ms_played: 200_000 });
    expect(end.event_id).toContain(first);
    const pb = lastPlayback(s);
    expect(pb.track.id).toBe('t2');
    expect(pb.playId).not.toBe(first);
    expect(s.rec.events.at(-1)).toMatchObject({ type: 'play.start', track: 't2' });
  });

  test('session - the watchdog waits for a device behind the wall clock, and never fires while paused', async () => {
    const s = await playing({ config: { endWatchdogMs: 10_000 } });
    // The simulated clock runs a due timer at the end of an increment: step to the 30 s check first.
    s.clock.increment(30_000);
    s.clock.increment(70_000);
    // Buffering: the device is 15 s behind, so the track ends 15 s later than the wall clock says.
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 85_000 });
    s.clock.increment(100_000 + 10_000 + 14_999);
    expect(s.rec.events.some((e) => e.type === 'play.end')).toBe(false);
    s.clock.increment(1);
    expect(s.rec.events.find((e) => e.type === 'play.end')).toMatchObject({
      reason: 'trackdone',
      ms_played: 200_000,
    });

    const p = await playing({ config: { endWatchdogMs: 10_000 } });
    p.clock.increment(190_000);
    p.send({ type: 'pause', deviceId: 'd1', requestId: 'pz' });
    p.clock.increment(3_600_000);
    expect(p.rec.events.some((e) => e.type === 'play.end')).toBe(false);
    expect(ctx(p).current!.track.id).toBe('t1');
  });

  test('session - play.progress is published once when ms_played crosses 30 s', async () => {
    const s = await playing();
    s.clock.increment(29_000);
    expect(s.rec.events.filter((e) => e.type === 'play.progress')).toHaveLength(0);
    s.clock.increment(1_000);
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 30_000 });
    s.clock.increment(40_000);
    s.send({ type: 'pause', deviceId: 'd1', requestId: 'pa' });
    s.send({ type: 'resume', deviceId: 'd1', requestId: 're' });
    s.clock.increment(40_000);
    const progress = s.rec.events.filter((e) => e.type === 'play.progress');
    expect(progress).toHaveLength(1);
    expect(progress[0]!.ms_played).toBe(30_000);
    expect(progress[0]!.event_id).toBe(`${progress[0]!.play_id}:play.progress`);
  });

  test('session - play.end carries ms_played by the server clock and the reason; ids are deterministic', async () => {
    const s = await playing();
    s.clock.increment(12_000);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    s.clock.increment(5_000);
    s.send({ type: 'logout', deviceId: 'd1', requestId: 'lo' });
    const ends = s.rec.events.filter((e) => e.type === 'play.end');
    expect(ends.map((e) => [e.track, e.ms_played, e.reason])).toEqual([
      ['t1', 12_000, 'skip'],
      ['t2', 5_000, 'logout'],
    ]);
    expect(ends[0]).toMatchObject({
      user: 'u1',
      country: 'SE',
      product: 'premium',
      device: 'd1',
      context: 'playlist:p1',
      artist: 'a1',
    });
    expect(s.rec.events.map((e) => e.event_id)).toEqual([
      'u1:1:1:play.start',
      'u1:1:1:play.end',
      'u1:1:2:play.start',
      'u1:1:2:play.end',
    ]);
  });

  test('session - a retried frame is acked again and not applied twice', async () => {
    const s = await playing();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'same' });
    await s.flush();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'same' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
    expect(answers(s, 'same').map((a) => a.output.type)).toEqual(['ack', 'ack']);
  });

  test('session - a fresh connection starts a new request-id space; a resumed one still dedups retries', async () => {
    const s = await playing();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'r1' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
    // Reconnect resuming the session: the same id is a retry of the request in flight.
    s.send({ type: 'disconnect', deviceId: 'd1' });
    s.hello('d1', { resume: { epoch: 1, version: 0 } });
    await s.flush();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'r1' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
    // A new process for the same device (no resume) counts its ids afresh: applied.
    s.send({ type: 'disconnect', deviceId: 'd1' });
    s.hello('d1');
    await s.flush();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'r1' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t3');
  });
});

describe('session entitlement', () => {
  test('session - a region-blocked first track is passed over: the play is acked, with a track_skipped warning', async () => {
    const specs = tracks(4);
    specs[0]!.rights = [
      { territory: 'SE', allowed: false },
      { territory: '*', allowed: true },
    ];
    const s = await playing({ specs });
    expect(answers(s, 'p1').map((a) => a.output)).toEqual([{ type: 'ack', requestId: 'p1' }]);
    expect(s.rec.to('d1', 'warning')).toEqual([
      expect.objectContaining({ code: 'track_skipped', reason: 'region_blocked', trackId: 't1' }),
    ]);
    expect(lastPlayback(s).track.id).toBe('t2');
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t3');
  });

  test('session - a blocked track reached on track end is skipped and the active device gets a track_skipped warning', async () => {
    const specs = tracks(3);
    specs[1]!.rights = [{ territory: 'SE', allowed: false }];
    const s = await playing({ specs });
    s.clock.increment(200_000);
    s.send({ type: 'ended', deviceId: 'd1', requestId: 'e', playId: lastPlayback(s).playId });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t3');
    expect(s.rec.to('d1', 'error')).toEqual([]);
    expect(s.rec.to('d1', 'warning')).toEqual([
      {
        type: 'warning',
        code: 'track_skipped',
        reason: 'region_blocked',
        message: expect.any(String),
        trackId: 't2',
      },
    ]);
    expect(answers(s, 'e').map((a) => a.output.type)).toEqual(['ack']);
  });

  test('session - premium-only track on a free plan gives premium_required; free caps the bitrate at 160', async () => {
    const specs = tracks(3);
    specs[1]!.rights = [{ territory: '*', allowed: true, premiumOnly: true }];
    const world = fakeWorld(specs);
    const s = startFakeSession({ world, plan: 'free' });
    s.hello('d1');
    s.send({ type: 'quality', deviceId: 'd1', requestId: 'q', quality: 'very_high' });
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', uris: ['track:t2'] });
    await s.flush();
    expect(answers(s, 'p')[0]!.output).toMatchObject({ code: 'forbidden', reason: 'premium_required' });
    expect(stateOf(s)).toBe('idle');
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', uris: ['t1', 't3'] });
    await s.flush();
    expect(lastPlayback(s).bitrateKbps).toBe(160);
  });

  test('session - unknown context and unknown track give not_found; the session goes on', async () => {
    const s = await playing();
    s.send({ type: 'play', deviceId: 'd1', requestId: 'x', contextUri: 'playlist:nope' });
    await s.flush();
    expect(answers(s, 'x')[0]!.output).toMatchObject({ type: 'error', code: 'not_found' });
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'qa', uri: 'track:ghost' });
    await s.flush();
    expect(answers(s, 'qa')[0]!.output).toMatchObject({ type: 'error', code: 'not_found', trackId: 'ghost' });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
  });

  test('session - a store outage answers unavailable', async () => {
    const s = await playing();
    s.world.failLoads = true;
    s.send({ type: 'play', deviceId: 'd1', requestId: 'x', contextUri: 'playlist:p1' });
    await s.flush();
    expect(answers(s, 'x')[0]!.output).toMatchObject({ type: 'error', code: 'unavailable' });
  });
});

describe('session queue, shuffle, repeat', () => {
  test('session - queue.add plays before the context continues and re-sends prefetch', async () => {
    const s = await playing();
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'qa', uri: 'track:t5' });
    await s.flush();
    expect(answers(s, 'qa')[0]!.output.type).toBe('ack');
    expect(lastPrefetch(s).items.map((i) => i.trackId)).toEqual(['t5', 't2']);
    expect(ctx(s).order.queue).toEqual(['t5']);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t5');
    expect(ctx(s).order.queue).toEqual([]);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n2' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
  });

  test('session - prefetch names exactly the next two plays: the current track or a duplicate queued is not replaced from further ahead', async () => {
    const s = await playing();
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'q1', uri: 'track:t1' });
    await s.flush();
    // Next plays: t1 (queued, already on the device), t2.
    expect(lastPrefetch(s).items.map((i) => i.trackId)).toEqual(['t2']);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'q2', uri: 'track:t5' });
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'q3', uri: 'track:t5' });
    await s.flush();
    // Next plays: t5, t5 (then t2, three plays ahead).
    expect(lastPrefetch(s).items.map((i) => i.trackId)).toEqual(['t5']);
  });

  test('session - repeat track: prefetch names only what a next would play, by its first chunk, and no 75 % prefetch goes out', async () => {
    const s = await playing();
    s.send({ type: 'repeat', deviceId: 'd1', requestId: 'r', mode: 'track' });
    expect(lastPrefetch(s).items.map((i) => [i.trackId, i.chunks.length])).toEqual([['t2', 1]]);
    const sent = s.rec.to('d1', 'prefetch').length;
    s.clock.increment(150_000);
    expect(ctx(s).current!.fullPhase).toBe(true);
    expect(s.rec.to('d1', 'prefetch')).toHaveLength(sent);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    expect(lastPlayback(s).track.id).toBe('t2');
  });

  test('session - shuffle on keeps the current track; shuffle off returns to context order after it', async () => {
    const s = await playing({ n: 12 });
    const before = lastPlayback(s).playId;
    s.send({ type: 'shuffle', deviceId: 'd1', requestId: 'sh', on: true });
    expect(ctx(s).current!.playId).toBe(before);
    expect(ctx(s).order.order![0]).toBe(0);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    await s.flush();
    const shuffledNext = lastPlayback(s).track.id;
    expect(shuffledNext).toBe(`t${ctx(s).order.order![1]! + 1}`);
    s.send({ type: 'shuffle', deviceId: 'd1', requestId: 'sh2', on: false });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n2' });
    await s.flush();
    const n = Number(shuffledNext.slice(1));
    expect(lastPlayback(s).track.id).toBe(`t${(n % 12) + 1}`);
  });

  test('session - repeat track replays the finished track as a new play; next still moves on', async () => {
    const s = await playing();
    s.send({ type: 'repeat', deviceId: 'd1', requestId: 'r', mode: 'track' });
    const first = lastPlayback(s).playId;
    s.clock.increment(200_000);
    s.send({ type: 'ended', deviceId: 'd1', playId: first });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t1');
    expect(lastPlayback(s).playId).not.toBe(first);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
  });

  test('session - repeat context wraps; repeat off ends the context and goes idle', async () => {
    const s = await playing({ n: 2 });
    s.send({ type: 'repeat', deviceId: 'd1', requestId: 'r', mode: 'context' });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    await s.flush();
    expect(lastPrefetch(s).items[0]!.trackId).toBe('t1');
    s.send({ type: 'ended', deviceId: 'd1' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t1');
    s.send({ type: 'repeat', deviceId: 'd1', requestId: 'r2', mode: 'off' });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n2' });
    await s.flush();
    s.send({ type: 'ended', deviceId: 'd1' });
    await s.flush();
    expect(stateOf(s)).toBe('idle');
    expect(s.rec.events.at(-1)).toMatchObject({ type: 'play.end', reason: 'trackdone', track: 't2' });
  });

  /** Playing a two-track context whose radio answers t4, t5. */
  async function withAutoplay() {
    const world = fakeWorld(tracks(5), { 'playlist:p1': ['t1', 't2'] });
    world.radioTracks = ['t4', 't5'];
    const s = startFakeSession({ world });
    s.hello('d1');
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', contextUri: 'playlist:p1' });
    await s.flush();
    return s;
  }

  test('session - autoplay tracks from the radio port follow the end of the context', async () => {
    const s = await withAutoplay();
    expect(ctx(s).order.autoplay).toEqual(['t4', 't5']);
    expect(lastPrefetch(s).items.map((i) => i.trackId)).toEqual(['t2', 't4']);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    await s.flush();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n2' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t4');
  });

  test('session - repeat context turned on while an autoplay track plays: the context starts again, no new radio call', async () => {
    const s = await withAutoplay();
    for (const n of ['n1', 'n2', 'n3']) {
      s.send({ type: 'next', deviceId: 'd1', requestId: n });
      await s.flush();
    }
    expect(lastPlayback(s).track.id).toBe('t5');
    s.send({ type: 'repeat', deviceId: 'd1', requestId: 'r', mode: 'context' });
    await s.flush();
    expect(lastPrefetch(s).items.map((i) => i.trackId)).toEqual(['t1', 't2']);
    s.send({ type: 'ended', deviceId: 'd1', playId: lastPlayback(s).playId });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t1');
    expect(ctx(s).radioFor).toBeNull();
    expect(ctx(s).order.autoplay).toEqual(['t4', 't5']);
  });

  test('session - previous restarts after 3 s, goes back before', async () => {
    const s = await playing();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    s.clock.increment(5_000);
    const t2play = lastPlayback(s).playId;
    s.send({ type: 'previous', deviceId: 'd1', requestId: 'pv1' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t2');
    expect(lastPlayback(s).playId).not.toBe(t2play);
    s.clock.increment(2_000);
    const loads = s.rec.loads.length;
    s.send({ type: 'previous', deviceId: 'd1', requestId: 'pv2' });
    // The track before is kept loaded: previous answers in the same step, no store read.
    expect(lastPlayback(s).track.id).toBe('t1');
    expect(answers(s, 'pv2').map((a) => a.output.type)).toEqual(['ack']);
    await s.flush();
    expect(s.rec.loads.slice(loads).flat()).not.toContain('t1');
  });
});

describe('session devices', () => {
  test('session - transfer moves playback with its position; the old device sees it is no longer active', async () => {
    const s = await playing();
    s.hello('d2');
    s.clock.increment(42_000);
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'tr', toDeviceId: 'd2', play: true });
    await s.flush();
    const pb = lastPlayback(s, 'd2');
    expect(pb.track.id).toBe('t1');
    expect(pb.positionMs).toBe(42_000);
    expect(pb.playing).toBe(true);
    expect(pb.firstChunk.index).toBe(4);
    expect(s.rec.states.at(-1)!.output.state.activeDeviceId).toBe('d2');
    expect(answers(s, 'tr')[0]!.output.type).toBe('ack');
  });

  test('session - a transfer continues the same play: 20 s on a phone and 20 s on a speaker are one play of 40 s, one stream', async () => {
    const s = await playing();
    const playId = lastPlayback(s).playId;
    s.hello('d2');
    s.clock.increment(20_000);
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'tr', toDeviceId: 'd2', play: true });
    await s.flush();
    const pb = lastPlayback(s, 'd2');
    expect([pb.playId, pb.positionMs, pb.playing]).toEqual([playId, 20_000, true]);
    expect(s.rec.states.at(-1)!.output.state.playId).toBe(playId);
    // No play ends and none starts: the listen goes on on d2.
    expect(s.rec.events.map((e) => e.type)).toEqual(['play.start']);
    // The simulated clock runs a due timer at the end of an increment: step to the 30 s check first.
    s.clock.increment(10_000);
    s.clock.increment(10_000);
    s.send({ type: 'next', deviceId: 'd2', requestId: 'n' });
    await s.flush();
    const ofPlay = s.rec.events.filter((e) => e.play_id === playId);
    expect(ofPlay.map((e) => [e.type, e.ms_played, e.device, e.devices])).toEqual([
      ['play.start', 0, 'd1', undefined],
      ['play.progress', 30_000, 'd2', ['d1', 'd2']],
      ['play.end', 40_000, 'd2', ['d1', 'd2']],
    ]);
    expect(ofPlay.at(-1)!.reason).toBe('skip');
    // The royalty rule counts it once: one qualifying play.
    const ledger = referenceLedger(s.rec.events);
    expect([...ledger.keys()]).toEqual([playId]);
    expect(ledger.get(playId)!.msPlayed).toBe(30_000);
  });

  test('session - progress and ended naming a play that is not playing on the sender are refused and change nothing', async () => {
    const s = await playing();
    const first = lastPlayback(s).playId;
    s.clock.increment(10_000);
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    const second = lastPlayback(s).playId;
    expect(second).not.toBe(first);
    s.clock.increment(5_000);
    const before = { position: ctx(s).position, current: ctx(s).current, version: ctx(s).version };
    const refusal = (id: string) =>
      answers(s, id).map((a) => a.output.type === 'error' && [a.output.code, a.output.reason]);

    // A play of this session that is over: stale.
    s.send({
      type: 'progress',
      deviceId: 'd1',
      requestId: 'a',
      playId: first,
      positionMs: 1_000,
      bandwidthKbps: 50,
    });
    s.send({ type: 'ended', deviceId: 'd1', requestId: 'b', playId: first });
    // Ids this session never started: unknown (another epoch, a counter it has not reached, garbage).
    s.send({ type: 'progress', deviceId: 'd1', requestId: 'c', playId: 'u1:zz:1', positionMs: 1_000 });
    s.send({ type: 'progress', deviceId: 'd1', requestId: 'd', playId: 'u1:1:3', positionMs: 1_000 });
    s.send({ type: 'ended', deviceId: 'd1', requestId: 'e', playId: 'nonsense' });
    expect(refusal('a')).toEqual([['conflict', 'stale_play']]);
    expect(refusal('b')).toEqual([['conflict', 'stale_play']]);
    expect(refusal('c')).toEqual([['not_found', 'unknown_play']]);
    expect(refusal('d')).toEqual([['not_found', 'unknown_play']]);
    expect(refusal('e')).toEqual([['not_found', 'unknown_play']]);
    expect({ position: ctx(s).position, current: ctx(s).current, version: ctx(s).version }).toEqual(before);
    expect(ctx(s).bandwidthKbps).toBeNull();
    expect(s.rec.events.filter((e) => e.play_id === second).map((e) => e.type)).toEqual(['play.start']);

    // The current play from the device it plays on: applied.
    s.send({ type: 'progress', deviceId: 'd1', requestId: 'f', playId: second, positionMs: 4_000 });
    expect(answers(s, 'f').map((a) => a.output.type)).toEqual(['ack']);
    expect(ctx(s).position.positionMs).toBe(4_000);

    // Moved away by a transfer: the old device's reports on it are stale, the new one's apply.
    s.hello('d2');
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'tr', toDeviceId: 'd2', play: true });
    await s.flush();
    s.send({ type: 'progress', deviceId: 'd1', requestId: 'g', playId: second, positionMs: 4_000 });
    s.send({ type: 'ended', deviceId: 'd1', requestId: 'h', playId: second });
    s.send({ type: 'progress', deviceId: 'd2', requestId: 'i', playId: second, positionMs: 4_000 });
    expect(refusal('g')).toEqual([['conflict', 'stale_play']]);
    expect(refusal('h')).toEqual([['conflict', 'stale_play']]);
    expect(answers(s, 'i').map((a) => a.output.type)).toEqual(['ack']);
    expect(ctx(s).current!.playId).toBe(second);
  });

  test('session - transfer to an unknown device is not_found, to an offline one a conflict', async () => {
    const s = await playing();
    s.hello('d2');
    s.send({ type: 'disconnect', deviceId: 'd2' });
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'a', toDeviceId: 'nope' });
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'b', toDeviceId: 'd2' });
    expect(answers(s, 'a')[0]!.output).toMatchObject({ code: 'not_found' });
    expect(answers(s, 'b')[0]!.output).toMatchObject({ code: 'conflict' });
  });

  test('session - the active device leaving pauses playback after the grace period, at the position it was lost', async () => {
    const s = await playing({ config: { activeDeviceGraceMs: 10_000 } });
    s.clock.increment(20_000);
    s.send({ type: 'disconnect', deviceId: 'd1' });
    s.clock.increment(9_999);
    expect(stateOf(s)).toBe('playing');
    expect(ctx(s).graceArmed).toBe(true);
    s.clock.increment(1);
    expect(stateOf(s)).toBe('paused');
    expect(ctx(s).graceArmed).toBe(false);
    expect(ctx(s).position).toMatchObject({ positionMs: 20_000, playing: false });
    expect(ctx(s).current!.msPlayed).toBe(20_000);
  });

  test('session - the active device back within the grace period keeps playing, and its timer runs again', async () => {
    const s = await playing({ config: { activeDeviceGraceMs: 10_000 } });
    s.send({ type: 'disconnect', deviceId: 'd1' });
    s.clock.increment(5_000);
    s.hello('d1', { resume: { version: ctx(s).version, epoch: 1 } });
    s.clock.increment(20_000);
    expect(stateOf(s)).toBe('playing');
    expect(ctx(s).graceArmed).toBe(false);
    const welcome = s.rec.to('d1', 'welcome').at(-1)!;
    expect(welcome.resumed).toBe(true);
    expect(welcome.state.track!.id).toBe('t1');
    // A resumed device kept its player: the gap counts, and the 30 s threshold is met on time.
    s.clock.increment(5_000);
    expect(s.rec.events.filter((e) => e.type === 'play.progress')).toHaveLength(1);
  });

  test('session - the active device back with a fresh hello gets the current play again, where it was lost, with the prefetch', async () => {
    const s = await playing({ config: { activeDeviceGraceMs: 10_000 } });
    const first = lastPlayback(s);
    s.clock.increment(5_000);
    s.send({ type: 'disconnect', deviceId: 'd1' });
    s.clock.increment(3_000);
    s.rec.clear();
    s.hello('d1'); // the app restarted: no resume point, no player
    const types = s.rec.sent.filter((x) => x.deviceId === 'd1').map((x) => x.output.type);
    expect(types).toEqual(['welcome', 'playback', 'prefetch']);
    const pb = lastPlayback(s);
    expect(pb).toMatchObject({ playId: first.playId, positionMs: 5_000, playing: true, renewal: false });
    expect(pb.firstChunk.bitrateKbps).toBe(96);
    expect(pb.expiresAt).toBeGreaterThanOrEqual(first.expiresAt);
    expect(lastPrefetch(s).items.map((i) => i.trackId)).toEqual(['t2', 't3']);
    expect(ctx(s).current!.msPlayed).toBe(5_000);
    // Already playing here: resume and a transfer to itself change nothing and send nothing more.
    s.send({ type: 'resume', deviceId: 'd1', requestId: 'rs' });
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'tr', toDeviceId: 'd1' });
    expect(s.rec.to('d1', 'playback')).toHaveLength(1);
    // Paused, it is handed back paused.
    s.send({ type: 'pause', deviceId: 'd1', requestId: 'pz' });
    s.send({ type: 'disconnect', deviceId: 'd1' });
    s.hello('d1');
    expect(lastPlayback(s)).toMatchObject({ playId: first.playId, positionMs: 5_000, playing: false });
    expect(stateOf(s)).toBe('paused');
  });

  test('session - no timer runs while the active device is lost: a grace period with the 30 s threshold due in it is a handful of steps', async () => {
    const s = await playing({ config: { activeDeviceGraceMs: 10_000 } });
    s.clock.increment(25_000);
    s.send({ type: 'disconnect', deviceId: 'd1' });
    expect(s.actor.getSnapshot().matches({ playback: { playing: 'held' } })).toBe(true);
    const before = s.nowCalls();
    for (let i = 0; i < 10_000; i++) s.clock.increment(1);
    // The grace expiry is the only step: it pauses where the device was lost.
    expect(s.nowCalls() - before).toBeLessThanOrEqual(2);
    expect(stateOf(s)).toBe('paused');
    expect(ctx(s).current!.msPlayed).toBe(25_000);
    expect(s.rec.events.filter((e) => e.type === 'play.progress')).toEqual([]);
  });

  const inGrace: Array<[string, Record<string, unknown>]> = [
    ['pause', { type: 'pause' }],
    ['seek', { type: 'seek', positionMs: 50_000 }],
    ['next', { type: 'next' }],
    ['previous', { type: 'previous' }],
    ['transfer', { type: 'transfer', toDeviceId: 'd2' }],
    ['resume', { type: 'resume' }],
    ['logout', { type: 'logout' }],
    ['play', { type: 'play', contextUri: 'playlist:p1', offset: { index: 2 } }],
  ];
  test.each(inGrace)(
    'session - %s from another device in the grace period: the time the active device was gone is not played',
    async (_, cmd) => {
      const s = await playing({ config: { activeDeviceGraceMs: 10_000 } });
      s.hello('d2');
      s.clock.increment(20_000);
      s.send({ type: 'disconnect', deviceId: 'd1' });
      s.clock.increment(9_000);
      s.send({ ...cmd, deviceId: 'd2', requestId: 'x' } as never);
      await s.flush();
      s.clock.increment(5_000); // past the grace expiry, if it still runs
      const end = s.rec.events.find((e) => e.type === 'play.end' && e.track === 't1');
      expect(end?.ms_played ?? ctx(s).current!.msPlayed).toBe(20_000);
      if (cmd.type === 'pause') expect(ctx(s).position).toMatchObject({ positionMs: 20_000, playing: false });
      if (cmd.type === 'transfer' || cmd.type === 'resume')
        expect(lastPlayback(s, 'd2').positionMs).toBe(20_000);
    },
  );

  test('session - progress corrects the position but never ahead of wall time', async () => {
    const s = await playing();
    s.clock.increment(10_000);
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 15_000 });
    expect(ctx(s).position.positionMs).toBe(10_000);
    s.clock.increment(10_000);
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 17_000 });
    expect(ctx(s).position.positionMs).toBe(17_000);
    expect(ctx(s).current!.msPlayed).toBe(17_000);
  });

  test('session - a stale report after a seek lowers the position only until an honest one; never past wall time since the seek', async () => {
    const s = await playing();
    s.hello('d2');
    s.clock.increment(10_000);
    s.send({ type: 'seek', deviceId: 'd2', requestId: 'sk', positionMs: 60_000 });
    const playId = ctx(s).current!.playId;
    // Sent by d1 before it applied the seek, arriving after it.
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 10_000, playId });
    expect(ctx(s).position.positionMs).toBe(10_000);
    s.clock.increment(5_000);
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 65_000, playId });
    expect(ctx(s).position.positionMs).toBe(65_000);
    s.clock.increment(1_000);
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 90_000, playId });
    expect(ctx(s).position.positionMs).toBe(66_000);
    // ms_played is the wall time played, not the distance the reports moved.
    expect(ctx(s).current!.msPlayed).toBe(10_000 + 5_000 + 1_000);
  });

  test('session - a network below the quality setting warns once and lowers the next bitrate', async () => {
    const s = await playing();
    s.send({ type: 'quality', deviceId: 'd1', requestId: 'q', quality: 'very_high' });
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 0, bandwidthKbps: 300 });
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 0, bandwidthKbps: 290 });
    const warnings = s.rec.to('d1', 'warning');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ requestedKbps: 320, sustainableKbps: 200 });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await s.flush();
    expect(lastPlayback(s).bitrateKbps).toBe(160);
  });

  test('session - a progress with bandwidthKbps 0 (no measurement) is acked, moves the position, keeps the bandwidth', async () => {
    const s = await playing();
    s.send({ type: 'progress', deviceId: 'd1', positionMs: 0, bandwidthKbps: 5_000 });
    s.clock.increment(10_000);
    s.send({ type: 'progress', deviceId: 'd1', requestId: 'pr', positionMs: 8_000, bandwidthKbps: 0 });
    expect(answers(s, 'pr').map((a) => a.output.type)).toEqual(['ack']);
    expect(ctx(s).position.positionMs).toBe(8_000);
    expect(ctx(s).bandwidthKbps).toBe(5_000);
  });

  test('session - URLs of a playing track are renewed before they expire', async () => {
    const s = await playing({ specs: tracks(3, { durationMs: 7_200_000 }) });
    const first = lastPlayback(s);
    s.clock.increment(first.expiresAt - T0 - 300_000);
    const renewed = lastPlayback(s);
    expect(renewed.renewal).toBe(true);
    expect(renewed.playId).toBe(first.playId);
    expect(renewed.expiresAt).toBeGreaterThan(first.expiresAt);
  });

  /** A session saved 33 s into t1, restored `laterMs` after (URLs it signed expire after an hour). */
  async function restored(laterMs = 0) {
    const s = await playing();
    s.clock.increment(33_000);
    const saved = JSON.parse(
      JSON.stringify(persistSession(s.actor.getSnapshot(), s.clock.now())),
    ) as PersistedSession;
    // As an older snapshot, without `playingAt`: restored paused (a playing one: restored-play.test.ts).
    delete saved.playingAt;
    s.actor.stop();
    const r = startFakeSession({ world: s.world, restore: saved, epoch: 99 });
    r.clock.increment(laterMs);
    // A resumed hello: the device keeps its player, so nothing is handed back before a command.
    const helloResumed = () => r.hello('d1', { resume: { epoch: saved.epoch, version: saved.version } });
    return { r, saved, helloResumed };
  }

  test('session - a persisted session without playingAt restores paused and resume continues the same play', async () => {
    const { r, saved, helloResumed } = await restored();
    expect(stateOf(r)).toBe('paused');
    helloResumed();
    expect(r.rec.to('d1', 'welcome')[0]!.state.epoch).toBe(1);
    r.send({ type: 'resume', deviceId: 'd1', requestId: 'rs' });
    await r.flush();
    const pb = lastPlayback(r);
    expect(pb.playId).toBe(saved.current!.playId);
    expect(pb.positionMs).toBe(33_000);
    expect(answers(r, 'rs')[0]!.output.type).toBe('ack');
    r.send({ type: 'next', deviceId: 'd1', requestId: 'n' });
    await r.flush();
    expect(lastPlayback(r).playId).toBe('u1:1:2');
  });

  test('session - a restored session is never given an autoplay track the radio gave it before the save', async () => {
    const world = fakeWorld(tracks(6), { 'playlist:p1': ['t1', 't2'], 'playlist:p2': ['t1'] });
    world.radioTracks = ['t4', 't5'];
    const s = startFakeSession({ world });
    s.hello('d1');
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p', contextUri: 'playlist:p1' });
    await s.flush();
    expect(ctx(s).order.autoplay).toEqual(['t4', 't5']);
    // Through JSON, as the snapshot store keeps it.
    const saved = JSON.parse(
      JSON.stringify(persistSession(s.actor.getSnapshot(), s.clock.now())),
    ) as PersistedSession;
    s.actor.stop();
    expect(saved.autoplayServed).toEqual(['t4', 't5']);
    const r = startFakeSession({ world, restore: saved, epoch: 99 });
    r.hello('d1', { resume: { epoch: saved.epoch, version: saved.version } });
    world.radioTracks = ['t4', 't5', 't6'];
    r.send({ type: 'play', deviceId: 'd1', requestId: 'p2', contextUri: 'playlist:p2' });
    await r.flush();
    expect(ctx(r).order.autoplay).toEqual(['t6']);
    expect(ctx(r).autoplayServed).toEqual(['t4', 't5', 't6']);
  });

  test('session - a snapshot without (or with a malformed) served list restores with none remembered', async () => {
    const { saved } = await restored();
    const older = { ...saved } as Partial<PersistedSession>;
    delete older.autoplayServed;
    const r1 = startFakeSession({ world: fakeWorld(tracks(3)), restore: older as PersistedSession });
    expect(ctx(r1).autoplayServed).toEqual([]);
    const bad = { ...saved, autoplayServed: 'not a list' } as unknown as PersistedSession;
    const r2 = startFakeSession({ world: fakeWorld(tracks(3)), restore: bad });
    expect(ctx(r2).autoplayServed).toEqual([]);
    const mixed = { ...saved, autoplayServed: ['t1', 7, null, 't2'] } as unknown as PersistedSession;
    const r3 = startFakeSession({ world: fakeWorld(tracks(3)), restore: mixed });
    expect(ctx(r3).autoplayServed).toEqual(['t1', 't2']);
  });

  test('session - transfer with play to the active device of a restored session is a resume: the bundle loads, one playback, no busy timer', async () => {
    const { r, saved, helloResumed } = await restored(2 * 3_600_000);
    helloResumed();
    r.send({ type: 'transfer', deviceId: 'd1', requestId: 'tr', toDeviceId: 'd1', play: true });
    expect(stateOf(r)).toBe('loading');
    await r.flush();
    expect(stateOf(r)).toBe('playing');
    expect(r.rec.to('d1', 'playback').map((p) => [p.playId, p.positionMs, p.playing])).toEqual([
      [saved.current!.playId, 33_000, true],
    ]);
    expect(lastPlayback(r).expiresAt).toBeGreaterThan(r.clock.now());
    expect(answers(r, 'tr').map((a) => a.output.type)).toEqual(['ack']);
    const before = r.nowCalls();
    for (let i = 0; i < 1_000; i++) r.clock.increment(1);
    expect(r.nowCalls() - before).toBe(0);
  });

  test('session - a play restored past 30 s with no play.progress yet publishes it once on resume, with no busy timer', async () => {
    const s = await playing();
    s.clock.increment(33_000);
    // Saved before the 30 s check ran (a late timer): ms_played is past the threshold, unsent.
    const live = s.actor.getSnapshot().context;
    const saved = persistSession(
      { context: { ...live, current: { ...live.current!, progressSent: false } } },
      s.clock.now(),
    );
    delete saved.playingAt; // restored paused: the resume below continues it
    const r = startFakeSession({ world: s.world, restore: saved });
    r.hello('d1', { resume: { epoch: saved.epoch, version: saved.version } });
    r.send({ type: 'resume', deviceId: 'd1', requestId: 'rs' });
    await r.flush();
    const before = r.nowCalls();
    for (let i = 0; i < 1_000; i++) r.clock.increment(1);
    // One check, due at once, publishes it (a step and its timer's next delay); then quiet.
    expect(r.nowCalls() - before).toBeLessThanOrEqual(2);
    expect(r.rec.events.filter((e) => e.type === 'play.progress').map((e) => e.ms_played)).toEqual([33_001]);
  });

  test('session - a restored session: a fresh hello of the active device loads the play and hands it back paused', async () => {
    const { r, saved } = await restored();
    r.hello('d1');
    await r.flush();
    expect(stateOf(r)).toBe('paused');
    expect(r.rec.to('d1', 'playback').map((p) => [p.playId, p.positionMs, p.playing, p.renewal])).toEqual([
      [saved.current!.playId, 33_000, false, false],
    ]);
    expect(lastPrefetch(r).items.map((i) => i.trackId)).toEqual(['t2', 't3']);
    expect(r.rec.events).toEqual([]);
  });
});

describe('session with cached tracks (peekTracks)', () => {
  async function cachedSession(specs: FakeTrackSpec[]) {
    const world = fakeWorld(specs, { 'playlist:p1': specs.map((s) => s.id) });
    world.peek = true;
    for (const sp of specs) world.cached.add(sp.id);
    const s = startFakeSession({ world });
    s.hello('d1');
    return s;
  }

  test('session - a play of cached tracks settles in the step its context resolves: no load is invoked', async () => {
    const s = await cachedSession(tracks(6));
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    await s.flush();
    expect(s.rec.loads).toEqual([]);
    expect(s.rec.peeks[0]).toEqual(['t1', 't2', 't3']);
    const types = s.rec.sent.filter((x) => x.deviceId === 'd1').map((x) => x.output.type);
    expect(types).toEqual(['welcome', 'playback', 'prefetch', 'ack']);
    expect(stateOf(s)).toBe('playing');
  });

  test('session - next, queue.add and a blocked track are answered synchronously, inside send()', async () => {
    const specs = tracks(6);
    specs[2]!.rights = [{ territory: 'SE', allowed: false }];
    const s = await cachedSession(specs);
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    await s.flush();
    s.rec.clear();
    // No flush between send and the checks: everything happened in the command's own step.
    s.send({ type: 'queue.add', deviceId: 'd1', requestId: 'q', uri: 'track:t6' });
    expect(answers(s, 'q').map((a) => a.output.type)).toEqual(['ack']);
    expect(lastPrefetch(s).items[0]!.trackId).toBe('t6');
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    expect(lastPlayback(s).track.id).toBe('t6');
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n2' });
    expect(lastPlayback(s).track.id).toBe('t2');
    // t3 is blocked in SE: the skip passes over it to t4 in the same step.
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n3' });
    expect(lastPlayback(s).track.id).toBe('t4');
    expect(s.rec.loads).toEqual([]);
    expect(stateOf(s)).toBe('playing');
  });

  test('session - a track missing from the cache falls back to the invoked load', async () => {
    const s = await cachedSession(tracks(6));
    s.world.cached.delete('t4');
    s.send({
      type: 'play',
      deviceId: 'd1',
      requestId: 'p1',
      contextUri: 'playlist:p1',
      offset: { index: 3 },
    });
    await s.flush();
    expect(s.rec.loads[0]).toEqual(['t4', 't5', 't6']);
    expect(lastPlayback(s).track.id).toBe('t4');
    expect(answers(s, 'p1').map((a) => a.output.type)).toEqual(['ack']);
  });
});

describe('session with known contexts (peekContext)', () => {
  /** Same world twice, bundles cached in both (peekTracks): one session knows contexts, one resolves each. */
  async function pair() {
    const specs = tracks(6);
    specs[2]!.rights = [{ territory: 'SE', allowed: false }];
    const contexts = { 'playlist:p1': specs.map((s) => s.id), 'playlist:p2': ['t5', 't6', 't1'] };
    const peeking = fakeWorld(specs, contexts);
    peeking.peek = peeking.peekContexts = true;
    const resolving = fakeWorld(specs, contexts);
    resolving.peek = true;
    for (const sp of specs) for (const w of [peeking, resolving]) w.cached.add(sp.id);
    const fast = startFakeSession({ world: peeking });
    const slow = startFakeSession({ world: resolving });
    for (const s of [fast, slow]) {
      s.hello('d1');
      s.hello('d2');
    }
    return { fast, slow };
  }
  const outputs = (s: FakeSession) => ({ sent: s.rec.sent, states: s.rec.states, events: s.rec.events });

  test('session - a play of a known context settles inside send(), with the frames and events of the invoked path', async () => {
    const { fast, slow } = await pair();
    const plays: SessionCommand[] = [
      { type: 'play', deviceId: 'd1', requestId: 'a', contextUri: 'playlist:p1' },
      { type: 'play', deviceId: 'd2', requestId: 'b', contextUri: 'playlist:p2', offset: { index: 1 } },
      { type: 'next', deviceId: 'd2', requestId: 'c' },
      { type: 'play', deviceId: 'd1', requestId: 'd', contextUri: 'playlist:p1', positionMs: 5_000 },
      {
        type: 'play',
        deviceId: 'd1',
        requestId: 'e',
        contextUri: 'playlist:p1',
        offset: { uri: 'track:t4' },
        paused: true,
      },
      {
        type: 'play',
        deviceId: 'd1',
        requestId: 'f',
        contextUri: 'playlist:p1',
        offset: { uri: 'track:t9' },
      },
      { type: 'play', deviceId: 'd1', requestId: 'g', contextUri: 'playlist:p2', offset: { index: 7 } },
    ];
    for (const c of plays) {
      for (const s of [fast, slow]) {
        s.clock.increment(1_000);
        s.send(c);
        await s.flush();
      }
    }
    expect(outputs(fast)).toEqual(outputs(slow));
    // Each context was read once; the later plays of it were known and settled in their own step.
    expect(fast.rec.resolves).toEqual(['playlist:p1', 'playlist:p2']);
    expect(fast.rec.contextPeeks).toEqual(['playlist:p1', 'playlist:p1', 'playlist:p1', 'playlist:p2']);
    expect(slow.rec.resolves).toHaveLength(plays.length - 1);
    expect(answers(fast, 'f')[0]!.output).toMatchObject({ type: 'error', code: 'not_found' });
    expect(answers(fast, 'g')[0]!.output).toMatchObject({ type: 'error', code: 'bad_request' });
  });

  test('session - a known context and cached tracks: the playback is sent before send() returns', async () => {
    const { fast } = await pair();
    fast.send({ type: 'play', deviceId: 'd1', requestId: 'a', contextUri: 'playlist:p1' });
    await fast.flush();
    fast.rec.clear();
    // No flush between send and the checks: everything happened in the command's own step.
    fast.send({
      type: 'play',
      deviceId: 'd1',
      requestId: 'b',
      contextUri: 'playlist:p1',
      offset: { index: 1 },
    });
    expect(lastPlayback(fast).track.id).toBe('t2');
    expect(answers(fast, 'b').map((a) => a.output.type)).toEqual(['ack']);
    expect(stateOf(fast)).toBe('playing');
    expect(fast.rec.resolves).toEqual([]);
    expect(fast.rec.loads).toEqual([]);
  });
});

describe('session commands sent while a play resolves', () => {
  // Synchronous on purpose: an await would let the fake store answer the resolve first.
  function resolving(specs = tracks(6)) {
    const world = fakeWorld(specs, { 'playlist:p1': specs.map((s) => s.id), 'playlist:p2': ['t5', 't6'] });
    const s = startFakeSession({ world });
    s.hello('d1');
    s.hello('d2');
    // No flush after the play: the context is still resolving when the next commands arrive.
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    expect(stateOf(s)).toBe('resolving');
    return s;
  }

  test('session - a next right after a play waits for the context and skips its first track', async () => {
    const s = resolving();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    expect(answers(s, 'n1')).toEqual([]);
    await s.flush();
    expect(answers(s, 'p1').map((a) => a.output.type)).toEqual(['ack']);
    expect(answers(s, 'n1').map((a) => a.output.type)).toEqual(['ack']);
    // The first track never started: one playback, of the second track, and no play of t1.
    expect(s.rec.to('d1', 'playback').map((p) => p.track.id)).toEqual(['t2']);
    expect(s.rec.events.map((e) => [e.type, e.track])).toEqual([['play.start', 't2']]);
  });

  test('session - next, next, seek, pause apply in order: paused on the third track at the position', async () => {
    const s = resolving();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n2' });
    s.send({ type: 'seek', deviceId: 'd1', requestId: 's1', positionMs: 42_000 });
    s.send({ type: 'pause', deviceId: 'd1', requestId: 'z1' });
    await s.flush();
    for (const id of ['p1', 'n1', 'n2', 's1', 'z1'])
      expect(answers(s, id).map((a) => a.output.type)).toEqual(['ack']);
    // The commands held the resolve that was in flight: one store read, not one per command.
    expect(s.rec.resolves).toEqual(['playlist:p1']);
    const pb = lastPlayback(s);
    expect(pb.track.id).toBe('t3');
    expect(ctx(s).position).toMatchObject({ positionMs: 42_000, playing: false });
    expect(stateOf(s)).toBe('paused');
  });

  test('session - a transfer sent while resolving starts the play on the target device', async () => {
    const s = resolving();
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'x1', toDeviceId: 'd2', play: true });
    await s.flush();
    expect(answers(s, 'x1').map((a) => a.output.type)).toEqual(['ack']);
    expect(ctx(s).activeDeviceId).toBe('d2');
    expect(lastPlayback(s, 'd2').track.id).toBe('t1');
    expect(s.rec.to('d1', 'playback')).toEqual([]);
  });

  test('session - a newer play overtakes the held commands: they are acked and not applied to it', async () => {
    const s = resolving();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', contextUri: 'playlist:p2' });
    expect(answers(s, 'n1').map((a) => a.output.type)).toEqual(['ack']);
    await s.flush();
    expect(s.rec.to('d1', 'playback').map((p) => p.track.id)).toEqual(['t5']);
    expect(answers(s, 'p2').map((a) => a.output.type)).toEqual(['ack']);
  });

  test('session - a play whose context fails still applies the held commands to what plays', async () => {
    const s = await playing();
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p2', contextUri: 'playlist:nope' });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    await s.flush();
    expect(answers(s, 'p2')[0]!.output).toMatchObject({ type: 'error', code: 'not_found' });
    expect(answers(s, 'n1').map((a) => a.output.type)).toEqual(['ack']);
    expect(lastPlayback(s).track.id).toBe('t2');
  });

  test('session - past the bound, commands sent while resolving get conflict; bad ones bad_request at once', async () => {
    const s = resolving(tracks(40));
    for (let i = 0; i < 16; i++) s.send({ type: 'next', deviceId: 'd1', requestId: `n${i}` });
    s.send({ type: 'next', deviceId: 'd1', requestId: 'over' });
    expect(answers(s, 'over')[0]!.output).toMatchObject({ type: 'error', code: 'conflict' });
    s.send({ type: 'seek', deviceId: 'd1', requestId: 'bad', positionMs: -5 });
    expect(answers(s, 'bad')[0]!.output).toMatchObject({ type: 'error', code: 'bad_request' });
    await s.flush();
    expect(lastPlayback(s).track.id).toBe('t17');
    for (let i = 0; i < 16; i++) expect(answers(s, `n${i}`).map((a) => a.output.type)).toEqual(['ack']);
  });
});

describe('session device list', () => {
  test('session - the device list stays bounded: new devices forget the disconnected ones seen least recently, never the active or connected ones', async () => {
    const s = await playing({ config: { maxKnownDevices: 4 } });
    s.hello('d2');
    for (let i = 0; i < 30; i++) {
      s.hello(`tab-${i}`);
      s.send({ type: 'disconnect', deviceId: `tab-${i}` });
    }
    const devices = ctx(s).devices;
    expect(devices.length).toBeLessThanOrEqual(4);
    expect(devices.map((d) => d.id)).toEqual(['d1', 'd2', 'tab-28', 'tab-29']);
    expect(ctx(s).activeDeviceId).toBe('d1');
    // A device seen again moves to the end (most recent) and is kept over older ones.
    s.send({ type: 'disconnect', deviceId: 'd2' });
    s.hello('tab-28');
    s.hello('new-1');
    expect(ctx(s).devices.map((d) => d.id)).toEqual(['d1', 'tab-29', 'tab-28', 'new-1']);
  });
});

describe('session commands while the next track loads', () => {
  test('session - pause, seek, resume and a transfer while the pending track loads keep its one load', async () => {
    const specs = tracks(6);
    const world = fakeWorld(specs, { 'playlist:p1': specs.map((x) => x.id) });
    const s = startFakeSession({ world });
    s.hello('d1');
    s.hello('d2');
    let release!: () => void;
    world.holdLoads = new Promise<void>((resolve) => (release = resolve));
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    await s.flush();
    expect(s.actor.getSnapshot().value).toMatchObject({ playback: { loading: 'fetch' } });
    expect(s.rec.loads).toHaveLength(1);
    s.send({ type: 'pause', deviceId: 'd1', requestId: 'z' });
    s.send({ type: 'seek', deviceId: 'd1', requestId: 's', positionMs: 12_000 });
    s.send({ type: 'resume', deviceId: 'd1', requestId: 'r' });
    s.send({ type: 'transfer', deviceId: 'd1', requestId: 'x', toDeviceId: 'd2', play: false });
    expect(s.rec.loads).toHaveLength(1);
    world.holdLoads = null;
    release();
    await s.flush();
    expect(s.rec.loads).toHaveLength(1);
    const pb = lastPlayback(s, 'd2');
    expect(pb.track.id).toBe('t1');
    expect(ctx(s).position).toMatchObject({ positionMs: 12_000, playing: false });
    for (const id of ['p1', 'z', 's', 'r', 'x'])
      expect(answers(s, id).map((a) => a.output.type)).toEqual(['ack']);
  });

  test('session - a skip while the pending track loads does reload, for the new track', async () => {
    const specs = tracks(6);
    const world = fakeWorld(specs, { 'playlist:p1': specs.map((x) => x.id) });
    const s = startFakeSession({ world });
    s.hello('d1');
    let release!: () => void;
    world.holdLoads = new Promise<void>((resolve) => (release = resolve));
    s.send({ type: 'play', deviceId: 'd1', requestId: 'p1', contextUri: 'playlist:p1' });
    await s.flush();
    s.send({ type: 'next', deviceId: 'd1', requestId: 'n1' });
    world.holdLoads = null;
    release();
    await s.flush();
    expect(s.rec.loads.length).toBeGreaterThanOrEqual(2);
    expect(lastPlayback(s).track.id).toBe('t2');
  });
});
