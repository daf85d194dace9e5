/**
 * Hibernation with the real session machine (app/session-actor.ts's binding) on the fake
 * ports: a session hibernated between every two commands sends exactly what one that never
 * hibernated sends, and saves the same snapshot.
 */
import { describe, expect, test } from 'vitest';
import type { SessionCommand } from '../actors/types.ts';
import { Hibernation, SuspendedCodec } from '../session/hibernation.ts';
import type { SessionActorRef } from '../session/session-router.ts';
import { waitFor } from '../testkit/pipeline.ts';
import { fakePorts, fakeWorld, T0, type FakeWorld, type Recorder } from '../testkit/fake-ports.ts';
import { parseConfig } from './config.ts';
import { sessionActorStarter } from './session-actor.ts';

const world = (): FakeWorld =>
  fakeWorld([{ id: 't1' }, { id: 't2' }, { id: 't3', durationMs: 60_000 }, { id: 't4' }], {
    'playlist:p1': ['t1', 't2', 't3', 't4'],
  });

interface Twin {
  actor: SessionActorRef;
  rec: Recorder;
}

/** The same listener twice on one clock: `plain` never hibernates, `sleepy` may. */
function twins(afterMs = 60_000) {
  let now = T0;
  const clock = () => now;
  const start = sessionActorStarter(parseConfig({}).actor);
  const hibernation = new Hibernation({ afterMs });
  const make = (s: typeof start): Twin => {
    const { ports, rec } = fakePorts(world(), clock);
    const actor = s(ports, { userId: 'u1', plan: 'premium', country: 'SE', epoch: 7 });
    return { actor, rec };
  };
  const plain = make(start);
  const sleepy = make(hibernation.wrap(start));
  return {
    plain,
    sleepy,
    hibernation,
    advance: (ms: number) => (now += ms),
    send(command: SessionCommand) {
      expect(plain.actor.send(command)).toBe(sleepy.actor.send(command));
    },
    flush: async () => {
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    },
    expectSame() {
      expect(sleepy.rec.sent).toEqual(plain.rec.sent);
      expect(sleepy.rec.states).toEqual(plain.rec.states);
      expect(sleepy.rec.events).toEqual(plain.rec.events);
    },
  };
}

const hello = (deviceId: string, requestId: number): SessionCommand => ({
  type: 'hello',
  deviceId,
  requestId,
  name: deviceId,
  deviceType: 'phone',
  plan: 'premium',
  country: 'SE',
});

