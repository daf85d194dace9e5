/** Contract suites for the catalog, users, history and snapshot ports, run against every adapter. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioFile, Track } from './catalog.ts';
import { isStorageError } from './errors.ts';
import type { Stores } from './stores.ts';
import type { StoresHarness } from '../testkit/store-engines.ts';

export const track = (id: string, over: Partial<Track> = {}): Track => ({
  id,
  title: `Title ${id}`,
  artistId: 'ar1',
  artistName: 'Artist',
  albumId: 'al1',
  albumName: 'Album',
  trackNumber: 1,
  durationMs: 180_000,
  ...over,
});

const audioFile = (trackId: string, bitrateKbps: number): AudioFile => ({
  trackId,
  bitrateKbps,
  codec: 'opus',
  container: 'webm',
  mimeType: 'audio/webm; codecs="opus"',
  contentAddress: 'ab'.repeat(32),
  init: { key: 'cd'.repeat(32), bytes: 300 },
  chunkDurationMs: 10_000,
  chunks: [
    { index: 0, key: 'ef'.repeat(32), bytes: 1000, durationMs: 10_000 },
    { index: 1, key: '01'.repeat(32), bytes: 900, durationMs: 5_000 },
  ],
  encoderDelaySamples: 312,
  paddingSamples: 100,
  sampleRate: 48_000,
  loudness: { integratedLufs: -9.5, replayGainDb: -4.5 },
});

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isStorageError(e) ? e.code : `non-storage error: ${String(e)}`;
  }
}

export function storesContract(harness: () => StoresHarness) {
  describe('stores contract', () => {
    let h: StoresHarness;
    let s: Stores;
    beforeAll(async () => {
      h = harness();
      s = await h.open();
    });
    afterAll(async () => {
      await s?.close();
      await h?.cleanup();
    });

    it('catalog - tracks batch read, album and artist indexes follow upserts', async () => {
      await s.catalog.putTrack(track('t1', { trackNumber: 2 }));
      await s.catalog.putTrack(track('t2', { trackNumber: 1, isrc: 'USRC17607839' }));
      await s.catalog.putTrack(track('t3', { albumId: 'al2', artistId: 'ar2', trackNumber: 1 }));
      const got = await s.catalog.getTracks(['t1', 't2', 'nope', 't1']);
      expect([...got.keys()].sort()).toEqual(['t1', 't2']);
      expect(got.get('t2')).toEqual(track('t2', { trackNumber: 1, isrc: 'USRC17607839' }));
      expect(await s.catalog.getAlbumTrackIds('al1')).toEqual(['t2', 't1']);
      expect((await s.catalog.getArtistTrackIds('ar1')).sort()).toEqual(['t1', 't2']);
      // Moving t1 to another album and artist removes it from the old indexes.
      await s.catalog.putTrack(track('t1', { albumId: 'al2', artistId: 'ar2', trackNumber: 2 }));
      expect(await s.catalog.getAlbumTrackIds('al1')).toEqual(['t2']);
      expect(await s.catalog.getAlbumTrackIds('al2')).toEqual(['t3', 't1']);
      expect((await s.catalog.getArtistTrackIds('ar2')).sort()).toEqual(['t1', 't3']);
      expect(await s.catalog.getAlbumTrackIds('unknown')).toEqual([]);
      expect((await s.catalog.listTrackIds()).sort()).toEqual(['t1', 't2', 't3']);
      expect(await code(s.catalog.putTrack(track('')))).toBe('bad_request');
    });

    it('catalog - audio files ascending by bitrate, rights with worldwide row', async () => {
      await s.catalog.putAudioFile(audioFile('t1', 160));
      await s.catalog.putAudioFile(audioFile('t1', 24));
      await s.catalog.putAudioFile(audioFile('t1', 320));
      const files = await s.catalog.getAudioFiles('t1');
      expect(files.map((f) => f.bitrateKbps)).toEqual([24, 160, 320]);
      expect(files[0]).toEqual(audioFile('t1', 24));
      expect(await s.catalog.getAudioFiles('none')).toEqual([]);
      await s.catalog.putRights({ trackId: 't1', territory: '*', allowed: true });
      await s.catalog.putRights({
        trackId: 't1',
        territory: 'DE',
        allowed: false,
        availableFrom: 1000,
        premiumOnly: true,
      });
      await s.catalog.putRights({ trackId: 't1', territory: 'FR', allowed: true });
      const de = await s.catalog.getRights('t1', 'DE');
      expect(de.sort((a, b) => a.territory.localeCompare(b.territory))).toEqual([
        { trackId: 't1', territory: '*', allowed: true },
        { trackId: 't1', territory: 'DE', allowed: false, availableFrom: 1000, premiumOnly: true },
      ]);
      expect(await s.catalog.getRights('t1', 'US')).toEqual([
        { trackId: 't1', territory: '*', allowed: true },
      ]);
      expect(await code(s.catalog.putRights({ trackId: 't1', territory: 'germany', allowed: true }))).toBe(
        'bad_request',
      );
    });

    it('users - put and get', async () => {
      const u = { id: 'u1', displayName: 'Ann', plan: 'premium', country: 'SE', quality: 'high' } as const;
      await s.users.putUser(u);
      expect(await s.users.getUser('u1')).toEqual(u);
      expect(await s.users.getUser('nobody')).toBeUndefined();
      expect(await code(s.users.putUser({ ...u, plan: 'gold' as 'free' }))).toBe('bad_request');
    });

    it('history - newest first across months, paged, idempotent appends', async () => {
      const base = Date.UTC(2026, 0, 30, 12);
      const day = 86_400_000;
      // 30 plays over ~2 months, appended out of order, each twice.
      const plays = Array.from({ length: 30 }, (_, i) => ({
        userId: 'hu',
        playId: `p${String(i).padStart(2, '0')}`,
        trackId: `t${i}`,
        ts: base + i * 2 * day,
        msPlayed: 31_000,
        context: 'spotify:playlist:x',
      }));
      for (const p of [...plays].reverse()) await s.history.appendHistory(p);
      for (const p of plays) await s.history.appendHistory(p);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await s.history.readHistory('hu', { limit: 7, ...(cursor ? { cursor } : {}) });
        seen.push(...page.entries.map((e) => e.playId));
        cursor = page.next;
        pages++;
      } while (cursor);
      expect(seen).toEqual(plays.map((p) => p.playId).reverse());
      expect(pages).toBe(5);
      const first = await s.history.readHistory('hu', { limit: 1 });
      expect(first.entries[0]).toEqual(plays[29]);
      expect((await s.history.readHistory('nobody')).entries).toEqual([]);
      expect(await code(s.history.readHistory('hu', { cursor: 'garbage' }))).toBe('bad_request');
      // Same ts, different plays: both kept, ordered by play id desc.
      await s.history.appendHistory({ userId: 'hv', playId: 'a', trackId: 't', ts: base, msPlayed: 1 });
      await s.history.appendHistory({ userId: 'hv', playId: 'b', trackId: 't', ts: base, msPlayed: 1 });
      const p1 = await s.history.readHistory('hv', { limit: 1 });
      const p2 = await s.history.readHistory('hv', { limit: 1, cursor: p1.next! });
      expect([...p1.entries, ...p2.entries].map((e) => e.playId)).toEqual(['b', 'a']);
      expect(p2.next).toBeUndefined();
    });

    it('snapshots - put/get/delete, a stale version never overwrites a newer one', async () => {
      const snap = { userId: 'su', version: 5, savedAt: 1, state: { queue: ['a', 'b'], pos: 1200 } };
      await s.snapshots.putSnapshot(snap);
      expect(await s.snapshots.getSnapshot('su')).toEqual(snap);
      await s.snapshots.putSnapshot({ ...snap, savedAt: 2 });
      expect(await code(s.snapshots.putSnapshot({ ...snap, version: 4, state: { old: true } }))).toBe(
        'conflict',
      );
      expect((await s.snapshots.getSnapshot('su'))?.savedAt).toBe(2);
      await s.snapshots.putSnapshot({ ...snap, version: 6, state: { queue: [] } });
      expect((await s.snapshots.getSnapshot('su'))?.state).toEqual({ queue: [] });
      await s.snapshots.deleteSnapshot('su');
      expect(await s.snapshots.getSnapshot('su')).toBeUndefined();
      await s.snapshots.putSnapshot({ ...snap, version: 1 });
      expect((await s.snapshots.getSnapshot('su'))?.version).toBe(1);
    });

    it('stores - everything survives a restart (reopen)', async () => {
      await s.catalog.putTrack(track('dur'));
      await s.users.putUser({ id: 'du', displayName: 'D', plan: 'free', country: 'US', quality: 'normal' });
      await s.history.appendHistory({
        userId: 'du',
        playId: 'p',
        trackId: 'dur',
        ts: 1_700_000_000_000,
        msPlayed: 40_000,
      });
      await s.snapshots.putSnapshot({ userId: 'du', version: 3, savedAt: 9, state: { x: 1 } });
      await s.close();
      s = await h.open();
      expect((await s.catalog.getTracks(['dur'])).get('dur')?.title).toBe('Title dur');
      expect((await s.users.getUser('du'))?.plan).toBe('free');
      expect((await s.history.readHistory('du')).entries.map((e) => e.playId)).toEqual(['p']);
      expect((await s.snapshots.getSnapshot('du'))?.state).toEqual({ x: 1 });
    });
  });
}
