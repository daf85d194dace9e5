import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLruTrackCache } from '../../storage/cache.lru.ts';
import { createPlaylistViewer } from '../../storage/hydration.ts';
import { openEmbeddedStores } from '../../testkit/test-stores.ts';
import type { Stores } from '../../storage/stores.ts';
import { createApiRouter, type ApiRequest, type ApiRouter } from './api-router.ts';
import { playlistRoutes } from './playlists.ts';

type PlaylistRequest = ApiRequest;

/** PUBLIC_BASE_URL: every href handed out is absolute on it. */
const BASE = 'https://api.example.com';

describe('playlist http api', () => {
  let dir: string;
  let stores: Stores;
  let router: ApiRouter;
  const call = (req: Omit<PlaylistRequest, 'userId' | 'baseUrl'> & { userId?: string }) =>
    router.handle({ userId: 'ann', baseUrl: BASE, ...req });
  const uri = (id: string) => `spotify:track:${id}`;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'http-playlists-'));
    stores = await openEmbeddedStores(dir);
    for (const id of ['a', 'b', 'c', 'd']) {
      await stores.catalog.putTrack({
        id,
        title: `Song ${id}`,
        artistId: 'ar',
        artistName: 'Art',
        albumId: 'al',
        albumName: 'Alb',
        trackNumber: 1,
        durationMs: 200_000,
      });
    }
    const viewer = createPlaylistViewer({
      playlists: stores.playlists,
      catalog: stores.catalog,
      cache: createLruTrackCache(100),
    });
    // Writes through the viewer's store, as the app wires it, so they invalidate cached pages.
    router = createApiRouter(playlistRoutes({ playlists: viewer.playlists, viewer }));
  });
  afterAll(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function create(body: Record<string, unknown> = { name: 'Mine' }) {
    const r = await call({ method: 'POST', path: '/v1/users/ann/playlists', body });
    expect(r.status).toBe(201);
    return r.json as { id: string; snapshot_id: string };
  }

  it('http - create, add, read with hydrated tracks, paging links', async () => {
    const p = await create({ name: 'Mine', description: 'd', public: false });
    expect(p).toMatchObject({
      type: 'playlist',
      name: 'Mine',
      public: false,
      snapshot_id: '0',
      owner: { id: 'ann' },
    });
    const add = await call({
      method: 'POST',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { uris: [uri('a'), uri('b'), uri('c'), uri('gone')] },
    });
    expect(add).toMatchObject({ status: 201, json: { snapshot_id: '1', status: 'applied' } });
    const first = await call({
      method: 'POST',
      path: `/v1/playlists/${p.id}/tracks`,
      body: JSON.stringify({ uris: [uri('d')], position: 0 }),
    });
    expect(first.json).toMatchObject({ snapshot_id: '2' });
    const got = await call({ method: 'GET', path: `/v1/playlists/${p.id}` });
    expect(got.status).toBe(200);
    const tracks = (
      got.json as { tracks: { total: number; items: { track: { id: string; name: string } | null }[] } }
    ).tracks;
    expect(tracks.total).toBe(5);
    expect(tracks.items.map((i) => i.track?.id ?? null)).toEqual(['d', 'a', 'b', 'c', null]);
    expect(tracks.items[0]!.track).toMatchObject({
      name: 'Song d',
      uri: uri('d'),
      artists: [{ id: 'ar' }],
      album: { id: 'al' },
    });
    const page = await call({
      method: 'GET',
      path: `/v1/playlists/${p.id}/tracks`,
      query: { offset: '1', limit: '2' },
    });
    expect(page.json).toMatchObject({
      offset: 1,
      limit: 2,
      total: 5,
      href: `${BASE}/v1/playlists/${p.id}/tracks?offset=1&limit=2`,
      next: `${BASE}/v1/playlists/${p.id}/tracks?offset=3&limit=2`,
      previous: `${BASE}/v1/playlists/${p.id}/tracks?offset=0&limit=2`,
    });
  });

  it('http - reorder with snapshot_id rebases; delete by uri, by position and by entry id', async () => {
    const p = await create();
    await call({
      method: 'POST',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { uris: ['a', 'b', 'c', 'd'].map(uri) },
    });
    // Made on snapshot 1 while someone else removes "a" (snapshot 2).
    const rm = await call({
      method: 'DELETE',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { tracks: [{ uri: uri('a'), positions: [0] }], snapshot_id: '1' },
    });
    expect(rm).toMatchObject({ status: 200, json: { snapshot_id: '2' } });
    const mv = await call({
      method: 'PUT',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { range_start: 3, insert_before: 1, snapshot_id: '1' },
    });
    expect(mv).toMatchObject({ status: 200, json: { snapshot_id: '3', rebased_over: 1 } });
    const ids = async () =>
      (
        (await call({ method: 'GET', path: `/v1/playlists/${p.id}/tracks` })).json as {
          items: { track: { id: string }; entry_id: string }[];
        }
      ).items;
    expect((await ids()).map((i) => i.track.id)).toEqual(['d', 'b', 'c']);
    // A stale position delete of "a" again reports the skip.
    const stale = await call({
      method: 'DELETE',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { tracks: [{ uri: uri('a'), positions: [0] }], snapshot_id: '1' },
    });
    expect(stale.json).toMatchObject({
      status: 'noop',
      skipped: [{ target: 'position:0', reason: 'already_removed' }],
    });
    await call({
      method: 'DELETE',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { tracks: [{ uri: uri('c') }] },
    });
    const entry = (await ids())[0]!.entry_id;
    const byId = await call({
      method: 'DELETE',
      path: `/v1/playlists/${p.id}/tracks`,
      body: { entry_ids: [entry] },
    });
    expect(byId.status).toBe(200);
    expect((await ids()).map((i) => i.track.id)).toEqual(['b']);
  });

  it('http - authorization: others cannot edit or read private, create only for yourself', async () => {
    const p = await create({ name: 'secret', public: false });
    expect(await call({ method: 'GET', path: `/v1/playlists/${p.id}`, userId: 'bob' })).toMatchObject({
      status: 403,
      json: { error: { status: 403 } },
    });
    expect(
      (
        await call({
          method: 'POST',
          path: `/v1/playlists/${p.id}/tracks`,
          userId: 'bob',
          body: { uris: [uri('a')] },
        })
      ).status,
    ).toBe(403);
    expect(
      (await call({ method: 'POST', path: '/v1/users/bob/playlists', body: { name: 'x' } })).status,
    ).toBe(403);
    // Collaboration opens editing to the named collaborator only.
    await call({ method: 'PUT', path: `/v1/playlists/${p.id}`, body: { collaborative: true } });
    await call({
      method: 'PUT',
      path: `/v1/playlists/${p.id}/collaborators`,
      body: { collaborators: ['bob'] },
    });
    expect(
      (
        await call({
          method: 'POST',
          path: `/v1/playlists/${p.id}/tracks`,
          userId: 'bob',
          body: { uris: [uri('a')] },
        })
      ).status,
    ).toBe(201);
    expect(
      (await call({ method: 'PUT', path: `/v1/playlists/${p.id}`, userId: 'bob', body: { name: 'bob' } }))
        .status,
    ).toBe(403);
    expect((await call({ method: 'DELETE', path: `/v1/playlists/${p.id}`, userId: 'bob' })).status).toBe(403);
    expect((await call({ method: 'DELETE', path: `/v1/playlists/${p.id}` })).status).toBe(200);
    expect((await call({ method: 'GET', path: `/v1/playlists/${p.id}` })).status).toBe(404);
  });

  it('http - bad input gets 400 with a clear message, unknown routes 404', async () => {
    const p = await create();
    const cases: [Omit<PlaylistRequest, 'userId' | 'baseUrl'>, RegExp][] = [
      [{ method: 'POST', path: '/v1/users/ann/playlists', body: { name: '' } }, /name/],
      [{ method: 'POST', path: '/v1/users/ann/playlists', body: '{nope' }, /not valid JSON/],
      [
        { method: 'POST', path: `/v1/playlists/${p.id}/tracks`, body: { uris: ['spotify:album:x'] } },
        /not a track uri/,
      ],
      [
        { method: 'POST', path: `/v1/playlists/${p.id}/tracks`, body: { uris: ['spotify:track:__proto__'] } },
        /not a track uri/,
      ],
      [
        { method: 'POST', path: `/v1/playlists/${p.id}/tracks`, body: { uris: ['spotify:track:a b'] } },
        /not a track uri/,
      ],
      [
        { method: 'POST', path: `/v1/playlists/${p.id}/tracks`, body: { uris: [uri('a')], position: 9 } },
        /out of range/,
      ],
      [
        { method: 'POST', path: `/v1/playlists/${p.id}/tracks`, body: { uris: Array(101).fill(uri('a')) } },
        /at most 100/,
      ],
      [
        { method: 'PUT', path: `/v1/playlists/${p.id}/tracks`, body: { range_start: -1, insert_before: 0 } },
        /range_start/,
      ],
      [
        {
          method: 'PUT',
          path: `/v1/playlists/${p.id}/tracks`,
          body: { range_start: 0, insert_before: 0, snapshot_id: 'abc' },
        },
        /snapshot_id/,
      ],
      [{ method: 'GET', path: `/v1/playlists/${p.id}/tracks`, query: { limit: '500' } }, /limit/],
      [{ method: 'DELETE', path: `/v1/playlists/${p.id}/tracks`, body: {} }, /tracks/],
    ];
    for (const [req, message] of cases) {
      const r = await call(req);
      expect(r.status, JSON.stringify(req)).toBe(400);
      expect((r.json as { error: { message: string; status: number } }).error).toMatchObject({
        status: 400,
        message: expect.stringMatching(message),
      });
    }
    expect((await call({ method: 'GET', path: '/v1/playlists/nope' })).status).toBe(404);
    expect((await call({ method: 'GET', path: `/v1/playlists/${p.id}/followers` })).status).toBe(404);
    expect((await call({ method: 'PATCH', path: `/v1/playlists/${p.id}` })).status).toBe(405);
    // A malformed %-escape in the path is the client's error, not the server's.
    expect(await call({ method: 'GET', path: '/v1/playlists/%E0%A4%A' })).toMatchObject({
      status: 400,
      json: { error: { status: 400, code: 'bad_request', message: expect.stringMatching(/%-escape/) } },
    });
    // The schemas refuse wrong types before any handler runs, naming the field.
    expect(
      await call({ method: 'PUT', path: `/v1/playlists/${p.id}`, body: { public: 'yes' } }),
    ).toMatchObject({ status: 400, json: { error: { message: expect.stringMatching(/public/) } } });
    expect(
      await call({
        method: 'PUT',
        path: `/v1/playlists/${p.id}/collaborators`,
        body: { collaborators: 'bob' },
      }),
    ).toMatchObject({ status: 400, json: { error: { message: expect.stringMatching(/collaborators/) } } });
  });
});
