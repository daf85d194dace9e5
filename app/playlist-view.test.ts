/**
 * The playlist view through the real app wiring: pages are cached (in-process LRU here), and
 * every write through the HTTP API drops them, so the very next view shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';

let app: App;
let stop: (() => Promise<void>) | undefined;
let token = '';
let stranger = '';

async function call(method: string, path: string, body?: unknown, as = token) {
  const res = await fetch(`${app.server.httpUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${as}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

beforeAll(async () => {
  ({ app, stop } = await startTestApp('playlist-view-'));
  token = await app.server.auth.mint({ userId: 'u1', plan: 'premium', country: 'SE' });
  stranger = await app.server.auth.mint({ userId: 'u2', plan: 'premium', country: 'SE' });
});

afterAll(() => stop?.());

describe('playlist view', () => {
  it('playlist view - every write through the API is on the very next view', async () => {
    const uris = app.demo.trackUris.slice(0, 3);
    const made = await call('POST', '/v1/users/u1/playlists', { name: 'Viewed' });
    const id = made.json.id as string;
    const tracks = async (as = token) => {
      const r = await call('GET', `/v1/playlists/${id}/tracks`, undefined, as);
      return r.status === 200
        ? (r.json.items as { track: { uri: string } }[]).map((i) => i.track.uri)
        : r.status;
    };
    expect(await tracks()).toEqual([]);
    await call('POST', `/v1/playlists/${id}/tracks`, { uris });
    expect(await tracks()).toEqual(uris);
    expect(await tracks()).toEqual(uris); // now from the cache
    await call('DELETE', `/v1/playlists/${id}/tracks`, { tracks: [{ uri: uris[1] }] });
    expect(await tracks()).toEqual([uris[0], uris[2]]);
    expect(await tracks(stranger)).toEqual([uris[0], uris[2]]);
    await call('PUT', `/v1/playlists/${id}`, { public: false });
    expect(await tracks(stranger)).toBe(403);
    const view = await call('GET', `/v1/playlists/${id}`);
    expect(view.json).toMatchObject({ public: false, snapshot_id: '3' });
    await call('DELETE', `/v1/playlists/${id}`);
    expect(await tracks()).toBe(404);
  });
});
