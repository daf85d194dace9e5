/**
 * The Spotify Web API player, end to end over real sockets to the real app: HTTP commands go
 * to the same session actor as a device's frames (ordered with them, seen by every device),
 * answers carry the state version, `min_version` waits, SSE delivers each state once and
 * resumes from Last-Event-ID, and every endpoint refuses bad input with Spotify's error body.
 * No sleeps: every wait is an awaited frame, answer or event with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StateFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { createAuthenticator } from '../session/auth.ts';
import { rawSocket, withTimeout, type RawSocket } from '../testkit/raw-socket.ts';
import { DEV_JWT_SECRET } from './config.ts';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';
import { openSse } from '../testkit/sse-stream.ts';

let app: App;
let stop: (() => Promise<void>) | undefined;
const tokens: Record<string, string> = {};
const sockets: RawSocket[] = [];

beforeAll(async () => {
  ({ app, stop } = await startTestApp('player-api-', {
    SESSION_GRACE_MS: '60000',
    RATE_LIMIT: '1000/1000',
    PLAYER_API_RATE_LIMIT: '50/200',
    PLAYER_API_MAX_WAIT_MS: '300',
  }));
  for (const u of app.demo.users)
    tokens[u.id] = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
});

afterAll(async () => {
  for (const s of sockets) s.ws.close();
  await stop?.();
});

interface Answer {
  status: number;
  body: any;
  headers: Headers;
}

async function api(
  method: string,
  path: string,
  opts: { as?: string; token?: string; body?: unknown } = {},
): Promise<Answer> {
  const token = opts.token ?? tokens[opts.as ?? 'u1'];
  const res = await fetch(`${app.server.httpUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** A device of `user`, past its welcome. */
async function device(user: string, id: string): Promise<RawSocket> {
  const s = rawSocket(app.server.wsUrl);
  sockets.push(s);
  await s.opened;
  s.send({
    t: 'hello',
    id: 1,
    token: tokens[user]!,
    device: { id, name: id, type: 'speaker' },
    protocol: PROTOCOL_VERSION,
  });
  await s.frame((f) => f.t === 'welcome' && f.id === 1);
  return s;
}

const states = (s: RawSocket) => s.frames.filter((f): f is StateFrame => f.t === 'state').map((f) => f.state);
const stateAt = (s: RawSocket, version: number) =>
  s.frame((f) => f.t === 'state' && f.state.version === version) as Promise<StateFrame>;
const version = (a: Answer) => Number(a.headers.get('player-state-version'));

describe('player api - with no session live', () => {
  it('player api - the state is 204, the devices empty, a command NO_ACTIVE_DEVICE', async () => {
    const fresh = await app.server.auth.mint({ userId: 'nobody', plan: 'premium', country: 'SE' });
    expect((await api('GET', '/v1/me/player', { token: fresh })).status).toBe(204);
    expect((await api('GET', '/v1/me/player/currently-playing', { token: fresh })).status).toBe(204);
    expect((await api('GET', '/v1/me/player/devices', { token: fresh })).body).toEqual({ devices: [] });
    expect((await api('GET', '/v1/me/player/queue', { token: fresh })).body).toEqual({
      currently_playing: null,
      queue: [],
      user_queue_length: 0,
    });
    const r = await api('PUT', '/v1/me/player/pause', { token: fresh });
    expect(r.status).toBe(404);
    expect(r.body).toEqual({
      error: { status: 404, code: 'not_found', message: expect.any(String), reason: 'NO_ACTIVE_DEVICE' },
    });
  });
});

