import { initialTransition, transition } from 'xstate';
import { describe, expect, test } from 'vitest';
import { fakeSignUrl, fakeWorld, T0 } from '../testkit/fake-ports.ts';
import { createSessionLogic, type SessionMachineSnapshot } from './session-machine.ts';
import type { Emission } from './session-effects.ts';
import type { SessionCommand } from './types.ts';

/**
 * Pure transitions: every command in every playback state, with `transition()` (nothing
 * runs; invoked loads are answered by hand with their done events).
 */

let now = T0;
const logic = createSessionLogic({ now: () => now, signUrl: fakeSignUrl });
const world = fakeWorld(['t1', 't2', 't3', 't4'].map((id) => ({ id })));
const bundles = Object.fromEntries([...world.tracks].map(([id, b]) => [id, b]));

type Actions = ReturnType<typeof transition<typeof logic>>[1];
const step = (s: SessionMachineSnapshot, e: unknown): [SessionMachineSnapshot, Actions] =>
  transition(logic, s, e as never);

function base(): SessionMachineSnapshot {
  now = T0;
  let [s] = initialTransition(logic, { userId: 'u1', plan: 'premium', country: 'SE', epoch: 1 });
  for (const d of ['d1', 'd2']) {
    [s] = step(s, {
      type: 'hello',
      deviceId: d,
      name: d,
      deviceType: 'phone',
      plan: 'premium',
      country: 'SE',
    });
  }
  return s;
}

const resolved = {
  uri: 'playlist:p',
  tracks: ['t1', 't2', 't3', 't4'].map((id) => ({ id, artistId: `a-${id}` })),
};

/** A snapshot in each playback state. */
function snapshots(): Record<string, SessionMachineSnapshot> {
  const idle = base();
  const [resolving] = step(idle, { type: 'play', deviceId: 'd1', contextUri: 'playlist:p' });
  const [loading] = step(resolving, { type: 'xstate.done.actor.resolveContext', output: resolved });
  const [playing] = step(loading, {
    type: 'xstate.done.actor.loadTarget',
    output: { trackIds: ['t1', 't2', 't3'], result: { t1: bundles.t1, t2: bundles.t2, t3: bundles.t3 } },
  });
  now += 10_000;
  const [paused] = step(playing, { type: 'pause', deviceId: 'd1' });
  return { idle, resolving, loading, playing, paused };
}

const playbackOf = (s: SessionMachineSnapshot) => {
  const v = (s.value as { playback: string | Record<string, string> }).playback;
  return typeof v === 'string' ? v : Object.keys(v)[0]!;
};

/** The outputs of a step, in order, across its `emit` actions. */
const emissions = (actions: Actions): Emission[] =>
  (actions as Array<{ type: string; params?: { out?: Emission[] } }>).flatMap((a) =>
    a.type === 'emit' ? a.params!.out! : [],
  );

/** 'ack', 'error:<code>', or 'deferred' (answered when a load settles). */
function outcome(actions: Actions, after: SessionMachineSnapshot, requestId: string): string {
  for (const e of emissions(actions)) {
    const o =
      e.kind === 'send' ? (e.output as { type: string; requestId?: unknown; code?: string }) : undefined;
    if (o && o.requestId === requestId && (o.type === 'ack' || o.type === 'error')) {
      return o.type === 'ack' ? 'ack' : `error:${o.code}`;
    }
  }
  const c = after.context;
  const waiting =
    c.pendingResolve?.requester.requestId === requestId ||
    c.pendingResolve?.deferred.some((d) => d.requestId === requestId) ||
    c.pendingStart?.requester?.requestId === requestId ||
    c.heldSkip?.commands.some((d) => d.requestId === requestId) ||
    c.pendingAdds.some((a) => a.requester.requestId === requestId);
  return waiting ? 'deferred' : 'none';
}

