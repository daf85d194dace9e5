/**
 * The player door's own promises, with an actor that takes commands and never answers (the
 * case its deadline exists for: a bug or a stuck load must not leave an HTTP request open).
 */
import { describe, expect, it } from 'vitest';
import type { SessionInput, SessionPorts } from '../../actors/ports.ts';
import type { SessionCommand } from '../../actors/types.ts';
import type { StartActor } from '../session-router.ts';
import { PlayerDoor } from './player-door.ts';

function silentActor(door: PlayerDoor, userId: string) {
  const got: SessionCommand[] = [];
  const start: StartActor = () => ({
    send: (c) => {
      got.push(c);
      return true;
    },
    persist: () => ({}),
    stop: () => {},
  });
  const actor = door.wrap(start)({} as SessionPorts, { userId } as SessionInput);
  return { got, actor };
}

describe('player door', () => {
  it('player door - a command the actor never answers settles as unavailable after the deadline', async () => {
    const door = new PlayerDoor({ answerTimeoutMs: 30 });
    const { got } = silentActor(door, 'u1');
    const answers = await Promise.all([
      door.send('u1', { type: 'pause', deviceId: 'd1' }),
      door.send('u1', { type: 'resume', deviceId: 'd1' }),
    ]);
    expect(got.map((c) => [c.type, c.requestId])).toEqual([
      ['pause', 'h1'],
      ['resume', 'h2'],
    ]);
    for (const a of answers)
      expect(a).toMatchObject({
        ok: false,
        error: { code: 'unavailable', message: expect.stringMatching(/in time/) },
      });
    // The sweep is gone with the last waiting command; a later one gets its own deadline.
    expect(await door.send('u1', { type: 'pause', deviceId: 'd1' })).toMatchObject({ ok: false });
  });

  it('player door - a session that stops answers its waiting commands at once', async () => {
    const door = new PlayerDoor({ answerTimeoutMs: 60_000 });
    const { actor } = silentActor(door, 'u2');
    const waiting = door.send('u2', { type: 'next', deviceId: 'd1' });
    actor.stop();
    expect(await waiting).toMatchObject({
      ok: false,
      error: { code: 'unavailable', message: 'the session ended' },
    });
  });

  it('player door - no live session: no_active_device, nothing sent', async () => {
    const door = new PlayerDoor();
    expect(await door.send('nobody', { type: 'pause', deviceId: 'd1' })).toMatchObject({
      ok: false,
      error: { code: 'conflict', reason: 'no_active_device' },
    });
  });
});