describe('player api - commands through the actor', () => {
  let d1: RawSocket;
  let d2: RawSocket;

  beforeAll(async () => {
    d1 = await device('u1', 'p-d1');
    d2 = await device('u1', 'p-d2');
  });

  it('player api - play from HTTP starts on the active device; every device sees the state of the answer', async () => {
    // No active device yet: the command names one.
    const r = await api('PUT', '/v1/me/player/play?device_id=p-d1', {
      body: { uris: app.demo.trackUris.slice(0, 3) },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    const v = version(r);
    expect(v).toBeGreaterThan(0);
    await withTimeout(
      d1.frame((f) => f.t === 'playback'),
      'the playback on d1',
    );
    for (const s of [d1, d2]) {
      const st = (await stateAt(s, v)).state;
      expect(st).toMatchObject({ active_device_id: 'p-d1', is_playing: true, track: { id: 'demo01' } });
    }
    const got = await api('GET', '/v1/me/player');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      device: { id: 'p-d1', is_active: true, type: 'Speaker' },
      is_playing: true,
      item: { id: 'demo01', type: 'track', uri: 'spotify:track:demo01' },
      currently_playing_type: 'track',
      repeat_state: 'off',
      shuffle_state: false,
    });
    // At least the answer's state: the radio's autoplay tracks (asked for as the 3-track
    // context nears its end) may have moved it on since.
    expect(version(got)).toBeGreaterThanOrEqual(v);
  });

  it('player api - pause, resume and their restrictions (ALREADY_PAUSED, NOT_PAUSED)', async () => {
    expect((await api('PUT', '/v1/me/player/pause')).status).toBe(204);
    const again = await api('PUT', '/v1/me/player/pause');
    expect(again.status).toBe(403);
    expect(again.body.error).toMatchObject({ status: 403, reason: 'ALREADY_PAUSED' });
    expect((await api('PUT', '/v1/me/player/play')).status).toBe(204);
    const playing = await api('PUT', '/v1/me/player/play');
    expect(playing.status).toBe(403);
    expect(playing.body.error.reason).toBe('NOT_PAUSED');
  });

  it('player api - next, previous, seek, repeat, shuffle, volume answer 204 and change the state', async () => {
    const next = await api('POST', '/v1/me/player/next');
    expect(next.status).toBe(204);
    expect((await stateAt(d2, version(next))).state.track?.id).toBe('demo02');
    const seek = await api('PUT', '/v1/me/player/seek?position_ms=5000');
    expect(seek.status).toBe(204);
    expect((await stateAt(d2, version(seek))).state.position.position_ms).toBeGreaterThanOrEqual(5000);
    const repeat = await api('PUT', '/v1/me/player/repeat?state=context');
    expect((await stateAt(d2, version(repeat))).state.repeat).toBe('context');
    const shuffle = await api('PUT', '/v1/me/player/shuffle?state=true');
    expect((await stateAt(d2, version(shuffle))).state.shuffle).toBe(true);
    await api('PUT', '/v1/me/player/shuffle?state=false');
    await api('PUT', '/v1/me/player/repeat?state=off');
    const vol = await api('PUT', '/v1/me/player/volume?volume_percent=33&device_id=p-d2');
    expect(vol.status).toBe(204);
    const st = (await stateAt(d1, version(vol))).state;
    expect(st.devices.find((d) => d.id === 'p-d2')?.volume_percent).toBe(33);
    const prev = await api('POST', '/v1/me/player/previous');
    expect(prev.status).toBe(204);
  });

  it('player api - the queue: add, then read it with the current track', async () => {
    const add = await api('POST', `/v1/me/player/queue?uri=${encodeURIComponent('spotify:track:demo07')}`);
    expect(add.status, JSON.stringify(add.body)).toBe(204);
    const q = await api('GET', '/v1/me/player/queue');
    expect(q.status).toBe(200);
    expect(q.body.currently_playing.type).toBe('track');
    expect(q.body.queue[0]).toMatchObject({ id: 'demo07', uri: 'spotify:track:demo07' });
  });

  it('player api - the queue: remove by index or uri, reorder, clear (extensions)', async () => {
    for (const t of ['demo08', 'demo05', 'demo06', 'demo05'])
      expect((await api('POST', `/v1/me/player/queue?uri=spotify:track:${t}`)).status).toBe(204);
    const ids = async () =>
      ((await api('GET', '/v1/me/player/queue')).body.queue as { id: string }[]).map((t) => t.id);
    expect((await ids()).slice(0, 5)).toEqual(['demo07', 'demo08', 'demo05', 'demo06', 'demo05']);
    const removed = await api('DELETE', '/v1/me/player/queue?index=0');
    expect(removed.status).toBe(204);
    expect((await stateAt(d2, version(removed))).state.version).toBe(version(removed));
    expect((await ids()).slice(0, 4)).toEqual(['demo08', 'demo05', 'demo06', 'demo05']);
    expect((await api('DELETE', '/v1/me/player/queue?uri=spotify:track:demo05')).status).toBe(204);
    expect((await ids()).slice(0, 2)).toEqual(['demo08', 'demo06']);
    expect((await api('PUT', '/v1/me/player/queue', { body: { from: 1, to: 0 } })).status).toBe(204);
    expect((await ids()).slice(0, 2)).toEqual(['demo06', 'demo08']);
    expect((await api('GET', '/v1/me/player/queue')).body.user_queue_length).toBe(2);
    // An edit by index made on a stale view (`expect` names another track than the one there
    // now) is refused and changes nothing; with the right one it applies.
    const stale = await api('PUT', '/v1/me/player/queue', {
      body: { from: 1, to: 0, expect: 'spotify:track:demo06' },
    });
    expect([stale.status, stale.body.error.code]).toEqual([409, 'conflict']);
    const staleRemove = await api('DELETE', '/v1/me/player/queue?index=0&expect=spotify:track:demo08');
    expect(staleRemove.status).toBe(409);
    expect((await ids()).slice(0, 2)).toEqual(['demo06', 'demo08']);
    expect((await api('DELETE', '/v1/me/player/queue?expect=spotify:track:demo08')).status).toBe(400);
    const moved = await api('PUT', '/v1/me/player/queue', {
      body: { from: 1, to: 0, expect: 'spotify:track:demo08' },
    });
    expect(moved.status).toBe(204);
    expect((await ids()).slice(0, 2)).toEqual(['demo08', 'demo06']);
    const past = await api('PUT', '/v1/me/player/queue', { body: { from: 0, to: 9 } });
    expect(past.status).toBe(400);
    const notQueued = await api('DELETE', '/v1/me/player/queue?uri=spotify:track:demo01');
    expect(notQueued.status).toBe(404);
    expect((await api('DELETE', '/v1/me/player/queue')).status).toBe(400);
    expect((await api('DELETE', '/v1/me/player/queue?all=true')).status).toBe(204);
    const left = (await api('GET', '/v1/me/player/queue')).body.queue as { id: string }[];
    expect((await api('GET', '/v1/me/player/queue')).body.user_queue_length).toBe(0);
    // Only the context's next tracks remain.
    expect(left.every((t) => !['demo06', 'demo08'].includes(t.id))).toBe(true);
  });

  it('player api - an idle connected device is listed and a transfer wakes it', async () => {
    const devices = (await api('GET', '/v1/me/player/devices')).body.devices as {
      id: string;
      is_active: boolean;
    }[];
    expect(devices.map((d) => [d.id, d.is_active]).sort()).toEqual([
      ['p-d1', true],
      ['p-d2', false],
    ]);
    const before = d2.frames.filter((f) => f.t === 'playback').length;
    const r = await api('PUT', '/v1/me/player', { body: { device_ids: ['p-d2'], play: true } });
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    await withTimeout(
      d2.frame((f) => f.t === 'playback' && d2.frames.filter((x) => x.t === 'playback').length > before),
      'the playback on d2',
    );
    expect((await stateAt(d1, version(r))).state).toMatchObject({
      active_device_id: 'p-d2',
      is_playing: true,
    });
    const two = await api('PUT', '/v1/me/player', { body: { device_ids: ['p-d1', 'p-d2'] } });
    expect(two.status).toBe(400);
  });

  it('player api - socket and HTTP commands interleaved keep one order; each HTTP answer names its state', async () => {
    const http: Promise<{ value: number; answer: Answer }>[] = [];
    const first = states(d1).length;
    for (let i = 0; i < 10; i++) {
      const value = 40 + i;
      if (i % 2 === 0) d1.send({ t: 'volume', id: 1000 + i, percent: value, device_id: 'p-d1' });
      else
        http.push(
          api('PUT', `/v1/me/player/volume?volume_percent=${value}&device_id=p-d1`).then((answer) => ({
            value,
            answer,
          })),
        );
    }
    const answers = await Promise.all(http);
    await withTimeout(
      Promise.all([0, 2, 4, 6, 8].map((i) => d1.frame((f) => f.t === 'ack' && f.id === 1000 + i))),
      'the socket acks',
    );
    for (const { value, answer } of answers) {
      expect(answer.status).toBe(204);
      const st = (await stateAt(d2, version(answer))).state;
      expect(st.devices.find((d) => d.id === 'p-d1')?.volume_percent).toBe(value);
    }
    const seen = states(d1).slice(first);
    // One order: versions only go up, and each of the ten values was applied exactly once.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.version).toBeGreaterThan(seen[i - 1]!.version);
    const volumes = seen.map((s) => s.devices.find((d) => d.id === 'p-d1')!.volume_percent);
    expect([...volumes].sort()).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
  });

  it('player api - min_version waits for the state that reaches it, bounded', async () => {
    const now = version(await api('GET', '/v1/me/player'));
    const waiting = api('GET', `/v1/me/player?min_version=${now + 1}`);
    d1.send({ t: 'repeat', id: 2001, mode: 'track' });
    const got = await waiting;
    expect(version(got)).toBe(now + 1);
    expect(got.body.repeat_state).toBe('track');
    // Nothing changes: it answers after the bound (300 ms here) with the state as it is.
    const idle = await api('GET', `/v1/me/player?min_version=${now + 100}`);
    expect(idle.status).toBe(200);
    expect(version(idle)).toBe(now + 1);
  });
});

