import { initialTransition, transition } from 'xstate';
import { describe, expect, test } from 'vitest';
import { fakeSignUrl, fakeWorld, T0 } from '../testkit/fake-ports.ts';
import { createSessionLogic, type SessionMachineSnapshot } from './session-machine.ts';
import type { Emission } from './session-effects.ts';
import type { QueueEditCommand } from './types.ts';

/** `queue.edit` (remove by index or uri, move, clear) as pure transitions. */

const logic = createSessionLogic({ now: () => T0, signUrl: fakeSignUrl });
const world = fakeWorld(['t1', 't2', 't3', 't4'].map((id) => ({ id })));
const bundles = Object.fromEntries([...world.tracks].map(([id, b]) => [id, b]));
const step = (s: SessionMachineSnapshot, e: unknown) => transition(logic, s, e as never);

/** A playing session with t2, t3, t2 queued. */
function queued(): SessionMachineSnapshot {
  let [s] = initialTransition(logic, { userId: 'u1', plan: 'premium', country: 'SE', epoch: 1 });
  [s] = step(s, {
    type: 'hello',
    deviceId: 'd1',
    name: 'd1',
    deviceType: 'phone',
    plan: 'premium',
    country: 'SE',
  });
  [s] = step(s, { type: 'play', deviceId: 'd1', uris: ['track:t1', 'track:t4'] });
  [s] = step(s, {
    type: 'xstate.done.actor.resolveContext',
    output: { uri: null, tracks: ['t1', 't4'].map((id) => ({ id, artistId: `a-${id}` })) },
  });
  [s] = step(s, {
    type: 'xstate.done.actor.loadTarget',
    output: { trackIds: ['t1', 't2', 't3', 't4'], result: bundles },
  });
  for (const [i, t] of ['t2', 't3', 't2'].entries())
    [s] = step(s, { type: 'queue.add', deviceId: 'd1', requestId: i, uri: `track:${t}` });
  // The adds wait for their tracks' bundles, which the background fetcher brings.
  [s] = step(s, {
    type: 'xstate.done.actor.loadAhead',
    output: { trackIds: ['t2', 't3'], result: { t2: bundles.t2, t3: bundles.t3 } },
  });
  expect(s.context.order.queue).toEqual(['t2', 't3', 't2']);
  return s;
}

function edit(
  s: SessionMachineSnapshot,
  e: QueueEditCommand['edit'],
): { s: SessionMachineSnapshot; answer: string; version: boolean } {
  const before = s.context.version;
  const [after, actions] = step(s, { type: 'queue.edit', deviceId: 'd1', requestId: 'e', edit: e });
  const out = (actions as Array<{ type: string; params?: { out?: Emission[] } }>).flatMap((a) =>
    a.type === 'emit' ? a.params!.out! : [],
  );
  const ans = out.find((o) => o.kind === 'send' && (o.output as { requestId?: unknown }).requestId === 'e');
  const o = ans?.kind === 'send' ? (ans.output as { type: string; code?: string }) : undefined;
  return {
    s: after,
    answer: o?.type === 'error' ? `error:${o.code}` : (o?.type ?? 'none'),
    version: after.context.version > before,
  };
}

