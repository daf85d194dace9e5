/**
 * The edges of a device socket, end to end over real sockets: refused hellos say why before
 * they close, commands pipelined behind a hello, every request answered once even when rate
 * limited, the transport's own closes (oversized, idle) with their documented codes, logout,
 * close metrics, and a failing session actor that is dropped without taking the process or
 * the other sessions with it. No sleeps: every wait is an awaited event with a timeout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { ClientFrame, ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { startApp, type App } from './start-app.ts';
import { parseConfig } from './config.ts';
import { rawSocket, withTimeout, type RawSocket } from '../testkit/raw-socket.ts';

const MAX_FRAME_BYTES = 4096;

let app: App;
let strict: App;
let dir: string;
/** Users whose actor's next device send throws (a fault injected through the ports). */
const faulty = new Set<string>();
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'socket-edges-'));
  process.on('uncaughtException', onUncaught);
  app = await startApp(
    parseConfig({
      PORT: '0',
      DATA_DIR: join(dir, 'a'),
      LOG_LEVEL: 'silent',
      SESSION_GRACE_MS: '60000',
      MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    }),
    {
      demo: 'fixture',
      pipeline: false,
      wrapStartActor: (standard) => (ports, input, onError) =>
        standard(
          {
            ...ports,
            sendToDevice: (userId, deviceId, output) => {
              if (faulty.delete(userId)) throw new Error('injected fault in sendToDevice');
              ports.sendToDevice(userId, deviceId, output);
            },
          },
          input,
          onError,
        ),
    },
  );
  // Small rate limit and a 1 s idle limit, apart so they do not disturb the other tests.
  strict = await startApp(
    parseConfig({
      PORT: '0',
      DATA_DIR: join(dir, 'b'),
      LOG_LEVEL: 'silent',
      RATE_LIMIT: '5/5',
      IDLE_TIMEOUT_S: '1',
    }),
    { demo: 'fixture', pipeline: false },
  );
});

afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  await app?.close();
  await strict?.close();
  rmSync(dir, { recursive: true, force: true });
});

const hello = (token: string | undefined, device = 'edge-d', extra: object = {}): ClientFrame =>
  ({
    t: 'hello',
    id: 1,
    ...(token === undefined ? {} : { token }),
    device: { id: device, name: device, type: 'web' },
    protocol: PROTOCOL_VERSION,
    ...extra,
  }) as ClientFrame;

const tokenFor = (a: App, userId = 'u1') => a.server.auth.mint({ userId, plan: 'premium', country: 'SE' });

async function open(a: App, options?: WebSocket.ClientOptions): Promise<RawSocket> {
  const s = rawSocket(a.server.wsUrl, options);
  await withTimeout(s.opened, 'open');
  return s;
}

const isError = (f: ServerFrame) => f.t === 'error';