describe('player api - previous at the first track', () => {
  it('player api - previous with no track before is 403 NO_PREV_TRACK and changes nothing; past 3 s it restarts; a device restarts', async () => {
    tokens.prev = await app.server.auth.mint({ userId: 'prev', plan: 'premium', country: 'SE' });
    const d = await device('prev', 'prev-d');
    const as = { as: 'prev' };
    const play = await api('PUT', '/v1/me/player/play?device_id=prev-d', {
      ...as,
      body: { uris: app.demo.trackUris.slice(0, 3) },
    });
    expect(play.status, JSON.stringify(play.body)).toBe(204);
    // Paused at 0: the position does not move, however slow this machine is.
    expect((await api('PUT', '/v1/me/player/pause', as)).status).toBe(204);
    const atZero = await api('PUT', '/v1/me/player/seek?position_ms=0', as);
    expect(atZero.status).toBe(204);
    const refused = await api('POST', '/v1/me/player/previous', as);
    expect(refused.status).toBe(403);
    expect(refused.body).toEqual({
      error: { status: 403, code: 'forbidden', message: expect.any(String), reason: 'NO_PREV_TRACK' },
    });
    expect(version(refused)).toBe(version(atZero));
    const still = await api('GET', '/v1/me/player', as);
    expect(still.body).toMatchObject({ item: { id: 'demo01' }, is_playing: false, progress_ms: 0 });

    // Past the first 3 s: the track restarts (a new play of it), as on a device.
    const playId = (await stateAt(d, version(atZero))).state.play_id;
    expect((await api('PUT', '/v1/me/player/seek?position_ms=5000', as)).status).toBe(204);
    const restart = await api('POST', '/v1/me/player/previous', as);
    expect(restart.status, JSON.stringify(restart.body)).toBe(204);
    const restarted = (await stateAt(d, version(restart))).state;
    expect(restarted.track?.id).toBe('demo01');
    expect(restarted.play_id).not.toBe(playId);

    // With a track before: it goes back to it.
    const next = await api('POST', '/v1/me/player/next', as);
    expect((await stateAt(d, version(next))).state.track?.id).toBe('demo02');
    expect((await api('PUT', '/v1/me/player/pause', as)).status).toBe(204);
    expect((await api('PUT', '/v1/me/player/seek?position_ms=0', as)).status).toBe(204);
    const back = await api('POST', '/v1/me/player/previous', as);
    expect(back.status).toBe(204);
    expect((await stateAt(d, version(back))).state.track?.id).toBe('demo01');

    // A device's own previous at the first track still restarts it (its button's behaviour).
    expect((await api('PUT', '/v1/me/player/pause', as)).status).toBe(204);
    expect((await api('PUT', '/v1/me/player/seek?position_ms=0', as)).status).toBe(204);
    d.send({ t: 'previous', id: 77 });
    const answer = await withTimeout(
      d.frame((f) => (f.t === 'ack' || f.t === 'error') && f.id === 77),
      'the answer to the device previous',
    );
    expect(answer.t).toBe('ack');
  });
});

