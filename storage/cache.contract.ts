/**
 * View cache port contract (storage/cache.ts), run against every adapter: cache.test.ts
 * (in-process LRU) and cache.engine.test.ts (Redis). Each case opens a fresh, empty cache.
 * `evict` makes the adapter lose what it holds for a playlist, as memory pressure would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { PlaylistPage, TrackCache } from './cache.ts';
import { track } from './catalog.contract.ts';
import type { Playlist } from './playlists.ts';
import { waitFor } from '../testkit/pipeline.ts';

/** A page of `trackIds` under a header at `version`. */
export function page(playlistId: string, version: number, trackIds: string[]): PlaylistPage {
  const playlist: Playlist = {
    id: playlistId,
    ownerId: 'o',
    name: `v${version}`,
    public: true,
    collaborative: false,
    collaborators: [],
    version,
    length: trackIds.length,
    createdAt: 1,
  };
  const entries = trackIds.map((trackId, i) => ({ entryId: `e${i}`, trackId, addedBy: 'o', addedAt: 2 }));
  return { playlist, entries, total: trackIds.length };
}

export function cacheContract(
  name: string,
  open: () => Promise<TrackCache>,
  evict: (cache: TrackCache, playlistId: string) => Promise<void>,
): void {
  describe(`cache contract (${name})`, () => {
    const opened: TrackCache[] = [];
    const fresh = async () => {
      const c = await open();
      opened.push(c);
      return c;
    };
    afterEach(async () => {
      for (const c of opened.splice(0)) await c.close();
    });

    it('cache - put then get returns the tracks; absent ids are misses; duplicates once', async () => {
      const c = await fresh();
      const a = track('ca', { isrc: 'USRC17607839' });
      const b = track('cb', { trackNumber: 7 });
      await c.putTracks([a, b]);
      const got = await c.getTracks(['ca', 'missing', 'cb', 'ca']);
      expect([...got.keys()].sort()).toEqual(['ca', 'cb']);
      expect(got.get('ca')).toEqual(a);
      expect(got.get('cb')).toEqual(b);
      expect((await c.getTracks(['missing'])).size).toBe(0);
      expect((await c.getTracks([])).size).toBe(0);
    });

    it('cache - a later put of the same id replaces the value', async () => {
      const c = await fresh();
      await c.putTracks([track('cr', { title: 'old' })]);
      await c.putTracks([track('cr', { title: 'new' })]);
      expect((await c.getTracks(['cr'])).get('cr')?.title).toBe('new');
    });

    it('cache - putting nothing is a no-op', async () => {
      const c = await fresh();
      await c.putTracks([]);
      expect((await c.getTracks(['anything'])).size).toBe(0);
    });

    it('cache - an entry expires after its TTL; the default TTL keeps it', async () => {
      const c = await fresh();
      await c.putTracks([track('short')], 1);
      await c.putTracks([track('long')]);
      expect((await c.getTracks(['short'])).has('short')).toBe(true);
      await waitFor(
        'the 1 s entry to expire',
        async () => !(await c.getTracks(['short'])).has('short'),
        5_000,
      );
      expect((await c.getTracks(['long'])).get('long')).toEqual(track('long'));
    });

    it('cache - 200 tracks in one call round-trip', async () => {
      const c = await fresh();
      const many = Array.from({ length: 200 }, (_, i) => track(`m${i}`, { trackNumber: i }));
      await c.putTracks(many);
      const got = await c.getTracks(many.map((t) => t.id));
      expect(got.size).toBe(200);
      expect(got.get('m123')).toEqual(track('m123', { trackNumber: 123 }));
    });

    it('cache page - a miss grants one lease; its fill is read back with the cached tracks', async () => {
      const c = await fresh();
      await c.putTracks([track('pa'), track('pc')]);
      const first = await c.readPlaylistPage('pl', 0, 3);
      expect(first).toMatchObject({ hit: false, lease: expect.any(String) });
      // Another reader meanwhile reads the store without a lease: one fill per page.
      expect(await c.readPlaylistPage('pl', 0, 3)).toEqual({ hit: false });
      const p = page('pl', 4, ['pa', 'pb', 'pc']);
      expect(await c.fillPlaylistPage('pl', 0, 3, first.hit ? '' : first.lease!, p)).toBe(true);
      const hit = await c.readPlaylistPage('pl', 0, 3);
      expect(hit).toEqual({
        hit: true,
        page: p,
        tracks: new Map([
          ['pa', track('pa')],
          ['pc', track('pc')],
        ]),
      });
      // Pages are per offset and limit.
      expect((await c.readPlaylistPage('pl', 0, 2)).hit).toBe(false);
      expect((await c.readPlaylistPage('other', 0, 3)).hit).toBe(false);
    });

    it('cache page - a fill without the live lease stores nothing; a lease fills once', async () => {
      const c = await fresh();
      const r = await c.readPlaylistPage('pw', 0, 1);
      expect(await c.fillPlaylistPage('pw', 0, 1, 'not-the-lease', page('pw', 1, ['x']))).toBe(false);
      expect(await c.fillPlaylistPage('pw', 5, 1, r.hit ? '' : r.lease!, page('pw', 1, ['x']))).toBe(false);
      expect((await c.readPlaylistPage('pw', 0, 1)).hit).toBe(false);
      expect(await c.fillPlaylistPage('pw', 0, 1, r.hit ? '' : r.lease!, page('pw', 1, ['x']))).toBe(true);
      expect(await c.fillPlaylistPage('pw', 0, 1, r.hit ? '' : r.lease!, page('pw', 0, ['old']))).toBe(false);
      expect(await c.readPlaylistPage('pw', 0, 1)).toMatchObject({ hit: true, page: page('pw', 1, ['x']) });
    });

    it('cache page - an edit drops the pages and voids leases granted before it; none is granted during it', async () => {
      const c = await fresh();
      const a = await c.readPlaylistPage('pe', 0, 2);
      await c.fillPlaylistPage('pe', 0, 2, a.hit ? '' : a.lease!, page('pe', 1, ['a', 'b']));
      const before = await c.readPlaylistPage('pe', 10, 2); // a reader that read the store before the edit
      expect(before.hit).toBe(false);
      await c.beginPlaylistEdit('pe');
      expect(await c.readPlaylistPage('pe', 0, 2)).toEqual({ hit: false });
      expect(await c.readPlaylistPage('pe', 10, 2)).toEqual({ hit: false });
      expect(await c.fillPlaylistPage('pe', 10, 2, before.hit ? '' : before.lease!, page('pe', 1, []))).toBe(
        false,
      );
      await c.endPlaylistEdit('pe');
      expect((await c.readPlaylistPage('pe', 10, 2)).hit).toBe(false);
      const after = await c.readPlaylistPage('pe', 0, 2);
      expect(after).toMatchObject({ hit: false, lease: expect.any(String) });
      await c.fillPlaylistPage('pe', 0, 2, after.hit ? '' : after.lease!, page('pe', 2, ['b']));
      expect(await c.readPlaylistPage('pe', 0, 2)).toMatchObject({ hit: true, page: page('pe', 2, ['b']) });
    });

    it('cache page - a lease granted during overlapping edits is void once the last one ends', async () => {
      const c = await fresh();
      await c.beginPlaylistEdit('po');
      await c.beginPlaylistEdit('po');
      await c.endPlaylistEdit('po');
      // One edit is still in progress: no lease.
      expect(await c.readPlaylistPage('po', 0, 1)).toEqual({ hit: false });
      await c.endPlaylistEdit('po');
      const r = await c.readPlaylistPage('po', 0, 1);
      expect(r).toMatchObject({ hit: false, lease: expect.any(String) });
      // An end without a begin (its mark lapsed) leaves no negative count behind.
      await c.endPlaylistEdit('po');
      await c.endPlaylistEdit('never-begun');
      expect(await c.readPlaylistPage('never-begun', 0, 1)).toMatchObject({ lease: expect.any(String) });
      expect(await c.fillPlaylistPage('po', 0, 1, r.hit ? '' : r.lease!, page('po', 3, []))).toBe(false);
    });

    it('cache page - eviction only ever costs a miss: an evicted lease fails its fill', async () => {
      const c = await fresh();
      const r = await c.readPlaylistPage('pv', 0, 1);
      await evict(c, 'pv');
      expect(await c.fillPlaylistPage('pv', 0, 1, r.hit ? '' : r.lease!, page('pv', 1, ['x']))).toBe(false);
      const again = await c.readPlaylistPage('pv', 0, 1);
      expect(await c.fillPlaylistPage('pv', 0, 1, again.hit ? '' : again.lease!, page('pv', 1, ['x']))).toBe(
        true,
      );
      await evict(c, 'pv');
      expect((await c.readPlaylistPage('pv', 0, 1)).hit).toBe(false);
    });

    it('cache page - a lease granted after an edit mark was evicted is void once that edit ends', async () => {
      const c = await fresh();
      await c.beginPlaylistEdit('pm');
      await evict(c, 'pm');
      const during = await c.readPlaylistPage('pm', 0, 1); // a lease only where the mark was lost
      await c.endPlaylistEdit('pm');
      if (!during.hit && during.lease)
        expect(await c.fillPlaylistPage('pm', 0, 1, during.lease, page('pm', 0, []))).toBe(false);
      expect((await c.readPlaylistPage('pm', 0, 1)).hit).toBe(false);
    });

    it('cache page - a page expires after its TTL', async () => {
      const c = await fresh();
      const r = await c.readPlaylistPage('pt', 0, 1);
      expect(await c.fillPlaylistPage('pt', 0, 1, r.hit ? '' : r.lease!, page('pt', 1, ['x']), 1)).toBe(true);
      expect((await c.readPlaylistPage('pt', 0, 1)).hit).toBe(true);
      // The lease's own few seconds (LEASE_TTL_MS) are the floor of a page's life.
      await waitFor(
        'the 1 s page to expire',
        async () => !(await c.readPlaylistPage('pt', 0, 1)).hit,
        10_000,
      );
    });
  });
}
