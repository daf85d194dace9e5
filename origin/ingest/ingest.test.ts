import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogStore } from '../../storage/catalog.ts';
import { createLmdbCatalog } from '../../storage/catalog.lmdb.ts';
import { openEmbeddedEnv, type EmbeddedEnv } from '../../storage/lmdb-env.ts';
import { ObjectStore } from '../object-store.ts';
import { EBML_ID, readChildren, readUint } from './ebml.ts';
import { locateTools } from './ffmpeg.ts';
import { Ingester, ingestAll, type IngestOutcome } from './ingest.ts';
import { defaultIngestOptions, LADDER_KBPS } from './ladder.ts';

const CHUNK_MS = 2000;
let dir: string;
let env: EmbeddedEnv;
let catalog: CatalogStore;
let objects: ObjectStore;
let ingester: Ingester;
let first: IngestOutcome[];
const src = { stereo: '', mono: '', tagged: '', copy: '', corrupt: '', blocked: '', badRights: '' };

// The binaries ingest itself runs (system ffmpeg, else npm's), so the test needs no apt ffmpeg.
const tools = locateTools(process.env);
const ff = (...args: string[]) => execFileSync(tools.ffmpeg, ['-hide_banner', '-v', 'error', '-y', ...args]);
/** Decodes to 48 kHz mono s16 and returns the sample count. */
const decodedSamples = (file: string) =>
  execFileSync(tools.ffmpeg, ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'])
    .length / 2;

const listObjects = () =>
  readdirSync(objects.dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => {
      const p = join(d.parentPath, d.name);
      return `${p}:${statSync(p).mtimeMs}`;
    })
    .sort();

const idOf = (o: IngestOutcome | undefined) => {
  if (!o || o.status === 'failed') throw new Error(`expected success, got ${JSON.stringify(o)}`);
  return o.trackId;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ingest-test-'));
  src.stereo = join(dir, 'stereo-44k.wav');
  ff('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100:duration=9.3', '-ac', '2', src.stereo);
  src.mono = join(dir, 'mono-22k.wav');
  ff('-f', 'lavfi', '-i', 'sine=frequency=660:sample_rate=22050:duration=5.1', '-ac', '1', src.mono);
  src.tagged = join(dir, 'tagged.flac');
  ff(
    '-f',
    'lavfi',
    '-i',
    'aevalsrc=0.3*sin(2*PI*330*t)+0.2*sin(2*PI*495*t):s=48000:d=6.5',
    '-ac',
    '2',
    '-metadata',
    'title=Test Tone',
    '-metadata',
    'artist=The Sines',
    '-metadata',
    'album=Waves',
    '-metadata',
    'ISRC=US-S1Z-99-00001',
    '-metadata',
    'track=3',
    src.tagged,
  );
  src.copy = join(dir, 'copy-of-stereo.wav');
  copyFileSync(src.stereo, src.copy);
  src.corrupt = join(dir, 'corrupt.mp3');
  writeFileSync(src.corrupt, randomBytes(4096));
  src.blocked = join(dir, 'blocked.wav');
  ff('-f', 'lavfi', '-i', 'sine=frequency=550:duration=3', src.blocked);
  writeFileSync(
    `${src.blocked}.rights.json`,
    JSON.stringify({
      territories: [
        { territory: '*', allowed: true },
        { territory: 'DE', allowed: false },
      ],
    }),
  );
  src.badRights = join(dir, 'bad-rights.wav');
  ff('-f', 'lavfi', '-i', 'sine=frequency=770:duration=2', src.badRights);
  writeFileSync(
    `${src.badRights}.rights.json`,
    JSON.stringify({ territories: [{ territory: 'Germany', allowed: false }] }),
  );

  env = await openEmbeddedEnv(join(dir, 'db'));
  catalog = createLmdbCatalog(env);
  objects = new ObjectStore(join(dir, 'objects'));
  ingester = new Ingester({
    catalog,
    objects,
    tools,
    options: { ...defaultIngestOptions(), chunkMs: CHUNK_MS },
  });
  first = await ingestAll(
    (s) => ingester.ingest(s),
    [src.stereo, src.mono, src.tagged, src.copy, src.corrupt, src.blocked, src.badRights].map((path) => ({
      path,
    })),
    2,
  );
}, 120_000);