describe('player api - hibernation', () => {
  it('player api - a hibernated session is listed from its last state and a command wakes it', async () => {
    const d = await device('u1', 'hib-d');
    // Nothing plays for this listener's new device... but u1 plays: pause it so it can sleep.
    await api('PUT', '/v1/me/player/pause').catch(() => undefined);
    expect(app.server.hibernation.hibernateNow()).toBeGreaterThan(0);
    expect(app.server.hibernation.hibernated).toBeGreaterThan(0);
    const devices = (await api('GET', '/v1/me/player/devices')).body.devices as { id: string }[];
    expect(devices.map((x) => x.id)).toContain('hib-d');
    const r = await api('PUT', '/v1/me/player/volume?volume_percent=21&device_id=hib-d');
    expect(r.status, JSON.stringify(r.body)).toBe(204);
    const st = (await stateAt(d, version(r))).state;
    expect(st.devices.find((x) => x.id === 'hib-d')?.volume_percent).toBe(21);
  });
});

describe('player api - refusals', () => {
  it('player api - bad input is a 400 naming the field', async () => {
    for (const [method, path, body] of [
      ['PUT', '/v1/me/player/volume?volume_percent=abc'],
      ['PUT', '/v1/me/player/volume?volume_percent=101'],
      ['PUT', '/v1/me/player/seek'],
      ['PUT', '/v1/me/player/seek?position_ms=-5'],
      ['PUT', '/v1/me/player/repeat?state=sometimes'],
      ['PUT', '/v1/me/player/shuffle?state=yes'],
      ['POST', '/v1/me/player/queue?uri=spotify:album:x'],
      ['PUT', '/v1/me/player/play', { uris: 'spotify:track:demo01' }],
      ['PUT', '/v1/me/player/play', { context_uri: 42 }],
      ['PUT', '/v1/me/player/play', { uris: ['spotify:track:demo01'], offset: { position: -1 } }],
      ['PUT', '/v1/me/player', { device_ids: 'p-d1' }],
      ['PUT', '/v1/me/player', {}],
      ['GET', '/v1/me/player?min_version=x'],
      ['GET', '/v1/me/player/recently-played?limit=51'],
      ['GET', '/v1/me/player/recently-played?after=1&before=2'],
      ['GET', '/v1/tracks?ids=a,b%20c'],
    ] as [string, string, unknown?][]) {
      const r = await api(method, path, body === undefined ? {} : { body });
      expect(r.status, `${method} ${path}`).toBe(400);
      expect(r.body.error).toMatchObject({ status: 400, message: expect.any(String) });
    }
  });

  it('player api - an unknown device is a 404', async () => {
    const r = await api('PUT', '/v1/me/player/pause?device_id=no-such-device');
    expect(r.status).toBe(404);
    const t = await api('PUT', '/v1/me/player', { body: { device_ids: ['no-such-device'] } });
    expect(t.status).toBe(404);
  });

  it('player api - a free listener gets PREMIUM_REQUIRED for commands, reads work', async () => {
    await device('u2', 'free-d1');
    const r = await api('PUT', '/v1/me/player/play', { as: 'u2', body: { uris: [app.demo.trackUris[0]] } });
    expect(r.status).toBe(403);
    expect(r.body.error).toMatchObject({ status: 403, reason: 'PREMIUM_REQUIRED' });
    expect((await api('GET', '/v1/me/player/devices', { as: 'u2' })).body.devices).toHaveLength(1);
  });

  it('player api - no token, a bad one and an expired one are 401s', async () => {
    const none = await api('GET', '/v1/me/player', { token: '' });
    expect(none.status).toBe(401);
    const expired = await createAuthenticator(DEV_JWT_SECRET, () => Date.now() - 3600_000).mint(
      { userId: 'u1', plan: 'premium', country: 'SE' },
      60,
    );
    const r = await api('PUT', '/v1/me/player/pause', { token: expired });
    expect(r.status).toBe(401);
    expect(r.body.error).toMatchObject({ status: 401, reason: 'token_expired', message: expect.any(String) });
    expect((await api('GET', '/v1/me/player', { token: 'a.b.c' })).status).toBe(401);
  });

  it('player api - the rate limit answers 429 with Retry-After', async () => {
    const flood = await app.server.auth.mint({ userId: 'flood', plan: 'premium', country: 'SE' });
    const answers = await Promise.all(
      Array.from({ length: 260 }, () => api('GET', '/v1/me/player/devices', { token: flood })),
    );
    const limited = answers.filter((a) => a.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited[0]!.body.error).toMatchObject({ status: 429, message: expect.any(String) });
  });
});

