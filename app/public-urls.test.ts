/**
 * What the server hands to clients over HTTP and in frames, end to end: every URL is absolute,
 * chunk URLs on the origin base (ORIGIN_BASE_URL, a CDN here) and the API's links on
 * PUBLIC_BASE_URL; the signature covers the path from `/o/` on, so what a CDN forwards (its
 * prefix stripped) is served. Every HTTP answer that is not a success carries the one error
 * body `{error: {status, code, message}}`: unknown routes (404, not an empty reply), a
 * malformed %-escape in a /v1 path (400, not 500), a missing token (401).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlaybackFrame, PrefetchFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { rawSocket, withTimeout } from '../testkit/raw-socket.ts';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';

const PUBLIC = 'https://api.example.test';
const ORIGIN = 'https://cdn.example.test/audio';

let app: App;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ app, stop } = await startTestApp(
    'public-urls-',
    { PUBLIC_BASE_URL: `${PUBLIC}/`, ORIGIN_BASE_URL: ORIGIN },
    { pipeline: false },
  ));
});

afterAll(() => stop?.());

const token = () => app.server.auth.mint({ userId: 'u1', plan: 'premium', country: 'SE' });

/** The error body every refused HTTP request gets. */
async function errorBody(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  return ((await res.json()) as { error: { status: number; code: string; message: string } }).error;
}

describe('public urls', () => {
  it('public urls - chunk URLs are absolute on ORIGIN_BASE_URL, and what the CDN forwards is served', async () => {
    expect(app.server.publicBaseUrl).toBe(PUBLIC);
    expect(app.server.originBaseUrl).toBe(ORIGIN);
    const s = rawSocket(app.server.wsUrl);
    await withTimeout(s.opened, 'open');
    s.send({
      t: 'hello',
      id: 1,
      token: await token(),
      device: { id: 'urls-d', name: 'urls', type: 'computer' },
      protocol: PROTOCOL_VERSION,
    });
    await s.frame((f) => f.t === 'welcome');
    s.send({ t: 'play', id: 2, context: app.demo.playlistUri });
    const pb = (await s.frame((f) => f.t === 'playback')) as PlaybackFrame;
    const pf = (await s.frame((f) => f.t === 'prefetch')) as PrefetchFrame;
    const urls = [pb.first_chunk.url, pb.first_chunk.init_url, pb.init_url, ...pb.urls];
    for (const item of pf.items) urls.push(item.init_url, ...item.urls);
    const handedOut = urls.filter((u): u is string => !!u);
    expect(handedOut.length).toBeGreaterThan(pb.urls.length);
    for (const url of handedOut) {
      expect(url.startsWith(`${ORIGIN}/o/`), url).toBe(true);
      // The CDN strips its prefix and forwards the rest to the origin: served, signature intact.
      const forwarded = url.slice(ORIGIN.length);
      const res = await fetch(`${app.server.httpUrl}${forwarded}`);
      expect(res.status, forwarded).toBe(200);
      await res.arrayBuffer();
    }
    s.ws.close();
  });

  it('public urls - the API links are absolute on PUBLIC_BASE_URL', async () => {
    const id = app.demo.playlistUri.split(':')[2]!;
    const res = await fetch(`${app.server.httpUrl}/v1/playlists/${id}/tracks?limit=2`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(res.status).toBe(200);
    const page = (await res.json()) as { href: string; next: string | null; previous: string | null };
    expect(page.href).toBe(`${PUBLIC}/v1/playlists/${id}/tracks?offset=0&limit=2`);
    expect(page.next).toBe(`${PUBLIC}/v1/playlists/${id}/tracks?offset=2&limit=2`);
    expect(page.previous).toBeNull();
  });

  it('public urls - an unknown route is a 404 with the error body, on any method and path', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['POST', '/nope/deeper'],
      ['DELETE', '/o/not-a-key'],
      // `/` is the web player's page (app/player-page.ts).
      ['GET', '/index.html'],
    ] as const) {
      const res = await fetch(`${app.server.httpUrl}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await errorBody(res)).toEqual({
        status: 404,
        code: 'not_found',
        message: `no route for ${method} ${path}`,
      });
    }
    const authed = await fetch(`${app.server.httpUrl}/v1/nope`, {
      headers: { authorization: `Bearer ${await token()}` },
    });
    expect(authed.status).toBe(404);
    expect(await errorBody(authed)).toMatchObject({ status: 404, code: 'not_found' });
  });

  it('public urls - a malformed %-escape in a /v1 path is a 400 with the error body, not a 500', async () => {
    for (const path of ['/v1/playlists/%E0%A4%A', '/v1/playlists/%zz/tracks', '/v1/users/%/playlists']) {
      const res = await fetch(`${app.server.httpUrl}${path}`, {
        headers: { authorization: `Bearer ${await token()}` },
      });
      expect(res.status, path).toBe(400);
      expect(await errorBody(res)).toMatchObject({
        status: 400,
        code: 'bad_request',
        message: expect.stringMatching(/malformed %-escape/),
      });
    }
  });

  it('public urls - a /v1 request without a token is a 401 with the error body', async () => {
    const res = await fetch(`${app.server.httpUrl}/v1/playlists/x`);
    expect(res.status).toBe(401);
    expect(await errorBody(res)).toMatchObject({ status: 401, code: 'unauthorized' });
  });
});
