/**
 * No silent drop, end to end over a real socket to the real app: every client frame type of
 * the protocol (walked from the schema table, so a new type is covered here at once) is sent
 * as a request and must get its answer: `ack` or `error` with its id (`ping`: `pong`). A
 * command the session cannot handle is answered with `internal/unhandled_command`, not
 * dropped. No sleeps: every wait is an awaited frame with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exampleClientFrames } from '../protocol/examples.ts';
import {
  CLIENT_FRAME_TYPES,
  type ClientFrame,
  type ClientFrameType,
  type ServerFrame,
} from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';
import { rawSocket, type RawSocket } from '../testkit/raw-socket.ts';

let app: App;
let stop: (() => Promise<void>) | undefined;
/** Command types the actor of user u2 is made to refuse (as a machine missing a handler would). */
const refusedForU2 = new Set<string>();

beforeAll(async () => {
  ({ app, stop } = await startTestApp(
    'request-answers-',
    { RATE_LIMIT: '100/100', SESSION_GRACE_MS: '60000' },
    {
      pipeline: false,
      wrapStartActor: (standard) => (ports, input, onError) => {
        const handle = standard(ports, input, onError);
        if (input.userId !== 'u2') return handle;
        return { ...handle, send: (command) => !refusedForU2.has(command.type) && handle.send(command) };
      },
    },
  ));
});

afterAll(() => stop?.());

/** A raw device of `user`, past its welcome. */
async function ready(user: string, deviceId: string): Promise<RawSocket> {
  const u = app.demo.users.find((x) => x.id === user)!;
  const token = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
  const s = rawSocket(app.server.wsUrl);
  await s.opened;
  s.send({
    t: 'hello',
    id: 1,
    token,
    device: { id: deviceId, name: deviceId, type: 'computer' },
    protocol: PROTOCOL_VERSION,
  });
  await s.frame((f) => f.t === 'welcome' && f.id === 1);
  return s;
}

/** The answer to request `id`: the first ack, error or pong that carries it. */
const answerTo = (s: RawSocket, id: number): Promise<ServerFrame> =>
  s.frame((f) => (f.t === 'ack' || f.t === 'error' || f.t === 'pong') && f.id === id, 5000);

/** A request of every type, from the protocol's examples, with ids from 100. */
function requestOf(t: ClientFrameType, id: number): ClientFrame {
  const frame = { ...exampleClientFrames[t], id } as ClientFrame;
  // A play of the demo playlist, so the commands after it act on a real play.
  if (frame.t === 'play') return { t: 'play', id, context: app.demo.playlistUri, offset: { index: 0 } };
  return frame;
}

describe('every request is answered', () => {
  it('session - every client frame type gets an ack or an error (ping: pong) for its id', async () => {
    const s = await ready('u1', 'answers-a');
    // logout closes the socket after its answer: it goes last.
    const order = [...CLIENT_FRAME_TYPES].sort((a, b) => Number(a === 'logout') - Number(b === 'logout'));
    expect(order).toHaveLength(new Set(CLIENT_FRAME_TYPES).size);
    const answers: Partial<Record<ClientFrameType, string>> = {};
    try {
      for (const [i, t] of order.entries()) {
        const id = 100 + i;
        s.send(requestOf(t, id));
        const answer = await answerTo(s, id).catch(() => {
          throw new Error(`no answer to the ${t} request (id ${id})`);
        });
        answers[t] = answer.t === 'error' ? `error ${answer.code}/${answer.reason}` : answer.t;
        if (t === 'ping') expect(answer.t).toBe('pong');
        else expect(['ack', 'error']).toContain(answer.t);
        // A real frame type the server has no handler for would be a bug, even if answered.
        if (answer.t === 'error') expect(answer.reason).not.toBe('unhandled_command');
      }
      expect(Object.keys(answers).sort()).toEqual([...CLIENT_FRAME_TYPES].sort());
      // A hello on a ready socket is refused, the first play starts the demo playlist.
      expect(answers.hello).toBe('error conflict/already_authenticated');
      expect(answers.play).toBe('ack');
      expect(answers.logout).toBe('ack');
    } finally {
      s.ws.close();
    }
  });

  it('session - a command the session has no handler for is answered internal/unhandled_command', async () => {
    refusedForU2.add('shuffle');
    const s = await ready('u2', 'answers-b');
    try {
      s.send({ t: 'shuffle', id: 7, on: true });
      const answer = await answerTo(s, 7);
      expect(answer).toMatchObject({ t: 'error', id: 7, code: 'internal', reason: 'unhandled_command' });
      // The connection and the session go on: the next request is handled.
      s.send({ t: 'repeat', id: 8, mode: 'off' });
      expect(await answerTo(s, 8)).toEqual({ t: 'ack', id: 8 });
    } finally {
      refusedForU2.clear();
      s.ws.close();
    }
  });
});
