/**
 * Every Web API endpoint of issue 18, each with the refusals Spotify's description gives it
 * (official OpenAPI file, sonallux/spotify-web-api): wrong types (400), an expired token
 * (401), a free listener where premium is needed (403 PREMIUM_REQUIRED), an unknown device
 * and no active device (404 NO_ACTIVE_DEVICE), the rate limit (429 with Retry-After); and its
 * good answer. Each check is a fresh listener, so no check spends another's budget; the
 * limit is 4 requests then one per 100 s, so a 429 is certain, whatever the machine's speed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { createAuthenticator } from '../session/auth.ts';
import { rawSocket, type RawSocket } from '../testkit/raw-socket.ts';
import { DEV_JWT_SECRET } from './config.ts';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';

let app: App;
let stop: (() => Promise<void>) | undefined;
const sockets: RawSocket[] = [];
let users = 0;

beforeAll(async () => {
  ({ app, stop } = await startTestApp('player-api-endpoints-', {
    SESSION_GRACE_MS: '60000',
    PLAYER_API_RATE_LIMIT: '0.01/4',
  }));
});

afterAll(async () => {
  for (const s of sockets) s.ws.close();
  await stop?.();
});

/** A token of a listener never seen before. */
async function listener(plan: 'premium' | 'free' = 'premium'): Promise<{ id: string; token: string }> {
  const id = `ep-${++users}`;
  return { id, token: await app.server.auth.mint({ userId: id, plan, country: 'SE' }) };
}

/** A connected device of the listener, past its welcome; nothing is played. */
async function device(token: string, id: string): Promise<void> {
  const s = rawSocket(app.server.wsUrl);
  sockets.push(s);
  await s.opened;
  s.send({ t: 'hello', id: 1, token, device: { id, name: id, type: 'speaker' }, protocol: PROTOCOL_VERSION });
  await s.frame((f) => f.t === 'welcome' && f.id === 1, 20_000);
}

interface Call {
  method: string;
  path: string;
  body?: unknown;
}

