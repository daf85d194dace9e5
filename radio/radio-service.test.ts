/**
 * The radio service over the embedded stores and real indexes: the rules of an answer
 * (rights, windows, plan, recent plays), cold start, and what a missing or corrupt index, or
 * an empty history, gives.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RadioRequest } from '../actors/types.ts';
import type { Stores } from '../storage/stores.ts';
import { openEmbeddedStores } from '../testkit/test-stores.ts';
import { spacingViolations } from './answer-rules.ts';
import { buildContentIndex } from './content-vectors.ts';
import { IndexHolder } from './index-holder.ts';
import { parseRadioRequest, RadioRequestError, RadioService } from './radio-service.ts';
import { buildIndex, IndexError, loadIndex, publishIndex, type PopularTracks } from './vector-index.ts';

const NOW = Date.UTC(2026, 11, 6);
const DIM = 8;
let dir: string;
let stores: Stores;

/** 40 tracks, 8 artists; track i's vector points along axis (i % 4): four neighbourhoods. */
const ids = Array.from({ length: 40 }, (_, i) => `t${i}`);
const artistOf = (i: number) => `a${i % 8}`;
const vectors = new Float32Array(ids.length * DIM);
ids.forEach((_, i) => {
  vectors[i * DIM + (i % 4)] = 1;
  vectors[i * DIM + 4 + ((i * 7) % 4)] = 0.1;
});
const popular: PopularTracks = {
  SE: [
    { trackId: 't39', artistId: artistOf(39) },
    { trackId: 't38', artistId: artistOf(38) },
  ],
  '*': [{ trackId: 't37', artistId: artistOf(37) }],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'radio-service-'));
  stores = await openEmbeddedStores(join(dir, 'store'));
  for (const [i, id] of ids.entries()) {
    await stores.catalog.putTrack({
      id,
      title: id,
      artistId: artistOf(i),
      artistName: artistOf(i),
      albumId: `al${i % 8}`,
      albumName: 'x',
      trackNumber: 1,
      durationMs: 180_000,
    });
    await stores.catalog.putAudioFile({
      trackId: id,
      bitrateKbps: 96,
      codec: 'opus',
      container: 'webm',
      mimeType: 'audio/webm; codecs="opus"',
      init: { key: 'a'.repeat(64), bytes: 10 },
      chunkDurationMs: 2000,
      chunks: [{ index: 0, key: 'b'.repeat(64), bytes: 10, durationMs: 2000 }],
      encoderDelaySamples: 0,
      paddingSamples: 0,
      sampleRate: 48000,
      loudness: { integratedLufs: -14, replayGainDb: 0 },
      contentAddress: 'c'.repeat(64),
    });
    // t4 blocked in SE; t8 released next year; t12 premium only; the rest worldwide.
    await stores.catalog.putRights({
      trackId: id,
      territory: '*',
      allowed: true,
      ...(i === 12 ? { premiumOnly: true } : {}),
      ...(i === 8 ? { availableFrom: NOW + 86_400_000 } : {}),
    });
    if (i === 4) await stores.catalog.putRights({ trackId: id, territory: 'SE', allowed: false });
  }
  publishIndex(
    join(dir, 'radio'),
    buildIndex(
      'learned',
      'v1',
      { trackIds: ids, artistIds: ids.map((_, i) => artistOf(i)), dimensions: DIM, vectors },
      popular,
    ),
  );
});

afterAll(async () => {
  await stores?.close();
  rmSync(dir, { recursive: true, force: true });
});

function serviceOn(indexDir: string) {
  const holder = new IndexHolder(indexDir);
  const report = holder.refresh();
  return {
    holder,
    report,
    service: new RadioService({
      catalog: stores.catalog,
      history: stores.history,
      indexes: holder,
      now: () => NOW,
    }),
  };
}

const req = (over: Partial<RadioRequest> = {}): RadioRequest => ({
  userId: 'listener',
  seedTrackIds: ['t0', 't16'],
  exclude: ['t0', 't16'],
  count: 6,
  country: 'SE',
  plan: 'free',
  ...over,
});

