/**
 * Hydration contract, on every cache adapter: cache hit, miss, partial miss and stampede; the
 * cached playlist pages stay exact under edits, concurrent edits, eviction and cache failure.
 * `evict` makes the adapter lose what it holds for a playlist, as memory pressure would.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TrackCache } from './cache.ts';
import type { CatalogStore } from './catalog.ts';
import { StorageError } from './errors.ts';
import { createPlaylistViewer, type PlaylistViewer } from './hydration.ts';
import type { PlaylistStore } from './playlists.ts';
import { createLmdbCatalog } from './catalog.lmdb.ts';
import { createLmdbPlaylists } from './playlists.lmdb.ts';
import { embeddedPort, type OpenedPort } from '../testkit/store-engines.ts';
import { track } from './catalog.contract.ts';
import { waitFor } from '../testkit/pipeline.ts';

/** Counts which track ids reach the real catalog. */
function counting(catalog: CatalogStore) {
  const loads = new Map<string, number>();
  let calls = 0;
  const wrapped: CatalogStore = {
    ...catalog,
    getTracks: (ids) => {
      calls++;
      for (const id of ids) loads.set(id, (loads.get(id) ?? 0) + 1);
      return catalog.getTracks(ids);
    },
  };
  return { wrapped, loads, calls: () => calls, reset: () => (loads.clear(), (calls = 0)) };
}