describe('queue edit', () => {
  test('queue edit - remove by index, by uri (every entry), move, clear', () => {
    let r = edit(queued(), { op: 'remove', index: 1 });
    expect([r.answer, r.version, r.s.context.order.queue]).toEqual(['ack', true, ['t2', 't2']]);
    r = edit(queued(), { op: 'remove', uri: 'track:t2' });
    expect(r.s.context.order.queue).toEqual(['t3']);
    r = edit(queued(), { op: 'move', from: 2, to: 0 });
    expect(r.s.context.order.queue).toEqual(['t2', 't2', 't3']);
    r = edit(queued(), { op: 'move', from: 1, to: 2 });
    expect(r.s.context.order.queue).toEqual(['t2', 't2', 't3']);
    r = edit(queued(), { op: 'clear' });
    expect([r.answer, r.s.context.order.queue]).toEqual(['ack', []]);
  });

  test('queue edit - what changes nothing is acked with no new version; bad edits are refused', () => {
    const cleared = edit(queued(), { op: 'clear' }).s;
    expect(edit(cleared, { op: 'clear' })).toMatchObject({ answer: 'ack', version: false });
    expect(edit(queued(), { op: 'move', from: 1, to: 1 })).toMatchObject({ answer: 'ack', version: false });
    expect(edit(queued(), { op: 'remove', index: 3 }).answer).toBe('error:bad_request');
    expect(edit(queued(), { op: 'remove', index: -1 }).answer).toBe('error:bad_request');
    expect(edit(queued(), { op: 'move', from: 0, to: 3 }).answer).toBe('error:bad_request');
    expect(edit(queued(), { op: 'remove', uri: 'album:x' }).answer).toBe('error:bad_request');
    expect(edit(queued(), { op: 'remove', uri: 'track:t9' }).answer).toBe('error:not_found');
    expect(edit(queued(), { op: 'shuffle' } as never).answer).toBe('error:bad_request');
  });

  test('queue edit - an edit by index with `expect` is refused when another track is there now (a stale view)', () => {
    let r = edit(queued(), { op: 'remove', index: 1, expect: 'track:t3' });
    expect([r.answer, r.s.context.order.queue]).toEqual(['ack', ['t2', 't2']]);
    r = edit(queued(), { op: 'remove', index: 1, expect: 'track:t2' });
    expect([r.answer, r.version, r.s.context.order.queue]).toEqual([
      'error:conflict',
      false,
      ['t2', 't3', 't2'],
    ]);
    r = edit(queued(), { op: 'move', from: 2, to: 1, expect: 'track:t2' });
    expect([r.answer, r.s.context.order.queue]).toEqual(['ack', ['t2', 't2', 't3']]);
    r = edit(queued(), { op: 'move', from: 1, to: 0, expect: 'track:t2' });
    expect([r.answer, r.s.context.order.queue]).toEqual(['error:conflict', ['t2', 't3', 't2']]);
  });
});

describe('queue add', () => {
  test('queue add - adds land in the order sent: a known track added behind one still loading waits for it', () => {
    let [s] = initialTransition(logic, { userId: 'u1', plan: 'premium', country: 'SE', epoch: 1 });
    [s] = step(s, {
      type: 'hello',
      deviceId: 'd1',
      name: 'd1',
      deviceType: 'phone',
      plan: 'premium',
      country: 'SE',
    });
    [s] = step(s, { type: 'play', deviceId: 'd1', uris: ['track:t1', 'track:t4'] });
    [s] = step(s, {
      type: 'xstate.done.actor.resolveContext',
      output: { uri: null, tracks: ['t1', 't4'].map((id) => ({ id, artistId: `a-${id}` })) },
    });
    [s] = step(s, {
      type: 'xstate.done.actor.loadTarget',
      output: { trackIds: ['t1', 't4'], result: { t1: bundles.t1, t4: bundles.t4 } },
    });
    const acks: unknown[] = [];
    for (const [i, t] of ['t3', 't1', 't4'].entries()) {
      const [next, actions] = step(s, { type: 'queue.add', deviceId: 'd1', requestId: i, uri: `track:${t}` });
      s = next;
      acks.push(...answers(actions));
    }
    // t3's bundle is not known yet: t1 and t4, known, wait behind it, unanswered.
    expect(s.context.order.queue).toEqual([]);
    expect(acks).toEqual([]);
    const [after, actions] = step(s, {
      type: 'xstate.done.actor.loadAhead',
      output: { trackIds: ['t3'], result: { t3: bundles.t3 } },
    });
    expect(after.context.order.queue).toEqual(['t3', 't1', 't4']);
    expect(answers(actions)).toEqual([0, 1, 2]);
  });
});

/** The request ids acked by a step's emissions, in order. */
function answers(actions: unknown): unknown[] {
  return (actions as Array<{ type: string; params?: { out?: Emission[] } }>)
    .flatMap((a) => (a.type === 'emit' ? a.params!.out! : []))
    .flatMap((o) => {
      const out = o.kind === 'send' ? (o.output as { type?: string; requestId?: unknown }) : undefined;
      return out?.type === 'ack' ? [out.requestId] : [];
    });
}