describe('hibernation', () => {
  test('hibernation - a session hibernated between commands sends what one never hibernated sends', async () => {
    const t = twins();
    t.send(hello('d1', 1));
    t.send(hello('d2', 2));
    expect(t.hibernation.hibernateNow()).toBe(1);
    expect(t.hibernation.hibernated).toBe(1);
    t.send({ type: 'play', deviceId: 'd1', requestId: 3, contextUri: 'playlist:p1' });
    expect(t.hibernation.hibernated).toBe(0);
    await t.flush();
    // Playing (its tick is due) or loading: not hibernated.
    expect(t.hibernation.hibernateNow()).toBe(0);
    t.advance(20_000);
    t.send({ type: 'pause', deviceId: 'd2', requestId: 4 });
    await t.flush();
    expect(t.hibernation.hibernateNow()).toBe(1);
    // Two hours later the paused play's URLs have expired: the resume re-signs them, on the
    // clock of the resume, asleep or not.
    t.advance(2 * 3600_000);
    t.send({ type: 'resume', deviceId: 'd2', requestId: 5 });
    await t.flush();
    t.advance(5_000);
    t.send({ type: 'pause', deviceId: 'd1', requestId: 6 });
    await t.flush();
    expect(t.hibernation.hibernateNow()).toBe(1);
    t.send({ type: 'queue.add', deviceId: 'd1', requestId: 7, uri: 'track:t4' });
    await t.flush();
    expect(t.hibernation.hibernateNow()).toBe(1);
    t.send({ type: 'disconnect', deviceId: 'd2' });
    expect(t.hibernation.hibernateNow()).toBe(1);
    // A device coming back with a resume point; a third device; settings.
    t.send({ ...hello('d2', 8), resume: { version: 3, epoch: 7 } } as SessionCommand);
    t.send(hello('d3', 9));
    expect(t.hibernation.hibernateNow()).toBe(1);
    t.send({ type: 'shuffle', deviceId: 'd3', requestId: 10, on: true });
    t.send({ type: 'volume', deviceId: 'd3', requestId: 11, volume: 30 });
    expect(t.hibernation.hibernateNow()).toBe(1);
    t.advance(1_000);
    t.send({ type: 'next', deviceId: 'd3', requestId: 12 });
    await t.flush();
    t.advance(1_000);
    t.send({ type: 'pause', deviceId: 'd3', requestId: 13 });
    await t.flush();
    t.expectSame();
    expect(t.plain.rec.to('d1', 'playback').length).toBeGreaterThanOrEqual(2);
    expect(t.plain.rec.states.length).toBeGreaterThan(8);
  });

  test('hibernation - a hibernated session saves the same snapshot without waking', async () => {
    const t = twins();
    t.send(hello('d1', 1));
    t.send({ type: 'play', deviceId: 'd1', requestId: 2, contextUri: 'playlist:p1' });
    await t.flush();
    t.advance(45_000);
    t.send({ type: 'pause', deviceId: 'd1', requestId: 3 });
    await t.flush();
    expect(t.hibernation.hibernateNow()).toBe(1);
    t.advance(60_000);
    const saved = t.sleepy.actor.persist();
    expect(saved).toEqual(t.plain.actor.persist());
    expect((saved as { current: { msPlayed: number } | null }).current?.msPlayed).toBe(45_000);
    expect(t.hibernation.hibernated).toBe(1);
    t.sleepy.actor.stop();
    expect(t.hibernation.hibernated).toBe(0);
  });

  test('hibernation - off (afterMs 0) leaves the starter as it is', () => {
    const start = sessionActorStarter(parseConfig({}).actor);
    expect(new Hibernation({ afterMs: 0 }).wrap(start)).toBe(start);
    expect(() => new Hibernation({ afterMs: -1 })).toThrow(RangeError);
  });

  test('hibernation - a quiet session hibernates on its own after afterMs; a command wakes it', async () => {
    const wakes: number[] = [];
    const hibernation = new Hibernation({ afterMs: 16, onWake: (ms) => wakes.push(ms) });
    try {
      const { ports, rec } = fakePorts(world(), () => T0);
      const start = hibernation.wrap(sessionActorStarter(parseConfig({}).actor));
      const actor = start(ports, { userId: 'u1', plan: 'premium', country: 'SE', epoch: 1 });
      actor.send(hello('d1', 1));
      await waitFor('the session to hibernate', () => hibernation.hibernated === 1);
      expect(actor.send({ type: 'volume', deviceId: 'd1', requestId: 2, volume: 10 })).toBe(true);
      expect(hibernation.hibernated).toBe(0);
      expect(wakes).toHaveLength(1);
      expect(rec.to('d1', 'ack').map((a) => a.requestId)).toEqual([2]);
      await waitFor('the session to hibernate', () => hibernation.hibernated === 1);
      actor.stop();
    } finally {
      hibernation.close();
    }
  });

  test('hibernation - the codec leaves defaults out and restores them, refusing bytes that are not MessagePack', () => {
    const t = twins();
    t.send(hello('d1', 1));
    const codec = new SuspendedCodec();
    const state = (t.plain.actor as { suspend(): unknown }).suspend();
    const encoded = codec.encode(state);
    expect(encoded.length).toBeLessThan(JSON.stringify(state).length / 2);
    expect(codec.decode(encoded)).toEqual(state);
    expect(codec.bundlesOf(state)).toBeUndefined();
    expect(() => codec.decode('\xc1')).toThrow();
  });

  test('hibernation - the codec keeps the loaded bundles of a paused play aside, by reference', async () => {
    const t = twins();
    t.send(hello('d1', 1));
    t.send({ type: 'play', deviceId: 'd1', requestId: 2, contextUri: 'playlist:p1' });
    await t.flush();
    t.send({ type: 'pause', deviceId: 'd1', requestId: 3 });
    await t.flush();
    const codec = new SuspendedCodec();
    const state = (t.plain.actor as { suspend(): unknown }).suspend() as { context: { bundles: object } };
    expect(Object.keys(state.context.bundles).length).toBeGreaterThanOrEqual(2);
    const encoded = codec.encode(state);
    const bundles = codec.bundlesOf(state);
    expect(bundles).toBe(state.context.bundles);
    // The chunk tables stay out of the encoding: a paused play is still a few hundred bytes.
    expect(encoded.length).toBeLessThan(1024);
    expect(encoded.length).toBeLessThan(JSON.stringify(state).length / 10);
    const decoded = codec.decode(encoded, bundles) as typeof state;
    expect(decoded).toEqual(state);
    expect(decoded.context.bundles).toBe(state.context.bundles);
  });
});