afterAll(async () => {
  await env?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('ingest - batch outcomes', () => {
  it('ingest - corrupt and badly-sidecared files fail with a reason while the batch goes on', () => {
    const byPath = new Map(first.map((o) => [o.path, o]));
    expect(byPath.get(src.corrupt)).toMatchObject({ status: 'failed', code: 'unreadable' });
    expect((byPath.get(src.corrupt) as { reason: string }).reason.length).toBeGreaterThan(0);
    expect(byPath.get(src.badRights)).toMatchObject({ status: 'failed', code: 'bad_rights' });
    for (const p of [src.stereo, src.mono, src.tagged, src.blocked])
      expect(byPath.get(p)?.status).toBe('ingested');
  });

  it('ingest - identical input is one track, stored once', () => {
    const a = first.find((o) => o.path === src.stereo);
    const b = first.find((o) => o.path === src.copy);
    expect(idOf(b)).toBe(idOf(a));
    expect(b?.status).toBe('unchanged');
  });
});

describe('ingest - ladder and chunks', () => {
  it('ingest - every rung is produced with chunk boundaries aligned across bitrates', async () => {
    for (const path of [src.stereo, src.mono, src.tagged]) {
      const id = idOf(first.find((o) => o.path === path));
      const files = await catalog.getAudioFiles(id);
      expect(files.map((f) => f.bitrateKbps)).toEqual([...LADDER_KBPS]);
      const ref = files[0]!;
      for (const f of files) {
        expect(f).toMatchObject({
          codec: 'opus',
          container: 'webm',
          sampleRate: 48000,
          chunkDurationMs: CHUNK_MS,
        });
        expect(f.chunks.map((c) => c.durationMs)).toEqual(ref.chunks.map((c) => c.durationMs));
        // Parse each stored chunk: its cluster timestamp is index * chunk length at every rung.
        for (const c of f.chunks) {
          const bytes = await objects.read(c.key);
          expect(bytes.length).toBe(c.bytes);
          expect(createHash('sha256').update(bytes).digest('hex')).toBe(c.key);
          const [cluster] = readChildren(bytes, 0, bytes.length);
          expect(cluster?.id).toBe(EBML_ID.Cluster);
          const ts = readChildren(bytes, cluster!.dataStart, cluster!.end).find(
            (e) => e.id === EBML_ID.Timestamp,
          )!;
          expect(readUint(bytes, ts)).toBe(c.index * CHUNK_MS);
        }
        // Higher rungs carry more bytes for the same time.
        expect(f.chunks[0]!.bytes).toBeGreaterThanOrEqual(ref.chunks[0]!.bytes);
      }
      expect(ref.chunks.slice(0, -1).every((c) => c.durationMs === CHUNK_MS)).toBe(true);
    }
  });

  it('ingest - init + one chunk decodes alone, and the whole rung decodes gapless to the source length', async () => {
    const id = idOf(first.find((o) => o.path === src.stereo));
    for (const f of await catalog.getAudioFiles(id)) {
      const init = await objects.read(f.init.key);
      const one = join(dir, `one-${f.bitrateKbps}.webm`);
      writeFileSync(one, Buffer.concat([init, await objects.read(f.chunks[1]!.key)]));
      // ffmpeg drops the pre-skip at the start of whatever it decodes first.
      expect(decodedSamples(one)).toBe(CHUNK_MS * 48 - f.encoderDelaySamples);

      const whole = Buffer.concat([init, ...(await Promise.all(f.chunks.map((c) => objects.read(c.key))))]);
      expect(createHash('sha256').update(whole).digest('hex')).toBe(f.contentAddress);
      const all = join(dir, `all-${f.bitrateKbps}.webm`);
      writeFileSync(all, whole);
      expect(f.encoderDelaySamples).toBe(312);
      expect(f.paddingSamples).toBeGreaterThan(0);
      expect(decodedSamples(all)).toBe(Math.round(9.3 * 48000));
    }
  });

  it('ingest - the mono input stays decodable at every rung, sample rate converted', async () => {
    const id = idOf(first.find((o) => o.path === src.mono));
    const [track] = (await catalog.getTracks([id])).values();
    expect(track?.durationMs).toBe(5100);
    for (const f of await catalog.getAudioFiles(id)) {
      const whole = Buffer.concat([
        await objects.read(f.init.key),
        ...(await Promise.all(f.chunks.map((c) => objects.read(c.key)))),
      ]);
      const p = join(dir, `mono-${f.bitrateKbps}.webm`);
      writeFileSync(p, whole);
      expect(decodedSamples(p)).toBe(Math.round(5.1 * 48000));
    }
  });

  it('ingest - loudness is recorded with a replay gain toward -14 LUFS, not baked in', async () => {
    const id = idOf(first.find((o) => o.path === src.stereo));
    const files = await catalog.getAudioFiles(id);
    const l = files[0]!.loudness;
    // A full-scale-ish 0.125 amplitude sine measures about -21 LUFS; the gain is positive.
    expect(l.integratedLufs).toBeLessThan(-15);
    expect(l.integratedLufs).toBeGreaterThan(-30);
    expect(l.replayGainDb).toBeGreaterThan(0);
    expect(l.replayGainDb).toBeLessThanOrEqual(-14 - l.integratedLufs + 0.01);
    for (const f of files) expect(f.loudness).toEqual(l);
  });
});

describe('ingest - catalog rows', () => {
  it('ingest - tags become metadata (title, artist, album, track number, ISRC)', async () => {
    const id = idOf(first.find((o) => o.path === src.tagged));
    const t = (await catalog.getTracks([id])).get(id);
    expect(t).toMatchObject({
      title: 'Test Tone',
      artistName: 'The Sines',
      albumName: 'Waves',
      trackNumber: 3,
      isrc: 'USS1Z9900001',
      durationMs: 6500,
    });
    expect(await catalog.getAlbumTrackIds(t!.albumId)).toEqual([id]);
  });

  it('ingest - rights default worldwide, a sidecar blocks a territory', async () => {
    const open = idOf(first.find((o) => o.path === src.stereo));
    expect(await catalog.getRights(open, 'DE')).toEqual([{ trackId: open, territory: '*', allowed: true }]);
    const blocked = idOf(first.find((o) => o.path === src.blocked));
    const rows = await catalog.getRights(blocked, 'DE');
    expect(rows.find((r) => r.territory === 'DE')?.allowed).toBe(false);
    expect(rows.find((r) => r.territory === '*')?.allowed).toBe(true);
  });

  it('ingest - re-ingesting the same files changes nothing', async () => {
    const before = listObjects();
    const ids = first.filter((o) => o.status !== 'failed').map(idOf);
    const rowsBefore = await Promise.all(ids.map((id) => catalog.getAudioFiles(id)));
    const again = await ingestAll(
      (s) => ingester.ingest(s),
      [src.stereo, src.mono, src.tagged, src.blocked].map((path) => ({ path })),
      2,
    );
    expect(again.map((o) => o.status)).toEqual(['unchanged', 'unchanged', 'unchanged', 'unchanged']);
    expect(again.every((o) => o.status === 'unchanged' && !o.rightsUpdated)).toBe(true);
    expect(listObjects()).toEqual(before);
    expect(await Promise.all(ids.map((id) => catalog.getAudioFiles(id)))).toEqual(rowsBefore);
  });
});