describe('socket edges', () => {
  it('socket edges - a hello without a token, or with an empty one: unauthorized/token_missing, then close 4500', async () => {
    for (const token of [undefined, '']) {
      const s = await open(app);
      s.send(hello(token));
      expect(await s.frame(isError)).toMatchObject({ code: 'unauthorized', reason: 'token_missing', id: 1 });
      expect((await withTimeout(s.closed, 'close')).code).toBe(CLOSE_CODES.bad_token.code);
    }
  });

  it('socket edges - a bad token says token_invalid before its close; no session is touched', async () => {
    const sessions = app.server.registry.size;
    const s = await open(app);
    s.send(hello('a.b.c'));
    expect(await s.frame(isError)).toMatchObject({ code: 'unauthorized', reason: 'token_invalid', id: 1 });
    expect((await withTimeout(s.closed, 'close')).code).toBe(CLOSE_CODES.bad_token.code);
    expect(app.server.registry.size).toBe(sessions);
  });

  it('socket edges - a hello that fails validation: bad_request naming the field, then close 4504 (terminal)', async () => {
    const s = await open(app);
    s.send(hello(await tokenFor(app), 'edge-d', { device: { id: 'x', name: 'x', type: 'toaster' } }));
    const err = await s.frame(isError);
    expect(err).toMatchObject({ code: 'bad_request', reason: 'invalid_field', id: 1 });
    expect((err as { message: string }).message).toMatch(/device/);
    const closed = await withTimeout(s.closed, 'close');
    expect(closed.code).toBe(CLOSE_CODES.bad_hello.code);
    expect(CLOSE_CODES.bad_hello.action).toBe('terminal');
  });

  it('socket edges - an unsupported protocol version says so before closing with 4501', async () => {
    const s = await open(app);
    s.send(hello(await tokenFor(app), 'edge-d', { protocol: 999 }));
    expect(await s.frame(isError)).toMatchObject({ code: 'bad_request', id: 1 });
    expect((await withTimeout(s.closed, 'close')).code).toBe(CLOSE_CODES.unsupported_protocol.code);
  });

  it('socket edges - commands pipelined behind the hello run after it, in order', async () => {
    const s = await open(app);
    const token = await tokenFor(app, 'u2');
    // All at once, without waiting for the welcome.
    s.send(hello(token, 'edge-pipe'));
    s.send({ t: 'play', id: 2, uris: app.demo.trackUris.slice(0, 3) });
    s.send({ t: 'next', id: 3 });
    s.send({ t: 'pause', id: 4 });
    for (const id of [2, 3, 4])
      expect(await s.frame((f) => (f.t === 'ack' || f.t === 'error') && f.id === id)).toMatchObject({
        t: 'ack',
      });
    // The welcome first; then the commands applied in the order sent: the play, a skip to its
    // second track, a pause of that track (a skip is answered once its track is loaded, so
    // the acks themselves may come in another order).
    expect(s.frames.findIndex((f) => f.t === 'welcome')).toBeLessThan(
      s.frames.findIndex((f) => f.t === 'ack'),
    );
    const playbacks = s.frames.filter((f) => f.t === 'playback') as Extract<ServerFrame, { t: 'playback' }>[];
    expect(playbacks.at(-1)!.track.id).toBe(app.demo.trackUris[1]!.split(':')[2]);
    const state = s.frames.filter((f) => f.t === 'state').at(-1) as Extract<ServerFrame, { t: 'state' }>;
    expect(state.state.is_playing).toBe(false);
    s.ws.close();
  });

  it('socket edges - every rate-limited request is answered by its own id', async () => {
    const s = await open(strict);
    s.send(hello(await tokenFor(strict), 'edge-rl'));
    await s.frame((f) => f.t === 'welcome');
    // Within the burst of refusals that is tolerated before a flood close (5).
    const ids = Array.from({ length: 9 }, (_, i) => 100 + i);
    for (const id of ids) s.send({ t: 'volume', id, percent: 50 });
    const answers = await Promise.all(
      ids.map((id) => s.frame((f) => (f.t === 'ack' || f.t === 'error') && f.id === id)),
    );
    const limited = answers.filter((f) => f.t === 'error');
    expect(limited.length).toBeGreaterThan(0);
    for (const f of limited) expect(f).toMatchObject({ code: 'rate_limited', reason: 'too_many_requests' });
    expect((limited[0] as { retry_after_ms?: number }).retry_after_ms).toBeGreaterThan(0);
    // Exactly one answer per request.
    const answered = s.frames.filter(
      (f) => (f.t === 'ack' || f.t === 'error') && 'id' in f && ids.includes(f.id!),
    );
    expect(answered).toHaveLength(ids.length);
    s.ws.close();
  });

  it('socket edges - a frame far past the limit still closes with frame_too_large (4002), not an abrupt cut', async () => {
    const s = await open(app);
    s.ws.send(new Uint8Array(MAX_FRAME_BYTES * 16));
    expect((await withTimeout(s.closed, 'close')).code).toBe(CLOSE_CODES.frame_too_large.code);
  });

  it('socket edges - a peer that answers no ping is closed with idle_timeout (4004); one that pongs stays', async () => {
    const token = await tokenFor(strict);
    const mute = await open(strict, { autoPong: false });
    mute.send(hello(token, 'edge-mute'));
    await mute.frame((f) => f.t === 'welcome');
    const alive = await open(strict);
    alive.send(hello(token, 'edge-alive'));
    await alive.frame((f) => f.t === 'welcome');
    let pings = 0;
    const threePings = new Promise<void>((resolve) =>
      alive.ws.on('ping', () => {
        if (++pings === 3) resolve();
      }),
    );
    expect((await withTimeout(mute.closed, 'idle close')).code).toBe(CLOSE_CODES.idle_timeout.code);
    // Three probes answered span more than the 1 s limit: the ponging peer is still open.
    await withTimeout(threePings, 'three pings');
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    alive.ws.close();
  });

  it('socket edges - logout is acked, then that socket closes with 4503; the other device goes on', async () => {
    const token = await tokenFor(app, 'u2');
    const a = await open(app);
    a.send(hello(token, 'edge-lo-a'));
    await a.frame((f) => f.t === 'welcome');
    const b = await open(app);
    b.send(hello(token, 'edge-lo-b'));
    await b.frame((f) => f.t === 'welcome');
    a.send({ t: 'logout', id: 7 });
    expect(await a.frame((f) => f.t === 'ack' && f.id === 7)).toBeTruthy();
    expect((await withTimeout(a.closed, 'close')).code).toBe(CLOSE_CODES.logged_out.code);
    b.send({ t: 'ping', id: 8 });
    expect(await b.frame((f) => f.t === 'pong' && f.id === 8)).toBeTruthy();
    expect(app.server.registry.liveSession('u2')?.connectedDevices()).toBeGreaterThanOrEqual(1);
    b.ws.close();
  });

  it('socket edges - the SDK logout is acked, then the client ends for good on 4503', async () => {
    const client = new SessionClient({
      url: app.server.wsUrl,
      token: await tokenFor(app, 'u2'),
      device: { id: 'edge-sdk-logout', name: 'sdk', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
      reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    });
    try {
      await client.connect();
      const ended = client.waitFor('ended');
      await client.logout();
      await withTimeout(ended, 'ended');
      await expect(client.ping()).rejects.toBeDefined();
    } finally {
      client.close();
    }
  });

  it('socket edges - a failing session actor is dropped unsaved: its devices close with 4006 and reconnect; nothing else stops', async () => {
    const before = app.server.registry.liveSession('u1');
    const token = await tokenFor(app, 'u1');
    const client = new SessionClient({
      url: app.server.wsUrl,
      token,
      device: { id: 'edge-crash', name: 'crash', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
      reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    });
    const bystander = await open(app);
    bystander.send(hello(await tokenFor(app, 'u2'), 'edge-bystander'));
    await bystander.frame((f) => f.t === 'welcome');
    try {
      await client.connect();
      const live = app.server.registry.liveSession('u1');
      expect(live).toBeDefined();
      const closed = client.waitFor('close');
      const welcomeAgain = client.waitFor('welcome', { timeoutMs: 10_000 });
      faulty.add('u1');
      // The actor's next send to a device throws inside the actor.
      void client.volume(10).catch(() => undefined);
      expect((await closed).code).toBe(CLOSE_CODES.session_reset.code);
      await welcomeAgain;
      const after = app.server.registry.liveSession('u1');
      expect(after).toBeDefined();
      expect(after).not.toBe(live);
      expect(after).not.toBe(before);
      // The new session works.
      await client.volume(20);
      const metrics = await (await fetch(`${app.server.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/session_actor_failures_total 1/);
      expect(metrics).toMatch(
        new RegExp(`session_closes_total\\{code="${CLOSE_CODES.session_reset.code}"\\} 1`),
      );
      // No uncaught exception, and the other user's session never noticed.
      expect(uncaught).toEqual([]);
      bystander.send({ t: 'ping', id: 9 });
      expect(await bystander.frame((f) => f.t === 'pong' && f.id === 9)).toBeTruthy();
    } finally {
      client.close();
      bystander.ws.close();
    }
  });

  it('socket edges - track ids naming Object.prototype members are bad_request; the session goes on', async () => {
    const s = await open(app);
    s.send(hello(await tokenFor(app, 'u2'), 'edge-proto'));
    await s.frame((f) => f.t === 'welcome');
    for (const [id, uri] of [
      [20, 'spotify:track:constructor'],
      [21, 'spotify:track:__proto__'],
      [22, 'spotify:track:toString'],
    ] as const) {
      s.send({ t: 'queue.add', id, uri });
      expect(await s.frame((f) => f.t === 'error' && f.id === id)).toMatchObject({ code: 'bad_request' });
    }
    s.send({ t: 'play', id: 23, uris: app.demo.trackUris.slice(0, 2) });
    expect(await s.frame((f) => f.t === 'ack' && f.id === 23)).toBeTruthy();
    expect(uncaught).toEqual([]);
    s.ws.close();
  });

  it('socket edges - every server close is counted by its code', async () => {
    const metrics = await (await fetch(`${app.server.httpUrl}/metrics`)).text();
    for (const name of [
      'bad_token',
      'bad_hello',
      'unsupported_protocol',
      'frame_too_large',
      'logged_out',
    ] as const) {
      expect(metrics).toMatch(new RegExp(`session_closes_total\\{code="${CLOSE_CODES[name].code}"\\} [1-9]`));
    }
    const strictMetrics = await (await fetch(`${strict.server.httpUrl}/metrics`)).text();
    expect(strictMetrics).toMatch(
      new RegExp(`session_closes_total\\{code="${CLOSE_CODES.idle_timeout.code}"\\} [1-9]`),
    );
  });
});
