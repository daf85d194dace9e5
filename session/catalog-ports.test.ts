/**
 * The actor's read ports over the real embedded store, with every store call counted: the
 * hot path (a cached track, a known context) must not read the store at all.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../storage/catalog.ts';
import { openEmbeddedStores } from '../testkit/test-stores.ts';
import type { Stores } from '../storage/stores.ts';
import { createCatalogPorts } from './catalog-ports.ts';

let stores: Stores;
let dir: string;
const calls: Record<string, number> = {};

/** The catalog port with every method counted. */
function counted(catalog: CatalogStore): CatalogStore {
  return new Proxy(catalog, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls[String(name)] = (calls[String(name)] ?? 0) + 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

const reset = () => {
  for (const k of Object.keys(calls)) delete calls[k];
};

async function addTrack(id: string, artistId: string, trackNumber: number, albumId = 'al1'): Promise<void> {
  await stores.catalog.putTrack({
    id,
    title: `Title ${id}`,
    artistId,
    artistName: `Artist ${artistId}`,
    albumId,
    albumName: 'Album 1',
    trackNumber,
    durationMs: 180_000,
  });
  await stores.catalog.putAudioFile({
    trackId: id,
    bitrateKbps: 96,
    codec: 'opus',
    container: 'webm',
    mimeType: 'audio/webm; codecs="opus"',
    contentAddress: `ca-${id}`,
    init: { key: `init-${id}`, bytes: 100 },
    chunkDurationMs: 10_000,
    chunks: [{ index: 0, key: `c0-${id}`, bytes: 1000, durationMs: 10_000 }],
    encoderDelaySamples: 312,
    paddingSamples: 0,
    sampleRate: 48_000,
    loudness: { integratedLufs: -14, replayGainDb: 0 },
  });
  await stores.catalog.putRights({ trackId: id, territory: '*', allowed: true });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'catalog-ports-'));
  stores = await openEmbeddedStores(join(dir, 'store'));
  await addTrack('t1', 'a1', 1);
  await addTrack('t2', 'a2', 2);
  await addTrack('t3', 'a1', 3);
});