describe('player api - tracks and recently played', () => {
  it('player api - a track answers is_playable and restrictions for the caller', async () => {
    const blocked = await api('GET', '/v1/tracks/demo04');
    expect(blocked.status).toBe(200);
    expect(blocked.body).toMatchObject({
      id: 'demo04',
      is_playable: false,
      restrictions: { reason: 'market' },
    });
    expect((await api('GET', '/v1/tracks/demo04', { as: 'u2' })).body.is_playable).toBe(true);
    const many = await api('GET', '/v1/tracks?ids=demo01,nope,demo02');
    expect(many.body.tracks.map((t: any) => t?.id ?? null)).toEqual(['demo01', null, 'demo02']);
    expect((await api('GET', '/v1/tracks/nope')).status).toBe(404);
  });

  it('player api - recently played pages the history with before/after in unix ms', async () => {
    const now = Date.now();
    for (let i = 0; i < 5; i++)
      await app.stores.history.appendHistory({
        userId: 'hist',
        playId: `hp${i}`,
        trackId: `demo0${i + 1}`,
        ts: now - (5 - i) * 60_000,
        msPlayed: 40_000,
      });
    const token = await app.server.auth.mint({ userId: 'hist', plan: 'premium', country: 'SE' });
    const page = await api('GET', '/v1/me/player/recently-played?limit=2', { token });
    expect(page.status).toBe(200);
    expect(page.body.items.map((i: any) => i.track.id)).toEqual(['demo05', 'demo04']);
    const older = await api(
      'GET',
      `/v1/me/player/recently-played?limit=2&before=${page.body.cursors.before}`,
      { token },
    );
    expect(older.body.items.map((i: any) => i.track.id)).toEqual(['demo03', 'demo02']);
    const after = await api('GET', `/v1/me/player/recently-played?limit=2&after=${now - 4 * 60_000}`, {
      token,
    });
    expect(after.body.items.map((i: any) => i.track.id)).toEqual(['demo04', 'demo03']);
  });
});

