/** Hydration contract: cache hit, miss, partial miss and stampede, on every cache adapter. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TrackCache } from './cache.ts';
import type { CatalogStore } from './catalog.ts';
import { createPlaylistViewer, type PlaylistViewer } from './hydration.ts';
import type { PlaylistStore } from './playlists.ts';
import { createLmdbCatalog } from './catalog.lmdb.ts';
import { createLmdbPlaylists } from './playlists.lmdb.ts';
import { embeddedPort, type OpenedPort } from '../testkit/store-engines.ts';
import { track } from './catalog.contract.ts';

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

export function hydrationContract(name: string, openCache: () => Promise<TrackCache>) {
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
  });
}