afterAll(async () => {
  await stores?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('catalog ports', () => {
  it('catalog ports - a cached bundle is served without reading the store', async () => {
    const ports = createCatalogPorts({ catalog: counted(stores.catalog), playlists: stores.playlists });
    const first = await ports.loadTracks({ trackIds: ['t1', 't2'], country: 'SE' });
    expect(first.t1?.track.id).toBe('t1');
    expect(first.t2?.files[0]?.bitrateKbps).toBe(96);
    reset();
    const again = await ports.loadTracks({ trackIds: ['t1', 't2'], country: 'SE' });
    expect(again).toEqual(first);
    expect(calls).toEqual({});
  });

  it('catalog ports - a stale bundle is served at once and refreshed by one background read', async () => {
    let now = 1_000_000;
    const ports = createCatalogPorts({
      catalog: counted(stores.catalog),
      playlists: stores.playlists,
      cacheTtlMs: 1000,
      now: () => now,
    });
    await ports.loadTracks({ trackIds: ['t1'], country: 'SE' });
    await stores.catalog.putRights({ trackId: 't1', territory: 'SE', allowed: false });
    now += 5000;
    reset();
    const stale = await Promise.all(
      [1, 2, 3].map(() => ports.loadTracks({ trackIds: ['t1'], country: 'SE' })),
    );
    // Served from the cache (the old rights), with a single refresh started for the three plays.
    for (const r of stale) expect(r.t1?.rights.map((x) => x.territory)).toEqual(['*']);
    await expect
      .poll(async () => (await ports.loadTracks({ trackIds: ['t1'], country: 'SE' })).t1?.rights.length)
      .toBe(2);
    expect(calls.getTracks).toBe(1);
    expect(calls.getRights).toBe(1);
    await stores.catalog.putRights({ trackId: 't1', territory: 'SE', allowed: true });
  });

  it('catalog ports - peekTracks answers synchronously only when every bundle is cached, without reading the store', async () => {
    const ports = createCatalogPorts({ catalog: counted(stores.catalog), playlists: stores.playlists });
    reset();
    expect(ports.peekTracks({ trackIds: ['t1'], country: 'DK' })).toBeUndefined();
    expect(calls).toEqual({});
    const loaded = await ports.loadTracks({ trackIds: ['t1', 't2'], country: 'DK' });
    reset();
    expect(ports.peekTracks({ trackIds: ['t1', 't2'], country: 'DK' })).toEqual(loaded);
    // One id not cached (or not a track at all): the whole batch goes to loadTracks.
    expect(ports.peekTracks({ trackIds: ['t1', 't3'], country: 'DK' })).toBeUndefined();
    expect(ports.peekTracks({ trackIds: ['t1', 'nope'], country: 'DK' })).toBeUndefined();
    // Cached per country: rights differ by country.
    expect(ports.peekTracks({ trackIds: ['t1'], country: 'FI' })).toBeUndefined();
    expect(calls).toEqual({});
  });

  it('catalog ports - concurrent misses of one track share one read', async () => {
    const ports = createCatalogPorts({ catalog: counted(stores.catalog), playlists: stores.playlists });
    reset();
    const all = await Promise.all(
      [1, 2, 3, 4].map(() => ports.loadTracks({ trackIds: ['t2'], country: 'NO' })),
    );
    for (const r of all) expect(r.t2?.track.title).toBe('Title t2');
    expect(calls.getAudioFiles).toBe(1);
    expect(calls.getRights).toBe(1);
  });

  it('catalog ports - an unknown track is null and not cached', async () => {
    const ports = createCatalogPorts({ catalog: counted(stores.catalog), playlists: stores.playlists });
    reset();
    expect((await ports.loadTracks({ trackIds: ['nope'], country: 'SE' })).nope).toBeNull();
    expect((await ports.loadTracks({ trackIds: ['nope'], country: 'SE' })).nope).toBeNull();
    expect(calls.getTracks).toBe(2);
  });

  it('catalog ports - context artists come from the metadata cache; only unknown ids are read', async () => {
    const ports = createCatalogPorts({ catalog: counted(stores.catalog), playlists: stores.playlists });
    reset();
    const album = await ports.resolveContext({ userId: 'u1', contextUri: 'album:al1', trackIds: [] });
    expect(album).toEqual({
      uri: 'album:al1',
      tracks: [
        { id: 't1', artistId: 'a1' },
        { id: 't2', artistId: 'a2' },
        { id: 't3', artistId: 'a1' },
      ],
    });
    expect(calls.getTracks).toBe(1);
    reset();
    const list = await ports.resolveContext({
      userId: 'u1',
      contextUri: null,
      trackIds: ['t3', 'ghost', 't1'],
    });
    expect(list?.tracks).toEqual([
      { id: 't3', artistId: 'a1' },
      { id: 't1', artistId: 'a1' },
    ]);
    // Only the id the cache did not know went to the catalog.
    expect(calls.getTracks).toBe(1);
    expect(ports.lookup('t2')?.artistName).toBe('Artist a2');
  });

  it('catalog ports - an artist context plays the artist tracks album by album, each in track order', async () => {
    await addTrack('t9a', 'a9', 2, 'al3');
    await addTrack('t9c', 'a9', 2, 'al2');
    await addTrack('t9b', 'a9', 1, 'al2');
    const ports = createCatalogPorts({ catalog: stores.catalog, playlists: stores.playlists });
    const artist = await ports.resolveContext({ userId: 'u1', contextUri: 'artist:a9', trackIds: [] });
    expect(artist).toEqual({
      uri: 'artist:a9',
      tracks: [
        { id: 't9b', artistId: 'a9' },
        { id: 't9c', artistId: 'a9' },
        { id: 't9a', artistId: 'a9' },
      ],
    });
    expect(
      await ports.resolveContext({ userId: 'u1', contextUri: 'artist:nobody', trackIds: [] }),
    ).toBeNull();
  });

  it('catalog ports - a playlist read once is known while its version is the stored one, and only to its readers', async () => {
    await stores.playlists.createPlaylist({ id: 'pk1', ownerId: 'u1', name: 'Known', public: false });
    await stores.playlists.editPlaylist('pk1', 'u1', { kind: 'insert', trackIds: ['t1', 't2'] });
    const ports = createCatalogPorts({ catalog: stores.catalog, playlists: stores.playlists });
    const req = { userId: 'u1', contextUri: 'playlist:pk1', trackIds: [] };
    // Not read yet: not known.
    expect(ports.peekContext(req)).toBeUndefined();
    const read = await ports.resolveContext(req);
    expect(read?.tracks.map((t) => t.id)).toEqual(['t1', 't2']);
    expect(ports.peekContext(req)).toEqual(read);
    expect(ports.peekContext({ ...req, contextUri: 'spotify:playlist:pk1' })).toEqual(read);
    // Private: another user is not served from memory (the awaited path refuses it).
    expect(ports.peekContext({ ...req, userId: 'u2' })).toBeUndefined();
    expect(await ports.resolveContext({ ...req, userId: 'u2' })).toBeNull();
    // An edit moves the version: the list is read again, then known at the new version.
    await stores.playlists.editPlaylist('pk1', 'u1', { kind: 'insert', trackIds: ['t3'], index: 0 });
    expect(ports.peekContext(req)).toBeUndefined();
    const edited = await ports.resolveContext(req);
    expect(edited?.tracks.map((t) => t.id)).toEqual(['t3', 't1', 't2']);
    expect(ports.peekContext(req)).toEqual(edited);
    // Deleted and created again under the same id (version 0 again): not the old list.
    await stores.playlists.deletePlaylist('pk1', 'u1');
    expect(ports.peekContext(req)).toBeUndefined();
    await stores.playlists.createPlaylist({ id: 'pk1', ownerId: 'u1', name: 'Again' });
    expect(ports.peekContext(req)).toBeUndefined();
    expect(await ports.resolveContext(req)).toEqual({ uri: 'playlist:pk1', tracks: [] });
  });

  it('catalog ports - a playlist with a track the catalog lacks is not kept; an explicit list of known tracks is known', async () => {
    await stores.playlists.createPlaylist({ id: 'pk2', ownerId: 'u1', name: 'Ghost' });
    await stores.playlists.editPlaylist('pk2', 'u1', { kind: 'insert', trackIds: ['t1', 'ghost'] });
    const ports = createCatalogPorts({ catalog: stores.catalog, playlists: stores.playlists });
    const req = { userId: 'u1', contextUri: 'playlist:pk2', trackIds: [] };
    expect((await ports.resolveContext(req))?.tracks.map((t) => t.id)).toEqual(['t1']);
    expect(ports.peekContext(req)).toBeUndefined();
    const list = { userId: 'u1', contextUri: null, trackIds: ['t2', 't1'] };
    expect(ports.peekContext(list)).toBeUndefined();
    const resolved = await ports.resolveContext(list);
    expect(ports.peekContext(list)).toEqual(resolved);
    expect(ports.peekContext({ ...list, trackIds: ['t1', 'ghost'] })).toBeUndefined();
    expect(ports.peekContext({ ...req, contextUri: 'album:al1' })).toBeUndefined();
  });

  it('catalog ports - an unknown or malformed context is null', async () => {
    const ports = createCatalogPorts({ catalog: stores.catalog, playlists: stores.playlists });
    expect(await ports.resolveContext({ userId: 'u1', contextUri: 'album:none', trackIds: [] })).toBeNull();
    expect(
      await ports.resolveContext({ userId: 'u1', contextUri: 'playlist:none', trackIds: [] }),
    ).toBeNull();
    expect(await ports.resolveContext({ userId: 'u1', contextUri: 'bogus', trackIds: [] })).toBeNull();
  });
});
