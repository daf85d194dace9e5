/**
 * Track feature store port contract (storage/features.ts), run against every adapter:
 * features.test.ts (LMDB) and features.engine.test.ts (CQL node: LWT marker + rows per play).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureStore, FinishedPlay } from './features.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

const TS = Date.UTC(2025, 5, 3, 12);

const play = (playId: string, trackId: string, over: Partial<FinishedPlay> = {}): FinishedPlay => ({
  playId,
  userId: 'fu',
  trackId,
  ts: TS,
  skipped: false,
  neighbours: [],
  tail: { tracks: [trackId], lastTs: TS },
  ...over,
});

export function featuresContract(adapter: string, open: PortFactory<FeatureStore>): void {
  describe(`features contract (${adapter})`, () => {
    let opened: OpenedPort<FeatureStore>;
    let f: FeatureStore;
    beforeAll(async () => {
      opened = await open();
      f = opened.port;
    });
    afterAll(() => opened?.close());

    it('features - a play is applied once: replays resolve false and move nothing', async () => {
      const p = play('once-1', 'ft1', { neighbours: ['ft0'], tail: { tracks: ['ft0', 'ft1'], lastTs: TS } });
      expect(await f.applyPlay(p)).toBe(true);
      for (let i = 0; i < 3; i++)
        expect(
          await f.applyPlay({ ...p, skipped: true, userId: 'other', tail: { tracks: ['zz'], lastTs: 1 } }),
        ).toBe(false);
      expect(await f.trackStats('ft1')).toEqual({ plays: 1, skips: 0 });
      expect(await f.cooccurring('ft1')).toEqual([{ trackId: 'ft0', count: 1 }]);
      expect(await f.sessionTail('other')).toBeUndefined();
    });

    it('features - concurrent applies of one play: exactly one wins', async () => {
      const p = play('race-1', 'fr1', { userId: 'fr', neighbours: ['fr0'] });
      const results = await Promise.all(Array.from({ length: 8 }, () => f.applyPlay(p)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await f.trackStats('fr1')).toEqual({ plays: 1, skips: 0 });
      expect(await f.cooccurring('fr0')).toEqual([{ trackId: 'fr1', count: 1 }]);
    });

    it('features - play and skip counts add up per track; an unknown track has zeros', async () => {
      await f.applyPlay(play('s-1', 'fs1'));
      await f.applyPlay(play('s-2', 'fs1', { skipped: true }));
      await f.applyPlay(play('s-3', 'fs1', { skipped: true }));
      await f.applyPlay(play('s-4', 'fs2', { skipped: true }));
      expect(await f.trackStats('fs1')).toEqual({ plays: 3, skips: 2 });
      expect(await f.trackStats('fs2')).toEqual({ plays: 1, skips: 1 });
      expect(await f.trackStats('unknown')).toEqual({ plays: 0, skips: 0 });
    });

    it('features - co-occurrence counts both directions, most frequent first (ties by id), limited', async () => {
      // c1 with c2 three times, with c3 twice, with c4 and c0 once each; c1 as its own neighbour is ignored.
      await f.applyPlay(play('c-1', 'c1', { neighbours: ['c2', 'c3', 'c1'] }));
      await f.applyPlay(play('c-2', 'c2', { neighbours: ['c1', 'c3'] }));
      await f.applyPlay(play('c-3', 'c1', { neighbours: ['c2', 'c4', 'c0'] }));
      await f.applyPlay(play('c-4', 'c3', { neighbours: ['c1'] }));
      expect(await f.cooccurring('c1')).toEqual([
        { trackId: 'c2', count: 3 },
        { trackId: 'c3', count: 2 },
        { trackId: 'c0', count: 1 },
        { trackId: 'c4', count: 1 },
      ]);
      expect(await f.cooccurring('c1', 2)).toEqual([
        { trackId: 'c2', count: 3 },
        { trackId: 'c3', count: 2 },
      ]);
      expect(await f.cooccurring('c3')).toEqual([
        { trackId: 'c1', count: 2 },
        { trackId: 'c2', count: 1 },
      ]);
      expect(await f.cooccurring('c4')).toEqual([{ trackId: 'c1', count: 1 }]);
      expect(await f.cooccurring('unknown')).toEqual([]);
    });

    it('features - the session tail is the one the last applied play carried; unknown user undefined', async () => {
      await f.applyPlay(play('t-1', 'ta', { userId: 'ft', tail: { tracks: ['ta'], lastTs: TS } }));
      await f.applyPlay(
        play('t-2', 'tb', { userId: 'ft', ts: TS + 1000, tail: { tracks: ['ta', 'tb'], lastTs: TS + 1000 } }),
      );
      expect(await f.sessionTail('ft')).toEqual({ tracks: ['ta', 'tb'], lastTs: TS + 1000 });
      await f.applyPlay(play('t-3', 'tc', { userId: 'fe', tail: { tracks: [], lastTs: TS } }));
      expect(await f.sessionTail('fe')).toEqual({ tracks: [], lastTs: TS });
      expect(await f.sessionTail('nobody')).toBeUndefined();
    });

    it('features - bad input is bad_request and applies nothing', async () => {
      const ok = play('bad-ok', 'fb');
      const bad: FinishedPlay[] = [
        { ...ok, playId: '' },
        { ...ok, userId: '' },
        { ...ok, trackId: '' },
        { ...ok, ts: -1 },
        { ...ok, ts: 1.5 },
        { ...ok, skipped: 'yes' as never },
        { ...ok, neighbours: 'fa' as never },
        { ...ok, neighbours: [''] },
        { ...ok, tail: { tracks: [42 as never], lastTs: TS } },
        { ...ok, tail: { tracks: [], lastTs: NaN } },
        { ...ok, tail: undefined as never },
      ];
      for (const p of bad) expect(await storageErrorCode(f.applyPlay(p))).toBe('bad_request');
      for (const limit of [0, -1, 2.5])
        expect(await storageErrorCode(f.cooccurring('fb', limit))).toBe('bad_request');
      expect(await f.trackStats('fb')).toEqual({ plays: 0, skips: 0 });
      // The rejected attempts left no marker: the same play id still applies.
      expect(await f.applyPlay(ok)).toBe(true);
    });

    it('features - stats, co-occurrence, tails and applied markers survive a restart', async () => {
      const p = play('d-1', 'fd1', { userId: 'fd', neighbours: ['fd0'], skipped: true });
      await f.applyPlay(p);
      f = await opened.reopen();
      expect(await f.trackStats('fd1')).toEqual({ plays: 1, skips: 1 });
      expect(await f.cooccurring('fd0')).toEqual([{ trackId: 'fd1', count: 1 }]);
      expect(await f.sessionTail('fd')).toEqual(p.tail);
      expect(await f.applyPlay(p)).toBe(false);
    });
  });
}