describe('radio service', () => {
  it('service - neighbours of the seeds, playable in the country now on the plan, artists spaced', async () => {
    const { service } = serviceOn(join(dir, 'radio'));
    const a = await service.answer(req());
    expect(a.source).toBe('learned');
    expect(a.trackIds).toHaveLength(6);
    // Nearest first: the seeds' neighbourhood (i % 4 === 0).
    expect(Number(a.trackIds[0]!.slice(1)) % 4).toBe(0);
    for (const bad of ['t0', 't16', 't4', 't8', 't12']) expect(a.trackIds).not.toContain(bad);
    const artists = ['t0', 't16', ...a.trackIds].map((id) => artistOf(Number(id.slice(1))));
    // The two seeds share an artist: that pair is the context's, not the answer's.
    expect(spacingViolations(artists) - spacingViolations(artists.slice(0, 2))).toBe(0);
    // Premium may have the premium-only track; another country the SE-blocked one.
    const premium = await service.answer(req({ plan: 'premium', count: 20 }));
    expect(premium.trackIds).toContain('t12');
    const us = await service.answer(req({ country: 'US', count: 20 }));
    expect(us.trackIds).toContain('t4');
  });

  it('service - the last 50 plays are never answered; an empty history answers from the seeds alone', async () => {
    const { service } = serviceOn(join(dir, 'radio'));
    const before = await service.answer(req({ userId: 'played' }));
    const played = before.trackIds.slice(0, 2);
    for (const [k, trackId] of played.entries())
      await stores.history.appendHistory({
        userId: 'played',
        playId: `p${k}`,
        trackId,
        ts: NOW - 1000 * (k + 1),
        msPlayed: 200_000,
      });
    const after = await service.answer(req({ userId: 'played' }));
    for (const id of played) expect(after.trackIds).not.toContain(id);
    expect(after.trackIds).toHaveLength(6);
  });

  it('service - cold start: no seed known and no plays: the popular tracks of the country, then everywhere', async () => {
    const { service } = serviceOn(join(dir, 'radio'));
    const a = await service.answer(req({ userId: 'new', seedTrackIds: ['unknown'], exclude: [], count: 3 }));
    expect(a.source).toBe('popular');
    expect(a.trackIds).toEqual(['t39', 't38', 't37']);
  });

  it('service - no index published: an empty answer, not an error', async () => {
    const { service, report } = serviceOn(join(dir, 'nothing-here'));
    expect(report.failed).toEqual([]);
    const a = await service.answer(req());
    expect(a).toMatchObject({ trackIds: [], source: 'none' });
  });

  it('service - a corrupt index is refused with a clear reason; the one in force stays', async () => {
    const indexDir = join(dir, 'corrupt');
    const v1 = buildIndex(
      'learned',
      'v1',
      { trackIds: ids, artistIds: ids.map((_, i) => artistOf(i)), dimensions: DIM, vectors },
      popular,
    );
    publishIndex(indexDir, v1);
    const { holder, service } = serviceOn(indexDir);
    publishIndex(indexDir, buildIndex('learned', 'v2', v1.set, popular));
    const file = join(indexDir, 'learned', 'v2', 'index.usearch');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    writeFileSync(file, bytes);
    expect(() => loadIndex(indexDir, 'learned', 'v2')).toThrow(IndexError);
    const r = holder.refresh();
    expect(r.failed).toEqual([
      { kind: 'learned', version: 'v2', error: expect.stringMatching(/index\.usearch is corrupt/) },
    ]);
    const a = await service.answer(req());
    expect(a.indexVersions.learned).toBe('v1');
    expect(a.trackIds).toHaveLength(6);
  });

  it('service - only a corrupt or a missing index published: each refused with its reason, an empty answer, not an error', async () => {
    const set = { trackIds: ids, artistIds: ids.map((_, i) => artistOf(i)), dimensions: DIM, vectors };
    const corruptDir = join(dir, 'corrupt-only');
    publishIndex(corruptDir, buildIndex('learned', 'v1', set, popular));
    const file = join(corruptDir, 'learned', 'v1', 'index.usearch');
    const bytes = readFileSync(file);
    bytes[0] = bytes[0]! ^ 0xff;
    writeFileSync(file, bytes);
    const missingDir = join(dir, 'missing-only');
    publishIndex(missingDir, buildIndex('learned', 'v1', set, popular));
    rmSync(join(missingDir, 'learned', 'v1'), { recursive: true });
    for (const [indexDir, reason] of [
      [corruptDir, /index\.usearch is corrupt/],
      [missingDir, /learned\/v1: meta\.json is missing/],
    ] as const) {
      const { service, report } = serviceOn(indexDir);
      expect(report.failed).toEqual([
        { kind: 'learned', version: 'v1', error: expect.stringMatching(reason) },
      ]);
      await expect(service.answer(req())).resolves.toMatchObject({ trackIds: [], source: 'none' });
    }
  });

  it('service - a new index swaps in while a request is in flight: that request finishes on the old one', async () => {
    const indexDir = join(dir, 'swap');
    const set = { trackIds: ids, artistIds: ids.map((_, i) => artistOf(i)), dimensions: DIM, vectors };
    publishIndex(indexDir, buildIndex('learned', 'v1', set, popular));
    const { holder, service } = serviceOn(indexDir);
    const inFlight = service.answer(req()); // holds v1 from its first line
    publishIndex(indexDir, buildIndex('learned', 'v2', set, popular));
    expect(holder.refresh().loaded).toEqual([{ kind: 'learned', version: 'v2' }]);
    expect((await inFlight).indexVersions.learned).toBe('v1');
    expect((await service.answer(req())).indexVersions.learned).toBe('v2');
  });

  it('service - a content index naming a new track swaps in while a request is in flight', async () => {
    const indexDir = join(dir, 'content-swap');
    const facts = ids.map((id, i) => ({ trackId: id, artistId: artistOf(i), albumId: `al${i % 8}` }));
    const before = buildContentIndex(facts.slice(0, -1));
    publishIndex(indexDir, before);
    const { holder, service } = serviceOn(indexDir);
    const swaps: string[] = [];
    holder.onSwap((i) => swaps.push(`${i.meta.kind}/${i.meta.version}`));
    const newTrack = req({ userId: 'newcomer', seedTrackIds: ['t39'], exclude: [] });
    const inFlight = service.answer(newTrack); // holds the index without t39 from its first line
    // Ingest's update: the new track's vector added, the others kept as published.
    const after = buildContentIndex(facts.slice(-1), loadIndex(indexDir, 'content', before.meta.version));
    expect(after.size).toBe(ids.length);
    expect([...after.vectorOf('t0')!]).toEqual([...before.vectorOf('t0')!]);
    publishIndex(indexDir, after);
    expect(holder.refresh().loaded).toEqual([{ kind: 'content', version: after.meta.version }]);
    expect(swaps).toEqual([`content/${after.meta.version}`]);
    await expect(inFlight).resolves.toMatchObject({ trackIds: [], source: 'none' });
    const answer = await service.answer(newTrack);
    expect(answer).toMatchObject({ source: 'content', indexVersions: { content: after.meta.version } });
    // t39's album mates (al7: t7, t15, ...) are its nearest: they come once spacing allows.
    expect(answer.trackIds).toHaveLength(6);
    expect(answer.trackIds).not.toContain('t39');
    expect(answer.trackIds.filter((id) => Number(id.slice(1)) % 8 === 7).length).toBeGreaterThan(0);
    // The same facts on the same base name the same version: a re-run publishes nothing new.
    expect(buildContentIndex(facts.slice(-1), before).meta.version).toBe(after.meta.version);
  });

  it('service - requests from the wire are checked field by field', () => {
    expect(parseRadioRequest(req())).toEqual(req());
    expect(() => parseRadioRequest({ ...req(), count: 0 })).toThrow(/count/);
    expect(() => parseRadioRequest({ ...req(), plan: 'gold' })).toThrow(RadioRequestError);
    expect(() => parseRadioRequest({ ...req(), seedTrackIds: [''] })).toThrow(/seedTrackIds/);
    expect(() => parseRadioRequest(null)).toThrow(/object/);
  });
});
