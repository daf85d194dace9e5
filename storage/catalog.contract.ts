/**
 * Catalog port contract (storage/catalog.ts), run against every adapter: catalog.test.ts
 * (LMDB) and catalog.engine.test.ts (CQL node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioFile, CatalogStore, Track } from './catalog.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

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

export function catalogContract(adapter: string, open: PortFactory<CatalogStore>): void {
  describe(`catalog contract (${adapter})`, () => {
    let opened: OpenedPort<CatalogStore>;
    let c: CatalogStore;
    beforeAll(async () => {
      opened = await open();
      c = opened.port;
    });
    afterAll(() => opened?.close());

    it('catalog - batch read returns the stored tracks, unknown ids absent, duplicates once', async () => {
      await c.putTrack(track('t1', { trackNumber: 2 }));
      await c.putTrack(track('t2', { trackNumber: 1, isrc: 'USRC17607839' }));
      const got = await c.getTracks(['t1', 't2', 'nope', 't1']);
      expect([...got.keys()].sort()).toEqual(['t1', 't2']);
      expect(got.get('t1')).toEqual(track('t1', { trackNumber: 2 }));
      expect(got.get('t2')).toEqual(track('t2', { trackNumber: 1, isrc: 'USRC17607839' }));
      expect((await c.getTracks([])).size).toBe(0);
      expect((await c.getTracks(['nope'])).size).toBe(0);
    });

    it('catalog - putTrack is an idempotent upsert: the last write wins, stored once', async () => {
      await c.putTrack(track('up', { albumId: 'al-up', title: 'First' }));
      await c.putTrack(track('up', { albumId: 'al-up', title: 'First' }));
      await c.putTrack(track('up', { albumId: 'al-up', title: 'Second', isrc: 'GBAYE0601498' }));
      expect((await c.getTracks(['up'])).get('up')).toEqual(
        track('up', { albumId: 'al-up', title: 'Second', isrc: 'GBAYE0601498' }),
      );
      expect(await c.getAlbumTrackIds('al-up')).toEqual(['up']);
      // An upsert replaces the whole track: an optional field left out is gone.
      await c.putTrack(track('up', { albumId: 'al-up', title: 'Third' }));
      expect((await c.getTracks(['up'])).get('up')).toEqual(
        track('up', { albumId: 'al-up', title: 'Third' }),
      );
      expect((await c.listTrackIds()).filter((id) => id === 'up')).toEqual(['up']);
    });

    it('catalog - album order is track number; album and artist indexes follow a track that moves', async () => {
      await c.putTrack(track('m1', { albumId: 'alA', artistId: 'arA', trackNumber: 2 }));
      await c.putTrack(track('m2', { albumId: 'alA', artistId: 'arA', trackNumber: 1 }));
      await c.putTrack(track('m3', { albumId: 'alB', artistId: 'arB', trackNumber: 1 }));
      expect(await c.getAlbumTrackIds('alA')).toEqual(['m2', 'm1']);
      expect((await c.getArtistTrackIds('arA')).sort()).toEqual(['m1', 'm2']);
      await c.putTrack(track('m1', { albumId: 'alB', artistId: 'arB', trackNumber: 2 }));
      expect(await c.getAlbumTrackIds('alA')).toEqual(['m2']);
      expect(await c.getAlbumTrackIds('alB')).toEqual(['m3', 'm1']);
      expect((await c.getArtistTrackIds('arA')).sort()).toEqual(['m2']);
      expect((await c.getArtistTrackIds('arB')).sort()).toEqual(['m1', 'm3']);
      // A new track number on the same album re-sorts it.
      await c.putTrack(track('m1', { albumId: 'alB', artistId: 'arB', trackNumber: 0 }));
      expect(await c.getAlbumTrackIds('alB')).toEqual(['m1', 'm3']);
      expect(await c.getAlbumTrackIds('unknown')).toEqual([]);
      expect(await c.getArtistTrackIds('unknown')).toEqual([]);
      expect(await c.listTrackIds()).toEqual(expect.arrayContaining(['m1', 'm2', 'm3']));
    });

    it('catalog - audio files ascending by bitrate, upserted by (track, bitrate)', async () => {
      await c.putAudioFile(audioFile('af', 160));
      await c.putAudioFile(audioFile('af', 24));
      await c.putAudioFile(audioFile('af', 320));
      await c.putAudioFile({ ...audioFile('af', 160), contentAddress: 'ff'.repeat(32) });
      const files = await c.getAudioFiles('af');
      expect(files.map((f) => f.bitrateKbps)).toEqual([24, 160, 320]);
      expect(files[0]).toEqual(audioFile('af', 24));
      expect(files[1]!.contentAddress).toBe('ff'.repeat(32));
      expect(await c.getAudioFiles('none')).toEqual([]);
    });

    it('catalog - rights for a territory come with the worldwide row; upsert by (track, territory)', async () => {
      await c.putRights({ trackId: 'r1', territory: '*', allowed: true });
      await c.putRights({ trackId: 'r1', territory: 'DE', allowed: true });
      await c.putRights({
        trackId: 'r1',
        territory: 'DE',
        allowed: false,
        availableFrom: 1000,
        availableUntil: 2000,
        premiumOnly: true,
      });
      await c.putRights({ trackId: 'r1', territory: 'FR', allowed: true });
      const de = await c.getRights('r1', 'DE');
      expect(de.sort((a, b) => a.territory.localeCompare(b.territory))).toEqual([
        { trackId: 'r1', territory: '*', allowed: true },
        {
          trackId: 'r1',
          territory: 'DE',
          allowed: false,
          availableFrom: 1000,
          availableUntil: 2000,
          premiumOnly: true,
        },
      ]);
      expect(await c.getRights('r1', 'US')).toEqual([{ trackId: 'r1', territory: '*', allowed: true }]);
      // An upsert replaces the whole row: the window and premium flag left out are gone.
      await c.putRights({
        trackId: 'r1',
        territory: 'FR',
        allowed: false,
        premiumOnly: true,
        availableFrom: 5,
      });
      await c.putRights({ trackId: 'r1', territory: 'FR', allowed: true });
      expect((await c.getRights('r1', 'FR')).find((r) => r.territory === 'FR')).toEqual({
        trackId: 'r1',
        territory: 'FR',
        allowed: true,
      });
      expect(await c.getRights('r1', '*')).toEqual([{ trackId: 'r1', territory: '*', allowed: true }]);
      expect(await c.getRights('unknown', 'DE')).toEqual([]);
    });

    it('catalog - bad input is bad_request and stores nothing', async () => {
      expect(await storageErrorCode(c.putTrack(track('')))).toBe('bad_request');
      expect(await storageErrorCode(c.putTrack(track('bad1', { trackNumber: -1 })))).toBe('bad_request');
      expect(await storageErrorCode(c.putTrack(track('bad2', { durationMs: 1.5 })))).toBe('bad_request');
      expect(await storageErrorCode(c.putTrack(track('bad3', { albumId: '' })))).toBe('bad_request');
      expect(await storageErrorCode(c.putTrack(track('bad8', { artistName: undefined as never })))).toBe(
        'bad_request',
      );
      expect(await storageErrorCode(c.putTrack(track('bad9', { isrc: 12 as never })))).toBe('bad_request');
      expect(await storageErrorCode(c.putTrack(track('x'.repeat(10_000))))).toBe('bad_request');
      expect(await storageErrorCode(c.putAudioFile(audioFile('bad4', 0)))).toBe('bad_request');
      expect(
        await storageErrorCode(c.putAudioFile({ ...audioFile('bad5', 96), chunks: null as never })),
      ).toBe('bad_request');
      expect(
        await storageErrorCode(c.putRights({ trackId: 'bad6', territory: 'germany', allowed: true })),
      ).toBe('bad_request');
      expect(
        await storageErrorCode(c.putRights({ trackId: 'bad7', territory: 'DE', allowed: 'yes' as never })),
      ).toBe('bad_request');
      expect((await c.getTracks(['bad1', 'bad2', 'bad3', 'bad8', 'bad9'])).size).toBe(0);
      expect(await c.getAudioFiles('bad4')).toEqual([]);
      expect(await c.getRights('bad6', 'DE')).toEqual([]);
    });

    it('catalog - everything written survives a restart', async () => {
      await c.putTrack(track('dur', { albumId: 'al-dur', artistId: 'ar-dur' }));
      await c.putAudioFile(audioFile('dur', 96));
      await c.putRights({ trackId: 'dur', territory: 'SE', allowed: true });
      c = await opened.reopen();
      expect((await c.getTracks(['dur'])).get('dur')).toEqual(
        track('dur', { albumId: 'al-dur', artistId: 'ar-dur' }),
      );
      expect(await c.getAudioFiles('dur')).toEqual([audioFile('dur', 96)]);
      expect(await c.getRights('dur', 'SE')).toEqual([{ trackId: 'dur', territory: 'SE', allowed: true }]);
      expect(await c.getAlbumTrackIds('al-dur')).toEqual(['dur']);
      expect(await c.getArtistTrackIds('ar-dur')).toEqual(['dur']);
    });
  });
}