async function call(c: Call, token: string): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${app.server.httpUrl}${c.path}`, {
    method: c.method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(c.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(c.body !== undefined ? { body: typeof c.body === 'string' ? c.body : JSON.stringify(c.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

interface Endpoint {
  name: string;
  call: Call;
  /** A player command (premium, a device): else a read. */
  command: boolean;
  /** The same call with a device_id parameter (unknown device). */
  onDevice?: (id: string) => Call;
  /** Calls with a wrong type or a value out of range: each a 400. */
  bad: Call[];
  /** What the good call needs first, once playing (at most 2 calls: the budget is 4). */
  before?: Call[];
}

const put = (path: string, body?: unknown): Call => ({ method: 'PUT', path, ...(body ? { body } : {}) });
const post = (path: string): Call => ({ method: 'POST', path });
const get = (path: string): Call => ({ method: 'GET', path });
const del = (path: string): Call => ({ method: 'DELETE', path });
const withDevice = (c: Call) => (id: string) => ({
  ...c,
  path: `${c.path}${c.path.includes('?') ? '&' : '?'}device_id=${id}`,
});
const cmd = (name: string, c: Call, bad: Call[], before?: Call[]): Endpoint => ({
  name,
  call: c,
  command: true,
  onDevice: withDevice(c),
  bad,
  ...(before ? { before } : {}),
});

const ENDPOINTS: Endpoint[] = [
  {
    name: 'GET /v1/me/player',
    call: get('/v1/me/player'),
    command: false,
    bad: [get('/v1/me/player?min_version=x'), get('/v1/me/player?market=se')],
  },
  {
    name: 'GET /v1/me/player/currently-playing',
    call: get('/v1/me/player/currently-playing'),
    command: false,
    bad: [get('/v1/me/player/currently-playing?market=123')],
  },
  // No parameters: nothing can be of a wrong type.
  { name: 'GET /v1/me/player/devices', call: get('/v1/me/player/devices'), command: false, bad: [] },
  { name: 'GET /v1/me/player/queue', call: get('/v1/me/player/queue'), command: false, bad: [] },
  {
    name: 'GET /v1/me/player/recently-played',
    call: get('/v1/me/player/recently-played?limit=10'),
    command: false,
    bad: [
      get('/v1/me/player/recently-played?limit=abc'),
      get('/v1/me/player/recently-played?limit=51'),
      get('/v1/me/player/recently-played?before=yesterday'),
    ],
  },
  {
    name: 'GET /v1/tracks/{id}',
    call: get('/v1/tracks/demo01'),
    command: false,
    bad: [get('/v1/tracks/a%20b'), get('/v1/tracks/demo01?market=sweden')],
  },
  {
    name: 'GET /v1/tracks',
    call: get('/v1/tracks?ids=demo01,demo02'),
    command: false,
    bad: [get('/v1/tracks'), get('/v1/tracks?ids=a,b%20c')],
  },
  {
    name: 'PUT /v1/me/player (transfer)',
    call: put('/v1/me/player', { device_ids: ['DEVICE'] }),
    command: true,
    onDevice: (id) => put('/v1/me/player', { device_ids: [id] }),
    bad: [
      put('/v1/me/player', { device_ids: 'a' }),
      put('/v1/me/player', { device_ids: ['a'], play: 'yes' }),
      put('/v1/me/player', { device_ids: ['a', 'b'] }),
      put('/v1/me/player', '{'),
    ],
  },
  cmd('PUT /v1/me/player/play', put('/v1/me/player/play', { uris: ['spotify:track:demo01'] }), [
    put('/v1/me/player/play', { uris: 'spotify:track:demo01' }),
    put('/v1/me/player/play', { context_uri: 42 }),
    put('/v1/me/player/play', { uris: ['spotify:track:demo01'], position_ms: '5' }),
    put('/v1/me/player/play', { uris: ['spotify:track:demo01'], offset: { position: 'first' } }),
    put('/v1/me/player/play', { uris: ['spotify:track:demo01'], context_uri: 'spotify:album:a1' }),
  ]),
  cmd('PUT /v1/me/player/pause', put('/v1/me/player/pause'), [put('/v1/me/player/pause?device_id=')]),
  cmd('POST /v1/me/player/next', post('/v1/me/player/next'), [post('/v1/me/player/next?device_id=')]),
  cmd(
    'POST /v1/me/player/previous',
    post('/v1/me/player/previous'),
    [post('/v1/me/player/previous?device_id=')],
    // At the first track it is NO_PREV_TRACK (player-api.test.ts): one track on first.
    [post('/v1/me/player/next')],
  ),
  cmd('PUT /v1/me/player/seek', put('/v1/me/player/seek?position_ms=1000'), [
    put('/v1/me/player/seek'),
    put('/v1/me/player/seek?position_ms=abc'),
    put('/v1/me/player/seek?position_ms=-1'),
  ]),
  cmd('PUT /v1/me/player/repeat', put('/v1/me/player/repeat?state=context'), [
    put('/v1/me/player/repeat'),
    put('/v1/me/player/repeat?state=1'),
  ]),
  cmd('PUT /v1/me/player/shuffle', put('/v1/me/player/shuffle?state=true'), [
    put('/v1/me/player/shuffle?state=1'),
  ]),
  cmd('PUT /v1/me/player/volume', put('/v1/me/player/volume?volume_percent=40'), [
    put('/v1/me/player/volume'),
    put('/v1/me/player/volume?volume_percent=50.5'),
    put('/v1/me/player/volume?volume_percent=101'),
  ]),
  cmd('POST /v1/me/player/queue', post('/v1/me/player/queue?uri=spotify:track:demo02'), [
    post('/v1/me/player/queue'),
    post('/v1/me/player/queue?uri=42'),
  ]),
  cmd('DELETE /v1/me/player/queue (extension)', del('/v1/me/player/queue?all=true'), [
    del('/v1/me/player/queue?index=x'),
    del('/v1/me/player/queue?index=0&all=true'),
  ]),
  cmd(
    'PUT /v1/me/player/queue (extension)',
    put('/v1/me/player/queue', { from: 1, to: 0 }),
    [put('/v1/me/player/queue', { from: 'a', to: 0 }), put('/v1/me/player/queue', { from: -1, to: 0 })],
    [
      post('/v1/me/player/queue?uri=spotify:track:demo05'),
      post('/v1/me/player/queue?uri=spotify:track:demo06'),
    ],
  ),
];

const spotifyError = (status: number, reason?: string) => ({
  error: {
    status,
    code: expect.any(String),
    message: expect.any(String),
    ...(reason ? { reason } : {}),
  },
});

describe.each(ENDPOINTS)('player api endpoints - $name', (ep) => {
  it('player api endpoints - wrong types and out-of-range values are 400s with Spotify’s error body', async () => {
    const { token } = await listener();
    for (const bad of ep.bad) {
      const r = await call(bad, token);
      expect(r.status, `${bad.method} ${bad.path} ${JSON.stringify(bad.body)}`).toBe(400);
      expect(r.body).toEqual(spotifyError(400));
    }
  });

  it('player api endpoints - an expired token is a 401 token_expired', async () => {
    const expired = await createAuthenticator(DEV_JWT_SECRET, () => Date.now() - 3_600_000).mint(
      { userId: 'ep-expired', plan: 'premium', country: 'SE' },
      60,
    );
    const r = await call(ep.call, expired);
    expect(r.status).toBe(401);
    expect(r.body).toEqual(spotifyError(401, 'token_expired'));
  });

  it('player api endpoints - past the rate limit: 429 with Retry-After', async () => {
    const { token } = await listener();
    // The budget (4) spent on another Web API route: the limit is the listener's, not the route's.
    for (let i = 0; i < 4; i++) expect((await call(get('/v1/me/player/devices'), token)).status).toBe(200);
    const r = await call(ep.call, token);
    expect(r.status).toBe(429);
    expect(Number(r.headers.get('retry-after'))).toBe(100);
    expect(r.body).toEqual(spotifyError(429));
  });

  if (ep.command) {
    it('player api endpoints - a free listener gets 403 PREMIUM_REQUIRED', async () => {
      const free = await listener('free');
      await device(free.token, 'free-d');
      const r = await call(ep.onDevice!('free-d'), free.token);
      expect(r.status).toBe(403);
      expect(r.body).toEqual(spotifyError(403, 'PREMIUM_REQUIRED'));
    });

    it('player api endpoints - an unknown device is a 404 NO_ACTIVE_DEVICE', async () => {
      const { token } = await listener();
      await device(token, 'known-d');
      const r = await call(ep.onDevice!('no-such-device'), token);
      expect(r.status).toBe(404);
      expect(r.body).toEqual(spotifyError(404, 'NO_ACTIVE_DEVICE'));
    });

    it('player api endpoints - with no active device: 404 NO_ACTIVE_DEVICE (a transfer needs none)', async () => {
      const { token } = await listener();
      await device(token, 'idle-d');
      const idle = await call(get('/v1/me/player/devices'), token);
      expect(idle.body.devices).toEqual([expect.objectContaining({ id: 'idle-d', is_active: false })]);
      if (ep.name.startsWith('PUT /v1/me/player (transfer)')) {
        const r = await call(ep.onDevice!('idle-d'), token);
        expect(r.status, JSON.stringify(r.body)).toBe(204);
        return;
      }
      const r = await call(ep.call, token);
      expect(r.status).toBe(404);
      expect(r.body).toEqual(spotifyError(404, 'NO_ACTIVE_DEVICE'));
    });

    it('player api endpoints - the good call on an active device answers 204 with the state version', async () => {
      const { token } = await listener();
      await device(token, 'good-d');
      // Playing on the device first (the play call itself is the good call for /play).
      const uris = ['spotify:track:demo01', 'spotify:track:demo02', 'spotify:track:demo03'];
      const play = await call(withDevice(put('/v1/me/player/play', { uris }))('good-d'), token);
      expect(play.status, JSON.stringify(play.body)).toBe(204);
      for (const c of ep.before ?? []) {
        const r = await call(c, token);
        expect(r.status, `${c.method} ${c.path} ${JSON.stringify(r.body)}`).toBe(204);
      }
      const r = await call(ep.onDevice!('good-d'), token);
      expect(r.status, JSON.stringify(r.body)).toBe(204);
      expect(Number(r.headers.get('player-state-version'))).toBeGreaterThan(0);
    });
  } else {
    it('player api endpoints - a read answers a free listener too, with Spotify’s object', async () => {
      const free = await listener('free');
      await device(free.token, 'free-read-d');
      const r = await call(ep.call, free.token);
      expect([200, 204], JSON.stringify(r.body)).toContain(r.status);
      if (r.status === 200) expect(typeof r.body).toBe('object');
    });
  }
});