const commands: Record<string, Omit<SessionCommand, 'requestId' | 'deviceId'>> = {
  play: { type: 'play', contextUri: 'playlist:p', offset: { index: 1 } },
  pause: { type: 'pause' },
  resume: { type: 'resume' },
  seek: { type: 'seek', positionMs: 5000 },
  next: { type: 'next' },
  previous: { type: 'previous' },
  shuffle: { type: 'shuffle', on: true },
  repeat: { type: 'repeat', mode: 'context' },
  'queue.add': { type: 'queue.add', uri: 'track:t4' },
  quality: { type: 'quality', quality: 'high' },
  volume: { type: 'volume', volume: 30, targetDeviceId: 'd2' },
  transfer: { type: 'transfer', toDeviceId: 'd2', play: true },
  progress: { type: 'progress', positionMs: 1000, bandwidthKbps: 5000 },
  ended: { type: 'ended' },
  logout: { type: 'logout' },
} as never;

// Expected answer per state: idle, resolving, loading, playing, paused.
const expected: Record<string, [string, string, string, string, string]> = {
  play: ['deferred', 'deferred', 'deferred', 'deferred', 'deferred'],
  pause: ['ack', 'ack', 'ack', 'ack', 'ack'],
  resume: ['error:conflict', 'ack', 'ack', 'ack', 'ack'],
  seek: ['error:conflict', 'deferred', 'ack', 'ack', 'ack'],
  next: ['error:conflict', 'deferred', 'deferred', 'ack', 'ack'],
  previous: ['error:conflict', 'deferred', 'deferred', 'ack', 'ack'],
  shuffle: ['ack', 'ack', 'ack', 'ack', 'ack'],
  repeat: ['ack', 'ack', 'ack', 'ack', 'ack'],
  'queue.add': ['deferred', 'deferred', 'deferred', 'deferred', 'deferred'],
  quality: ['ack', 'ack', 'ack', 'ack', 'ack'],
  volume: ['ack', 'ack', 'ack', 'ack', 'ack'],
  transfer: ['ack', 'deferred', 'ack', 'ack', 'ack'],
  progress: ['ack', 'ack', 'ack', 'ack', 'ack'],
  ended: ['ack', 'ack', 'ack', 'ack', 'ack'],
  logout: ['ack', 'ack', 'ack', 'ack', 'ack'],
};
const STATES = ['idle', 'resolving', 'loading', 'playing', 'paused'] as const;