describe('player api - the ListenBrainz link', () => {
  it('player api - link, read (no token shown), refuse an endpoint not allowed, unlink', async () => {
    const linked = await api('PUT', '/v1/me/listenbrainz', { body: { token: 'secret-token' } });
    expect(linked.status).toBe(200);
    expect(linked.body).toMatchObject({
      service: 'listenbrainz',
      endpoint: 'https://api.listenbrainz.org',
      active: true,
    });
    const got = await api('GET', '/v1/me/listenbrainz');
    expect(JSON.stringify(got.body)).not.toContain('secret-token');
    expect(await app.stores.scrobbles.getLink('u1')).toMatchObject({ token: 'secret-token', active: true });
    for (const body of [{ token: '' }, { token: 7 }, { token: 't', endpoint: 'http://127.0.0.1:22' }, {}])
      expect((await api('PUT', '/v1/me/listenbrainz', { body })).status, JSON.stringify(body)).toBe(400);
    expect((await api('DELETE', '/v1/me/listenbrainz')).status).toBe(204);
    expect((await api('GET', '/v1/me/listenbrainz')).status).toBe(404);
  });
});

/** The event stream, opened with a Bearer token, or with `{ ticket }` and no header (as EventSource). */
function sse(auth: string | { ticket: string }, lastEventId?: string) {
  const query = typeof auth === 'string' ? '' : `?ticket=${encodeURIComponent(auth.ticket)}`;
  return openSse(`${app.server.httpUrl}/v1/me/player/events${query}`, {
    ...(typeof auth === 'string' ? { authorization: `Bearer ${auth}` } : {}),
    ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
  });
}

