import { describe, expect, test } from 'vitest';
import { CLIENT_FRAME_TYPES } from '../protocol/messages.ts';
import { exampleClientFrames } from '../protocol/examples.ts';
import { toCommand } from '../session/frames.ts';
import { fakePorts, fakeWorld } from '../testkit/fake-ports.ts';
import { createSessionMachine, handledInEveryState } from './session-actor.ts';

describe('session actor binding', () => {
  const { ports } = fakePorts(fakeWorld([]), () => 0);
  const everywhere = handledInEveryState(createSessionMachine(ports));

  test('session actor - the machine takes every command of every client frame type in every state', () => {
    // Walks the protocol's client frame types, so a new frame type is checked here at once.
    const commandTypes = new Set<string>(['hello', 'disconnect']);
    for (const t of CLIENT_FRAME_TYPES) {
      const command = toCommand(exampleClientFrames[t], 'd1');
      if (command) commandTypes.add(command.type);
    }
    const missing = [...commandTypes].filter((type) => !everywhere.has(type));
    expect(missing).toEqual([]);
  });

  test('session actor - an event type no state takes is not in the handled set', () => {
    expect(everywhere.has('no.such.command')).toBe(false);
    expect(everywhere.size).toBeGreaterThan(0);
  });
});