/** Counts the store's page reads; `hold()` makes the next reads wait, after reading, until released. */
function gated(playlists: PlaylistStore) {
  let reads = 0;
  let gate: Promise<void> | undefined;
  const store: PlaylistStore = {
    ...playlists,
    listEntries: async (id, who, page) => {
      const r = await playlists.listEntries(id, who, page);
      reads++;
      if (gate) await gate;
      return r;
    },
  };
  return {
    store,
    reads: () => reads,
    hold(): () => void {
      let release!: () => void;
      gate = new Promise<void>((r) => (release = r));
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

export function hydrationContract(
  name: string,
  openCache: () => Promise<TrackCache>,
  evict: (cache: TrackCache, playlistId: string) => Promise<void>,
) {
  describe(`hydration contract (${name})`, () => {
    // The stores behind the cache: embedded catalog and playlists in one LMDB environment.
    let opened: OpenedPort<{ catalog: CatalogStore; playlists: PlaylistStore }>;
    let s: { catalog: CatalogStore; playlists: PlaylistStore };
    let cache: TrackCache;
    let count: ReturnType<typeof counting>;
    let viewer: PlaylistViewer;
    let playlistId: string;
    const ids = Array.from({ length: 20 }, (_, i) => `h${i}`);

    beforeAll(async () => {
      opened = await embeddedPort('hydration', (env) => ({
        catalog: createLmdbCatalog(env),
        playlists: createLmdbPlaylists(env),
      }))();
      s = opened.port;
      for (const id of ids) await s.catalog.putTrack(track(id, { trackNumber: Number(id.slice(1)) + 1 }));
      const p = await s.playlists.createPlaylist({ ownerId: 'o', name: 'hydrate', public: false });
      // Duplicates and an id the catalog does not know.
      await s.playlists.editPlaylist(p.id, 'o', { kind: 'insert', trackIds: [...ids, 'h0', 'ghost'] });
      playlistId = p.id;
    });
    beforeEach(async () => {
      cache = await openCache();
      count = counting(s.catalog);
      viewer = createPlaylistViewer({ playlists: s.playlists, catalog: count.wrapped, cache });
    });
    afterAll(async () => {
      await cache?.close();
      await opened?.close();
    });

    it('hydration - miss reads the store once and writes back; the next view is a pure hit', async () => {
      const v = await viewer.viewPlaylist(playlistId, { limit: 100 }, 'o');
      expect(v.total).toBe(22);
      expect(v.items.map((i) => i.trackId)).toEqual([...ids, 'h0', 'ghost']);
      expect(v.items[3]!.track).toEqual(track('h3', { trackNumber: 4 }));
      expect(v.items[21]!.track).toBeNull();
      expect(count.calls()).toBe(1);
      expect(Math.max(...count.loads.values())).toBe(1);
      expect((await cache.getTracks(['h5'])).get('h5')?.title).toBe('Title h5');
      count.reset();
      const again = await viewer.viewPlaylist(playlistId, { limit: 20 }, 'o');
      expect(again.items.every((i) => i.track !== null)).toBe(true);
      expect(count.calls()).toBe(0);
      await cache.close();
    });

    it('hydration - partial miss loads only the missing ids', async () => {
      await cache.putTracks([track('h1', { trackNumber: 2 }), track('h2', { trackNumber: 3 })]);
      const v = await viewer.viewPlaylist(playlistId, { offset: 0, limit: 4 }, 'o');
      expect(v.items.map((i) => i.track?.id)).toEqual(['h0', 'h1', 'h2', 'h3']);
      expect([...count.loads.keys()].sort()).toEqual(['h0', 'h3']);
      await cache.close();
    });

    it('hydration - stampede: 100 concurrent views of a cold playlist hit the store once per track', async () => {
      const views = await Promise.all(
        Array.from({ length: 100 }, () => viewer.viewPlaylist(playlistId, { limit: 100 }, 'o')),
      );
      for (const v of views) expect(v.items.filter((i) => i.track).length).toBe(21);
      expect([...count.loads.keys()].sort()).toEqual([...ids, 'ghost'].sort());
      for (const [, n] of count.loads) expect(n).toBe(1);
      await cache.close();
    });

    it('hydration - authorization of the playlist store applies to views', async () => {
      await expect(viewer.viewPlaylist(playlistId, {}, 'stranger')).rejects.toMatchObject({
        code: 'forbidden',
      });
      await cache.close();
    });

    /** A fresh playlist of `trackIds` owned by o, and a viewer over a gated store. */
    async function fixture(trackIds = ['h1', 'h2', 'h3']) {
      const p = await s.playlists.createPlaylist({ ownerId: 'o', name: 'exact' });
      await s.playlists.editPlaylist(p.id, 'o', { kind: 'insert', trackIds });
      const g = gated(s.playlists);
      const v = createPlaylistViewer({ playlists: g.store, catalog: s.catalog, cache });
      const ids = async (who = 'o') =>
        (await v.viewPlaylist(p.id, { limit: 100 }, who)).items.map((i) => i.trackId);
      const storeIds = async () =>
        (await s.playlists.listEntries(p.id, 'o', { limit: 100 })).entries.map((e) => e.trackId);
      return { id: p.id, g, v, ids, storeIds };
    }

    it('hydration - a warm view reads neither the playlist store nor the catalog', async () => {
      const f = await fixture();
      const cold = await f.v.viewPlaylist(f.id, { limit: 100 }, 'o');
      expect(f.g.reads()).toBe(1);
      count.reset();
      const warmViewer = createPlaylistViewer({ playlists: f.g.store, catalog: count.wrapped, cache });
      const warm = await warmViewer.viewPlaylist(f.id, { limit: 100 }, 'o');
      expect(warm).toEqual(cold);
      expect(warm.playlist.version).toBe(1);
      expect(f.g.reads()).toBe(1);
      expect(count.calls()).toBe(0);
      await cache.close();
    });

    it('hydration - every kind of edit through viewer.playlists is on the very next view', async () => {
      const f = await fixture();
      const w = f.v.playlists;
      expect(await f.ids()).toEqual(['h1', 'h2', 'h3']);
      await w.editPlaylist(f.id, 'o', { kind: 'insert', trackIds: ['h4'], index: 0 });
      expect(await f.ids()).toEqual(['h4', 'h1', 'h2', 'h3']);
      await w.editPlaylist(f.id, 'o', { kind: 'move', rangeStart: 0, rangeLength: 1, insertBefore: 4 });
      expect(await f.ids()).toEqual(['h1', 'h2', 'h3', 'h4']);
      await w.editPlaylist(f.id, 'o', { kind: 'removeTracks', trackIds: ['h2'] });
      expect(await f.ids()).toEqual(['h1', 'h3', 'h4']);
      await w.editPlaylist(f.id, 'o', { kind: 'details', name: 'renamed' });
      const v = await f.v.viewPlaylist(f.id, { limit: 100 }, 'o');
      expect(v.playlist).toMatchObject({ name: 'renamed', version: 5, length: 3 });
      expect(v.total).toBe(3);
      // Made private: a stranger is refused at once, though the page was cached while public.
      expect(await f.ids('stranger')).toEqual(['h1', 'h3', 'h4']);
      await w.editPlaylist(f.id, 'o', { kind: 'details', public: false });
      await expect(f.v.viewPlaylist(f.id, {}, 'stranger')).rejects.toMatchObject({ code: 'forbidden' });
      await w.deletePlaylist(f.id, 'o');
      await expect(f.v.viewPlaylist(f.id, {}, 'o')).rejects.toMatchObject({ code: 'not_found' });
      await cache.close();
    });

    it('hydration - a view that read the store before an edit never caches that page', async () => {
      const f = await fixture();
      const release = f.g.hold();
      const racing = f.v.viewPlaylist(f.id, { limit: 100 }, 'o'); // reads h1..h3, then waits
      await waitFor('the racing view to read the store', () => f.g.reads() === 1);
      await f.v.playlists.editPlaylist(f.id, 'o', { kind: 'insert', trackIds: ['h9'] });
      release();
      expect((await racing).items.map((i) => i.trackId)).toEqual(['h1', 'h2', 'h3']);
      expect(await f.ids()).toEqual(['h1', 'h2', 'h3', 'h9']);
      expect(await f.ids()).toEqual(['h1', 'h2', 'h3', 'h9']); // and now from the cache
      expect(f.g.reads()).toBe(2);
      await cache.close();
    });

    it('hydration - concurrent edits and views: once settled, every view equals the store', async () => {
      const f = await fixture(['h0']);
      const edits = Array.from({ length: 8 }, (_, i) =>
        f.v.playlists.editPlaylist(f.id, 'o', { kind: 'insert', trackIds: [`h${i + 1}`] }),
      );
      const views = Array.from({ length: 30 }, () => f.ids());
      await Promise.all([...edits, ...views]);
      const truth = await f.storeIds();
      expect(truth).toHaveLength(9);
      expect(await f.ids()).toEqual(truth);
      expect(await f.ids()).toEqual(truth);
      await cache.close();
    });

    it('hydration - an evicted page, lease or edit mark costs a miss, never a stale view', async () => {
      const f = await fixture();
      expect(await f.ids()).toEqual(['h1', 'h2', 'h3']);
      await evict(cache, f.id);
      await f.v.playlists.editPlaylist(f.id, 'o', { kind: 'insert', trackIds: ['h4'] });
      expect(await f.ids()).toEqual(['h1', 'h2', 'h3', 'h4']);
      // The racing view's lease is evicted, then the edit: its fill must not land.
      const release = f.g.hold();
      await f.v.playlists.editPlaylist(f.id, 'o', { kind: 'details', name: 'x' }); // drop the page
      const racing = f.v.viewPlaylist(f.id, { limit: 100 }, 'o');
      await waitFor('the racing view to read the store', () => f.g.reads() === 3);
      await evict(cache, f.id);
      await f.v.playlists.editPlaylist(f.id, 'o', { kind: 'removeTracks', trackIds: ['h1'] });
      release();
      expect((await racing).items).toHaveLength(4);
      expect(await f.ids()).toEqual(['h2', 'h3', 'h4']);
      await cache.close();
    });

    it('hydration - an edit the cache cannot mark is refused and commits nothing; views fall back', async () => {
      const f = await fixture();
      const broken: TrackCache = {
        ...cache,
        beginPlaylistEdit: async () => {
          throw new StorageError('unavailable', 'cache down');
        },
        readPlaylistPage: async () => {
          throw new StorageError('unavailable', 'cache down');
        },
      };
      const errors: unknown[] = [];
      const v = createPlaylistViewer({
        playlists: s.playlists,
        catalog: s.catalog,
        cache: broken,
        onCacheError: (e) => errors.push(e),
      });
      await expect(
        v.playlists.editPlaylist(f.id, 'o', { kind: 'insert', trackIds: ['h4'] }),
      ).rejects.toMatchObject({ code: 'unavailable', message: expect.stringContaining('was not changed') });
      expect(await f.storeIds()).toEqual(['h1', 'h2', 'h3']);
      const view = await v.viewPlaylist(f.id, { limit: 2 }, 'o');
      expect(view.items.map((i) => i.trackId)).toEqual(['h1', 'h2']);
      expect(errors.length).toBeGreaterThanOrEqual(2);
      await expect(v.viewPlaylist(f.id, { limit: 0 }, 'o')).rejects.toMatchObject({ code: 'bad_request' });
      await expect(v.viewPlaylist(f.id, { offset: -1 }, 'o')).rejects.toMatchObject({ code: 'bad_request' });
      await cache.close();
    });
  });
}