describe('player api - Server-Sent Events', () => {
  it('player api - each state once, in order, and a resume from Last-Event-ID sends what was missed', async () => {
    const d = await device('u1', 'sse-d');
    void d;
    const a = sse(tokens.u1!);
    await a.until(() => a.events.length >= 1, 'the current state');
    const v0 = Number(a.events[0]!.id.split('.')[1]);
    const r1 = await api('PUT', '/v1/me/player/repeat?state=context');
    const r2 = await api('PUT', '/v1/me/player/repeat?state=off');
    await a.until(() => a.events.some((e) => e.id.endsWith(`.${version(r2)}`)), 'the second state');
    const ids = a.events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const vs = ids.map((id) => Number(id.split('.')[1]));
    expect(vs).toEqual([...vs].sort((x, y) => x - y));
    expect(vs).toContain(version(r1));
    expect(a.events.find((e) => e.id.endsWith(`.${version(r1)}`))!.data.repeat_state).toBe('context');
    await a.close();

    // Missed while away: two states; the resume sends exactly those, in order.
    const epoch = a.events[0]!.id.split('.')[0];
    const last = version(r2);
    const m1 = await api('PUT', '/v1/me/player/shuffle?state=true');
    const m2 = await api('PUT', '/v1/me/player/shuffle?state=false');
    const b = sse(tokens.u1!, `${epoch}.${last}`);
    await b.until(() => b.events.some((e) => e.id === `${epoch}.${version(m2)}`), 'the missed states');
    expect(b.events.map((e) => e.id)).toEqual([`${epoch}.${version(m1)}`, `${epoch}.${version(m2)}`]);
    expect(b.events[0]!.data.shuffle_state).toBe(true);
    await b.close();

    // Up to date: nothing is sent again; an unknown epoch gets the current state alone.
    const c = sse(tokens.u1!, 'x');
    await c.until(() => c.events.length >= 1, 'the current state');
    expect(c.events[0]!.id).toBe(`${epoch}.${version(m2)}`);
    await c.close();
    expect(v0).toBeGreaterThan(0);
  });

  it('player api - a browser opens the stream with a single-use ticket got with the token, never the token in the URL', async () => {
    await device('u1', 'ticket-d');
    const got = await api('POST', '/v1/me/player/events/ticket');
    expect(got.status).toBe(200);
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(got.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: 30 });
    const ticket = got.body.ticket as string;
    expect(ticket).not.toContain(tokens.u1!.slice(0, 20));

    const a = sse({ ticket });
    await a.until(() => a.events.length >= 1, 'the current state over a ticket');
    // The ticket's listener's stream: u1's devices, and the states that follow.
    expect(a.events[0]!.data.device.id).not.toBeNull();
    const r = await api('PUT', '/v1/me/player/repeat?state=track');
    await a.until(() => a.events.some((e) => e.id.endsWith(`.${version(r)}`)), 'the next state');
    await a.close();

    // Spent: the same URL (from a log, or an EventSource's own reconnect) opens nothing.
    const again = await fetch(`${app.server.httpUrl}/v1/me/player/events?ticket=${ticket}`);
    expect(again.status).toBe(401);
    expect(((await again.json()) as any).error).toMatchObject({ status: 401, reason: 'ticket_invalid' });
    const forged = await fetch(`${app.server.httpUrl}/v1/me/player/events?ticket=${'A'.repeat(43)}`);
    expect(forged.status).toBe(401);
    // The ticket route itself needs the token.
    expect((await api('POST', '/v1/me/player/events/ticket', { token: '' })).status).toBe(401);
    // A token in the query is not read: the header or a ticket only.
    const inUrl = await fetch(`${app.server.httpUrl}/v1/me/player/events?access_token=${tokens.u1}`);
    expect(inUrl.status).toBe(401);
    await api('PUT', '/v1/me/player/repeat?state=off');
  });

  it('player api - the stream refuses a missing or bad token', async () => {
    const res = await fetch(`${app.server.httpUrl}/v1/me/player/events`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error.reason).toBe('token_missing');
  });
});
