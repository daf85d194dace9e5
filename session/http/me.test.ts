import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEmbeddedStores } from '../../testkit/test-stores.ts';
import type { Stores } from '../../storage/stores.ts';
import { createApiRouter, type ApiRouter } from './api-router.ts';
import { meRoutes } from './me.ts';

const T0 = Date.UTC(2026, 10, 3, 12, 0, 0);

describe('me api - history and royalties', () => {
  let dir: string;
  let stores: Stores;
  let router: ApiRouter;
  const get = (path: string, query: Record<string, string> = {}, userId = 'ann') =>
    router.handle({ method: 'GET', path, query, userId, baseUrl: 'http://api.test' });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'http-me-'));
    stores = await openEmbeddedStores(dir);
    await stores.catalog.putTrack({
      id: 'a',
      title: 'Song a',
      artistId: 'ar',
      artistName: 'Art',
      albumId: 'al',
      albumName: 'Alb',
      trackNumber: 1,
      durationMs: 60_000,
    });
    // Three plays of ann (the middle one heard for 45 s and counted), one of bob.
    for (const [i, ms] of [10_000, 45_000, 5_000].entries()) {
      await stores.history.appendHistory({
        userId: 'ann',
        playId: `p${i}`,
        trackId: 'a',
        ts: T0 + i * 60_000,
        msPlayed: ms,
        context: 'spotify:playlist:x',
        device: 'phone',
        reason: i === 2 ? 'skip' : 'trackdone',
      });
    }
    await stores.history.appendHistory({
      userId: 'bob',
      playId: 'q',
      trackId: 'a',
      ts: T0,
      msPlayed: 40_000,
    });
    for (const [playId, userId] of [
      ['p1', 'ann'],
      ['q', 'bob'],
    ] as const) {
      await stores.royalties.recordStream({
        playId,
        month: '2026-11',
        trackId: 'a',
        artistId: 'ar',
        userId,
        territory: 'SE',
        product: 'premium',
        ts: T0 + 90_000,
        msPlayed: 30_000,
        eventId: `${playId}:progress`,
      });
    }
    router = createApiRouter(
      meRoutes({
        history: stores.history,
        royalties: stores.royalties,
        catalog: stores.catalog,
        streamThresholdMs: 30_000,
        now: () => T0,
      }),
    );
  });
  afterAll(async () => {
    await stores.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('me api - history newest first, hydrated, with whether each play counted; paged with before', async () => {
    const first = await get('/v1/me/history', { limit: '2' });
    expect(first.status).toBe(200);
    const page = first.json as {
      items: { play_id: string; royalty_counted: boolean; track: { name?: string }; end_reason?: string }[];
      next: string | null;
      cursors: { before: string | null };
    };
    expect(page.items.map((i) => [i.play_id, i.royalty_counted])).toEqual([
      ['p2', false],
      ['p1', true],
    ]);
    expect(page.items[0]).toMatchObject({
      played_at: new Date(T0 + 120_000).toISOString(),
      ms_played: 5_000,
      track: { id: 'a', uri: 'spotify:track:a', name: 'Song a', artist: 'Art', duration_ms: 60_000 },
      context_uri: 'spotify:playlist:x',
      device_id: 'phone',
      end_reason: 'skip',
    });
    expect(page.next).toBe(`/v1/me/history?limit=2&before=${encodeURIComponent(page.cursors.before!)}`);
    const second = (await get('/v1/me/history', { limit: '2', before: page.cursors.before! }))
      .json as typeof page;
    expect(second.items.map((i) => i.play_id)).toEqual(['p0']);
    expect(second.next).toBeNull();
    expect((await get('/v1/me/history', { before: 'garbage' })).status).toBe(400);
    expect((await get('/v1/me/history', { limit: '51' })).status).toBe(400);
  });

  it("me api - royalties list the caller's counted streams of a month, and only theirs", async () => {
    const r = await get('/v1/me/royalties');
    expect(r).toMatchObject({
      status: 200,
      json: {
        month: '2026-11',
        threshold_ms: 30_000,
        streams: 1,
        items: [
          { play_id: 'p1', track_id: 'a', territory: 'SE', product: 'premium', event_id: 'p1:progress' },
        ],
      },
    });
    expect((await get('/v1/me/royalties', { month: '2026-10' })).json).toMatchObject({
      streams: 0,
      items: [],
    });
    expect(await get('/v1/me/royalties', { month: '2026-13' })).toMatchObject({
      status: 400,
      json: { error: { status: 400, code: 'bad_request', message: expect.stringMatching(/month/) } },
    });
  });
});
