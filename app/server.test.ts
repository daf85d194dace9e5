/**
 * End-to-end over real sockets: the whole app (embedded stores, event log, pipeline, origin)
 * on a free port, devices driven through the client SDK. Events are awaited with timeouts;
 * no sleeps.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { PrefetchCache } from '../client/prefetch-cache.ts';
import { SessionRequestError } from '../client/errors.ts';
import { encodeFrame } from '../protocol/codec.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';
import { rawSocket, withTimeout } from '../testkit/raw-socket.ts';
import { parseConfig } from './config.ts';

let app: App;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ app, stop } = await startTestApp('session-e2e-', { RATE_LIMIT: '100/100', SESSION_GRACE_MS: '60000' }));
});

afterAll(() => stop?.());

async function device(id: string, user = 'u1', opts: { prefetch?: boolean } = {}): Promise<SessionClient> {
  const u = app.demo.users.find((x) => x.id === user)!;
  const token = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
  const client = new SessionClient({
    url: app.server.wsUrl,
    token,
    device: { id, name: `Device ${id}`, type: 'computer' },
    WebSocket: WebSocket as unknown as WebSocketCtor,
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
    ...(opts.prefetch ? { prefetchCache: new PrefetchCache({ baseUrl: app.server.httpUrl }) } : {}),
  });
  await client.connect();
  return client;
}

describe('session server e2e', () => {
  it('session - two devices, play, skip to a prefetched track, transfer with position', async () => {
    const a = await device('e2e-a', 'u1', { prefetch: true });
    const b = await device('e2e-b');
    try {
      const playback = a.waitFor('playback');
      const prefetch = a.waitFor('prefetch');
      // Registered before the play: the state may reach b before a's playback is awaited.
      const bStates: string[] = [];
      b.on('state', (st) => bStates.push(st.play_id ?? ''));
      const bSawPlay = b.waitFor('state', {
        filter: (st) => st.play_id !== null && st.play_id !== undefined,
      });
      await a.play({ context: app.demo.playlistUri });
      const pb = await playback;
      const pf = await prefetch;
      expect(pb.urls.length).toBe(pb.chunks.count);
      // Absolute, on the origin base (PUBLIC_BASE_URL unset: the server's own address).
      expect(app.server.originBaseUrl).toBe(app.server.httpUrl);
      const handedOut = [pb.first_chunk.url, pb.first_chunk.init_url, pb.init_url, ...pb.urls];
      for (const item of pf.items) handedOut.push(item.init_url, ...item.urls);
      for (const url of handedOut.filter((u): u is string => !!u)) {
        expect(url.startsWith(`${app.server.originBaseUrl}/o/`), url).toBe(true);
        expect(new URL(url).pathname).toMatch(/^\/o\/[0-9a-f]{64}$/);
      }
      expect(pf.items.length).toBeGreaterThanOrEqual(1);
      expect(pf.items.length).toBeLessThanOrEqual(2);
      // The other device sees the play in its state.
      await bSawPlay;
      expect(bStates).toContain(pb.play_id);

      // The prefetch cache fetched and verified the next track's first chunk from the origin.
      const next = pf.items[0]!;
      const cached = await a.prefetchCache!.whenReady(next.urls[0]!);
      expect(cached?.bytes.byteLength).toBeGreaterThan(0);
      expect(a.prefetchCache!.rejected).toBe(0);

      const skipped = a.waitFor('playback', { filter: (p) => p.play_id !== pb.play_id });
      await a.next();
      const pb2 = await skipped;
      expect(pb2.track.id).toBe(next.track_id);
      expect(pb2.first_chunk.url).toBe(next.urls[0]);

      // Transfer to b keeps the position (anchors compared at the same server instant).
      const before = a.state!;
      // A transfer continues the same play (same play id) on b at the same position.
      const onB = b.waitFor('playback', { filter: (p) => p.track.id === pb2.track.id });
      const aInactive = a.waitFor('state', { filter: (s) => s.active_device_id === 'e2e-b' });
      await a.transfer('e2e-b', true);
      const pbB = await onB;
      expect(pbB.play_id).toBe(pb2.play_id);
      const after = (await aInactive).position;
      const expected = before.position.position_ms + (before.is_playing ? after.at - before.position.at : 0);
      expect(Math.abs(after.position_ms - expected)).toBeLessThanOrEqual(250);
      expect(Math.abs(pbB.position_ms - expected)).toBeLessThanOrEqual(250);
    } finally {
      a.close();
      b.close();
    }
  });

  it('session - a region-blocked track is forbidden/region_blocked and the session goes on', async () => {
    const a = await device('e2e-blocked');
    try {
      const err = await a.play({ uris: [app.demo.blockedInSeUri] }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(SessionRequestError);
      expect((err as SessionRequestError).code).toBe('forbidden');
      expect((err as SessionRequestError).reason).toBe('region_blocked');
      const playback = a.waitFor('playback');
      await a.play({ uris: [app.demo.trackUris[0]!] });
      expect((await playback).track.id).toBe(app.demo.trackUris[0]!.split(':')[2]);
    } finally {
      a.close();
    }
  });

  it('session - unknown ids get not_found', async () => {
    const a = await device('e2e-unknown');
    try {
      await expect(a.transfer('no-such-device')).rejects.toMatchObject({
        code: 'not_found',
        reason: 'unknown_device',
      });
      await expect(a.play({ context: 'spotify:playlist:nope' })).rejects.toMatchObject({
        code: 'not_found',
        reason: 'unknown_context',
      });
      await expect(a.queueAdd('spotify:track:no-such-track')).rejects.toMatchObject({
        code: 'not_found',
        reason: 'unknown_track',
      });
      expect(typeof (await a.ping())).toBe('number');
    } finally {
      a.close();
    }
  });

  it('session - bad and expired tokens close with the documented code and touch no session', async () => {
    const sessions = app.server.registry.size;
    const bad = rawSocket(app.server.wsUrl);
    await bad.opened;
    bad.ws.send(
      encodeFrame({
        t: 'hello',
        id: 1,
        token: 'a.b.c',
        device: { id: 'x', name: 'x', type: 'web' },
        protocol: PROTOCOL_VERSION,
      }),
    );
    expect((await withTimeout(bad.closed, 'close')).code).toBe(CLOSE_CODES.bad_token.code);

    const { createAuthenticator } = await import('../session/auth.ts');
    const past = createAuthenticator(parseConfig({}).server.jwtSecret, () => Date.now() - 3 * 3600_000);
    const expired = await past.mint({ userId: 'u-expired', plan: 'free', country: 'SE' }, 60);
    const exp = rawSocket(app.server.wsUrl);
    await exp.opened;
    exp.ws.send(
      encodeFrame({
        t: 'hello',
        id: 1,
        token: expired,
        device: { id: 'x', name: 'x', type: 'web' },
        protocol: PROTOCOL_VERSION,
      }),
    );
    expect((await withTimeout(exp.closed, 'close')).code).toBe(CLOSE_CODES.token_expired.code);
    expect(app.server.registry.liveSession('u-expired')).toBeUndefined();
    expect(app.server.registry.size).toBe(sessions);
  });

  it('session - malformed and text frames get bad_request and the connection lives on', async () => {
    const s = rawSocket(app.server.wsUrl);
    await s.opened;
    s.ws.send(Buffer.from([0xc1, 0xff, 0x00]));
    expect(await s.frame((f) => f.t === 'error' && f.reason === 'malformed')).toMatchObject({
      code: 'bad_request',
    });
    s.ws.send('{"t":"ping"}');
    expect(await s.frame((f) => f.t === 'error' && f.reason === 'text_frame')).toMatchObject({
      code: 'bad_request',
    });
    s.ws.send(encodeFrame({ t: 'pause', id: 7 }));
    expect(await s.frame((f) => f.t === 'error' && f.id === 7)).toMatchObject({
      code: 'unauthorized',
      reason: 'hello_required',
    });
    s.ws.send(encodeFrame({ t: 'ping', id: 9 }));
    expect(await s.frame((f) => f.t === 'pong' && f.id === 9)).toBeTruthy();
    s.ws.close();
  });

  it('session - an oversized frame closes only that socket; reconnect resumes', async () => {
    const a = await device('e2e-big');
    const other = await device('e2e-other');
    try {
      const version = a.state!.version;
      const closed = a.waitFor('close');
      const welcome = a.waitFor('welcome', { timeoutMs: 10_000 });
      a.sendRaw(new Uint8Array(32 * 1024));
      expect((await closed).code).toBe(CLOSE_CODES.frame_too_large.code);
      const w = await welcome;
      expect(w.resumed).toBe(true);
      expect(w.state.version).toBeGreaterThanOrEqual(version);
      expect(typeof (await other.ping())).toBe('number');
    } finally {
      a.close();
      other.close();
    }
  });

  it('session - a flooding client gets rate_limited, then is cut', async () => {
    const s = rawSocket(app.server.wsUrl);
    await s.opened;
    const ping = encodeFrame({ t: 'ping', id: 1 });
    for (let i = 0; i < 400; i++) s.ws.send(ping);
    expect(await s.frame((f) => f.t === 'error' && f.code === 'rate_limited')).toMatchObject({
      reason: 'too_many_requests',
    });
    expect((await withTimeout(s.closed, 'close')).code).toBe(CLOSE_CODES.flood.code);
  });

  it('session - the /v1 playlist API needs a Bearer token and serves the demo playlist', async () => {
    const anon = await fetch(`${app.server.httpUrl}/v1/playlists/demo-mix`);
    expect(anon.status).toBe(401);
    const token = await app.server.auth.mint({ userId: 'u1', plan: 'premium', country: 'SE' });
    const res = await fetch(`${app.server.httpUrl}/v1/playlists/demo-mix`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('demo01');
  });

  it('session - /healthz and /metrics answer', async () => {
    const h = await fetch(`${app.server.httpUrl}/healthz`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: 'ok' });
    const m = await (await fetch(`${app.server.httpUrl}/metrics`)).text();
    for (const name of [
      'session_connections',
      'session_actors',
      'session_frames_in_total',
      'session_errors_total',
      'session_play_latency_seconds',
    ]) {
      expect(m).toContain(name);
    }
  });
});
