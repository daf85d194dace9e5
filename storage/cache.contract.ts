/**
 * Track cache port contract (storage/cache.ts), run against every adapter: cache.test.ts
 * (in-process LRU) and cache.engine.test.ts (Redis). Each case opens a fresh, empty cache.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { TrackCache } from './cache.ts';
import { track } from './catalog.contract.ts';
import { waitFor } from '../testkit/pipeline.ts';

export function cacheContract(name: string, open: () => Promise<TrackCache>): void {
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
  });
}