describe('session machine transitions', () => {
  const snaps = snapshots();

  test('session machine - the fixtures are in the state they are named for', () => {
    for (const name of STATES) expect(playbackOf(snaps[name]!)).toBe(name);
  });

  for (const [name, cmd] of Object.entries(commands)) {
    STATES.forEach((state, i) => {
      test(`session machine - ${name} in ${state} answers ${expected[name]![i]}`, () => {
        const before = snaps[state]!;
        const [after, actions] = step(before, { ...cmd, deviceId: 'd1', requestId: 'r' });
        expect(after.status).toBe('active');
        expect(outcome(actions, after, 'r')).toBe(expected[name]![i]);
        // The version only moves forward; broadcasts carry increasing versions, the last one the new version.
        expect(after.context.version).toBeGreaterThanOrEqual(before.context.version);
        const versions = emissions(actions).flatMap((e) =>
          e.kind === 'broadcast' ? [e.output.state.version] : [],
        );
        versions.forEach((v, k) =>
          expect(v).toBeGreaterThan(k === 0 ? before.context.version : versions[k - 1]!),
        );
        if (versions.length > 0) expect(versions.at(-1)).toBe(after.context.version);
        else expect(after.context.version).toBe(before.context.version);
      });
    });
  }

  const bad: Array<[string, unknown]> = [
    ['seek before 0', { type: 'seek', positionMs: -1 }],
    ['seek NaN', { type: 'seek', positionMs: Number.NaN }],
    ['volume above 100', { type: 'volume', volume: 101 }],
    ['unknown quality', { type: 'quality', quality: 'ultra' }],
    ['unknown repeat mode', { type: 'repeat', mode: 'forever' }],
    ['shuffle not boolean', { type: 'shuffle', on: 'yes' }],
    ['play with nothing', { type: 'play' }],
    ['play with a bad context uri', { type: 'play', contextUri: 'radio:x' }],
    ['play with a non-track uri', { type: 'play', uris: ['album:x'] }],
    ['play with an offset past the uris', { type: 'play', uris: ['t1'], offset: { index: 3 } }],
    ['queue.add of a non-track uri', { type: 'queue.add', uri: 'playlist:x' }],
    ['queue.add of an id naming an Object.prototype member', { type: 'queue.add', uri: 'track:constructor' }],
    ['play of a uri naming __proto__', { type: 'play', uris: ['track:__proto__'] }],
    ['progress with negative bandwidth', { type: 'progress', positionMs: 0, bandwidthKbps: -5 }],
  ];
  for (const [what, cmd] of bad) {
    test(`session machine - ${what} is a bad_request in every state, and changes nothing`, () => {
      for (const state of STATES) {
        const before = snaps[state]!;
        const [after, actions] = step(before, { ...(cmd as object), deviceId: 'd1', requestId: 'r' });
        expect(outcome(actions, after, 'r')).toBe('error:bad_request');
        expect(playbackOf(after)).toBe(playbackOf(before));
        expect(after.context.version).toBe(before.context.version);
      }
    });
  }

  test('session machine - a command that changes nothing is acked with no new version, no broadcast, no shuffle seed', () => {
    const unchanged: Array<[(typeof STATES)[number], Record<string, unknown>]> = [
      ['playing', { type: 'repeat', mode: 'off' }],
      ['playing', { type: 'quality', quality: 'normal' }],
      ['playing', { type: 'volume', volume: 100 }],
      ['playing', { type: 'shuffle', on: false }],
      ['playing', { type: 'resume' }],
      ['paused', { type: 'pause' }],
      ['idle', { type: 'pause' }],
      ['playing', { type: 'transfer', toDeviceId: 'd1' }],
      ['playing', { type: 'transfer', toDeviceId: 'd1', play: true }],
      ['paused', { type: 'transfer', toDeviceId: 'd1', play: false }],
    ];
    for (const [state, cmd] of unchanged) {
      const before = snaps[state]!;
      const [after, actions] = step(before, { ...cmd, deviceId: 'd1', requestId: 'r' });
      expect(outcome(actions, after, 'r'), JSON.stringify(cmd)).toBe('ack');
      expect(after.context.version, JSON.stringify(cmd)).toBe(before.context.version);
      expect(
        emissions(actions).filter((e) => e.kind === 'broadcast'),
        JSON.stringify(cmd),
      ).toEqual([]);
    }
    const [on] = step(snaps.playing!, { type: 'shuffle', on: true, deviceId: 'd1' });
    const [again, actions] = step(on, { type: 'shuffle', on: true, deviceId: 'd1', requestId: 'r' });
    expect(outcome(actions, again, 'r')).toBe('ack');
    expect(again.context.version).toBe(on.context.version);
    expect(again.context.shuffleCounter).toBe(on.context.shuffleCounter);
    expect(again.context.order).toBe(on.context.order);
  });

  test('session machine - shuffle on while the first track loads keeps it first, so every other track still plays', () => {
    const [shuffled] = step(snaps.loading!, { type: 'shuffle', on: true, deviceId: 'd1', requestId: 'r' });
    expect(shuffled.context.pendingStart!.ref).toMatchObject({ trackId: 't1', pos: 0 });
    const [started] = step(shuffled, {
      type: 'xstate.done.actor.loadTarget',
      output: { trackIds: ['t1', 't2', 't3', 't4'], result: bundles },
    });
    expect(started.context.current!.track.id).toBe('t1');
    expect(started.context.order.cursor).toBe(0);
    const rest = started.context.order.order!.slice(1).map((i) => started.context.order.tracks[i]!.id);
    expect(rest.sort()).toEqual(['t2', 't3', 't4']);
  });

  test('session machine - the radio is asked once a track of the context started; an answer for an earlier context is dropped', () => {
    const context = (uri: string, ids: string[]) => ({
      uri,
      tracks: ids.map((id) => ({ id, artistId: `a-${id}` })),
    });
    const loaded = (ids: string[]) => ({
      type: 'xstate.done.actor.loadTarget',
      output: { trackIds: ids, result: Object.fromEntries(ids.map((id) => [id, bundles[id]])) },
    });
    const radioAsks = (actions: Actions) =>
      (actions as Array<{ type: string; params?: { src?: string; input?: { seedTrackIds: string[] } } }>)
        .filter((a) => a.type === 'xstate.spawnChild' && a.params?.src === 'radio')
        .map((a) => a.params!.input!.seedTrackIds);
    let [s] = step(snaps.idle!, { type: 'play', deviceId: 'd1', contextUri: 'playlist:a' });
    let actions: Actions;
    [s, actions] = step(s, {
      type: 'xstate.done.actor.resolveContext',
      output: context('playlist:a', ['t1', 't2']),
    });
    // Still loading: the play may yet be refused, and nothing is asked of the radio.
    expect(radioAsks(actions)).toEqual([]);
    [s, actions] = step(s, loaded(['t1', 't2']));
    expect(s.context.current!.track.id).toBe('t1');
    expect(radioAsks(actions)).toEqual([['t1', 't2']]);
    [s] = step(s, { type: 'play', deviceId: 'd1', contextUri: 'playlist:b' });
    [s, actions] = step(s, {
      type: 'xstate.done.actor.resolveContext',
      output: context('playlist:b', ['t3', 't4']),
    });
    expect(radioAsks(actions)).toEqual([]);
    [s, actions] = step(s, { type: 'xstate.done.actor.radio', output: ['r1', 'r2'] });
    expect(s.context.order.contextUri).toBe('playlist:b');
    expect(s.context.order.autoplay).toEqual([]);
    expect(radioAsks(actions)).toEqual([]);
    [s, actions] = step(s, loaded(['t3', 't4']));
    expect(radioAsks(actions)).toEqual([['t3', 't4']]);
    [s] = step(s, { type: 'xstate.done.actor.radio', output: ['r3'] });
    expect(s.context.order.autoplay).toEqual(['r3']);
  });

  test('session machine - unknown devices get not_found in every state', () => {
    for (const state of STATES) {
      const [after, actions] = step(snaps[state]!, { type: 'next', deviceId: 'ghost', requestId: 'r' });
      expect(outcome(actions, after, 'r')).toBe('error:not_found');
      const [after2, actions2] = step(snaps[state]!, {
        type: 'volume',
        deviceId: 'd1',
        requestId: 'r',
        volume: 5,
        targetDeviceId: 'ghost',
      });
      expect(outcome(actions2, after2, 'r')).toBe('error:not_found');
    }
  });

  test('session machine - hello answers a welcome with the full state; a foreign epoch is not resumed', () => {
    const [after, actions] = step(snaps.playing!, {
      type: 'hello',
      deviceId: 'd3',
      requestId: 'h',
      name: 'tv',
      deviceType: 'tv',
      plan: 'premium',
      country: 'SE',
      resume: { version: 1, epoch: 42 },
    });
    const welcome = emissions(actions)
      .map((e) => (e.kind === 'send' ? e.output : undefined))
      .find((o) => o?.type === 'welcome') as never as {
      resumed: boolean;
      requestId: string;
      state: { devices: unknown[]; track: { id: string }; version: number };
    };
    expect(welcome).toMatchObject({ requestId: 'h', resumed: false });
    expect(welcome.state.devices).toHaveLength(3);
    expect(welcome.state.track.id).toBe('t1');
    expect(welcome.state.version).toBe(after.context.version);
  });

  test('session machine - a play command invokes resolveContext and a resolved context invokes one batched load', () => {
    const [, a1] = step(snaps.idle!, {
      type: 'play',
      deviceId: 'd1',
      requestId: 'r',
      uris: ['track:t2', 't3'],
    });
    const spawn = (a1 as Array<{ type: string; params?: { src?: string; input?: unknown } }>).find(
      (a) => a.type === 'xstate.spawnChild',
    );
    expect(spawn?.params).toMatchObject({
      src: 'resolveContext',
      input: { contextUri: null, trackIds: ['t2', 't3'] },
    });
    const [, a2] = step(snaps.resolving!, { type: 'xstate.done.actor.resolveContext', output: resolved });
    const loads = (
      a2 as Array<{ type: string; params?: { src?: string; input?: { trackIds: string[] } } }>
    ).filter((a) => a.type === 'xstate.spawnChild' && a.params?.src === 'loadTracks');
    expect(loads.map((l) => l.params!.input!.trackIds)).toEqual([['t1', 't2', 't3']]);
  });
});
