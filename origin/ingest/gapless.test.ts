/**
 * The gapless values ingest records (encoder delay = Opus pre-skip, padding) against the
 * audio a decoder really produces from the stored init segment + chunks, with whichever
 * ffmpeg locateTools picks (Debian's, or npm's 4.1). A source of known length with one click
 * at a known sample: decoding must give back exactly that length (pre-skip and padding
 * trimmed right) with the click where it was (pre-skip right, not just the total).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AudioFile, CatalogStore } from '../../storage/catalog.ts';
import { createLmdbCatalog } from '../../storage/catalog.lmdb.ts';
import { openEmbeddedEnv, type EmbeddedEnv } from '../../storage/lmdb-env.ts';
import { ObjectStore } from '../object-store.ts';
import { EBML_ID, findChild, readChildren, readUint } from './ebml.ts';
import { encodeLadder, locateTools, type LocatedTools } from './ffmpeg.ts';
import { Ingester } from './ingest.ts';
import { defaultIngestOptions, LADDER_KBPS } from './ladder.ts';
import { chunkOpusWebm, OPUS_SAMPLE_RATE, parseOpusWebm } from './webm-segments.ts';

/** A source: `rate` Hz mono s16, `samples` long, silent but for one full-scale click. */
interface ClickSource {
  name: string;
  rate: number;
  samples: number;
  clickAt: number;
  path: string;
}

let dir: string;
let env: EmbeddedEnv;
let catalog: CatalogStore;
let objects: ObjectStore;
let tools: LocatedTools;
// 48 kHz needs no resampling; 24 kHz is the demo catalog's synthesis rate (ingest doubles it).
const sources: ClickSource[] = [
  { name: '48k', rate: 48_000, samples: 48_000 * 3 + 123, clickAt: 24_007, path: '' },
  { name: '24k', rate: 24_000, samples: 24_000 * 2 + 517, clickAt: 30_011, path: '' },
];
const ingested = new Map<string, { files: AudioFile[]; durationMs: number }>();

function writeClickSource(s: ClickSource): void {
  const pcm = Buffer.alloc(s.samples * 2);
  pcm.writeInt16LE(30_000, s.clickAt * 2);
  const raw = join(dir, `${s.name}.raw`);
  writeFileSync(raw, pcm);
  s.path = join(dir, `${s.name}.wav`);
  execFileSync(tools.ffmpeg, [
    ...['-v', 'error', '-y', '-f', 's16le', '-ar', String(s.rate), '-ac', '1', '-i', raw, s.path],
  ]);
}

/** Decodes a WebM to 48 kHz mono s16 with the located ffmpeg. */
function decode(webm: Uint8Array): Int16Array {
  const file = join(dir, `decode-${Math.random().toString(36).slice(2)}.webm`);
  writeFileSync(file, webm);
  const out = execFileSync(
    tools.ffmpeg,
    ['-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return new Int16Array(out.buffer, out.byteOffset, out.byteLength / 2);
}

const loudestSample = (pcm: Int16Array): number => {
  let at = 0;
  for (let i = 1; i < pcm.length; i++) if (Math.abs(pcm[i]!) > Math.abs(pcm[at]!)) at = i;
  return at;
};

/** CodecDelay (ns) of the one track in a WebM init segment or file. */
function codecDelayNs(bytes: Uint8Array): number | undefined {
  const segment = readChildren(bytes, 0, bytes.length).find((e) => e.id === EBML_ID.Segment)!;
  const tracks = readChildren(bytes, segment.dataStart, segment.end).find((e) => e.id === EBML_ID.Tracks)!;
  const entry = findChild(bytes, tracks, EBML_ID.TrackEntry)!;
  const delay = findChild(bytes, entry, EBML_ID.CodecDelay);
  return delay ? readUint(bytes, delay) : undefined;
}

const at48k = (s: ClickSource, n: number) => (n * OPUS_SAMPLE_RATE) / s.rate;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gapless-test-'));
  tools = locateTools(process.env);
  for (const s of sources) writeClickSource(s);
  env = await openEmbeddedEnv(join(dir, 'db'));
  catalog = createLmdbCatalog(env);
  objects = new ObjectStore(join(dir, 'objects'));
  const ingester = new Ingester({
    catalog,
    objects,
    tools,
    options: { ...defaultIngestOptions(), chunkMs: 1000, workers: 1 },
    scratchDir: dir,
  });
  for (const s of sources) {
    const outcome = await ingester.ingest({ path: s.path });
    if (outcome.status !== 'ingested') throw new Error(`ingest of ${s.name}: ${JSON.stringify(outcome)}`);
    ingested.set(s.name, {
      files: await catalog.getAudioFiles(outcome.trackId),
      durationMs: outcome.durationMs,
    });
  }
}, 120_000);

afterAll(async () => {
  await env?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('gapless - recorded values match the decoded audio', () => {
  it.each(sources.map((s) => [s.name, s] as const))(
    'gapless - %s source: every rung decodes to the source length with the click in place',
    async (_name, s) => {
      const { files, durationMs } = ingested.get(s.name)!;
      expect(files.map((f) => f.bitrateKbps).sort((a, b) => a - b)).toEqual([...LADDER_KBPS]);
      expect(durationMs).toBe(Math.round((at48k(s, s.samples) * 1000) / OPUS_SAMPLE_RATE));
      for (const f of files) {
        // What a player appends: the init segment, then every chunk, from the object store.
        const init = await objects.read(f.init.key);
        const chunks = await Promise.all(f.chunks.map((c) => objects.read(c.key)));
        const pcm = decode(Buffer.concat([init, ...chunks]));
        const encodedSamples = f.chunks.reduce((n, c) => n + (c.durationMs * f.sampleRate) / 1000, 0);
        const where = `${f.bitrateKbps} kbps (${tools.found.ffmpeg.version})`;

        expect(f.sampleRate, where).toBe(OPUS_SAMPLE_RATE);
        expect(pcm.length, where).toBe(encodedSamples - f.encoderDelaySamples - f.paddingSamples);
        expect(pcm.length, where).toBe(at48k(s, s.samples));
        expect(Math.abs(loudestSample(pcm) - at48k(s, s.clickAt)), where).toBeLessThanOrEqual(2);
        // Players that read Matroska's CodecDelay instead of the OpusHead must trim the same.
        expect(codecDelayNs(init), where).toBe(Math.round((f.encoderDelaySamples * 1e9) / OPUS_SAMPLE_RATE));
      }
    },
  );
});

describe('gapless - CodecDelay follows the OpusHead pre-skip', () => {
  let encoded: Uint8Array;

  beforeAll(async () => {
    const enc = await encodeLadder(tools, sources[0]!.path, dir, [96], 1, 5);
    if (!enc.ok) throw new Error(enc.reason);
    encoded = new Uint8Array(readFileSync(enc.value.outputs[0]!.path));
  }, 60_000);

  /** The encoded file with its CodecDelay element's body overwritten in place. */
  function withCodecDelayBody(body: (len: number) => number[]): Uint8Array {
    const copy = Uint8Array.from(encoded);
    const segment = readChildren(copy, 0, copy.length).find((e) => e.id === EBML_ID.Segment)!;
    const tracks = readChildren(copy, segment.dataStart, segment.end).find((e) => e.id === EBML_ID.Tracks)!;
    const delay = findChild(copy, findChild(copy, tracks, EBML_ID.TrackEntry)!, EBML_ID.CodecDelay)!;
    copy.set(body(delay.end - delay.dataStart), delay.dataStart);
    return copy;
  }

  it('gapless - a muxer CodecDelay that disagrees with pre-skip is rewritten in the init segment', () => {
    const parsedAsIs = parseOpusWebm(encoded);
    const preSkipNs = Math.round((parsedAsIs.preSkipSamples * 1e9) / OPUS_SAMPLE_RATE);
    expect(parsedAsIs.preSkipSamples).toBeGreaterThan(0);
    // A wrong value of the same width, as a muxer rounding 6.5 ms up to 7 ms would write.
    const wrongNs = preSkipNs + 500_000;
    const wrong = withCodecDelayBody((len) =>
      Array.from({ length: len }, (_, i) => Math.floor(wrongNs / 256 ** (len - 1 - i)) % 256),
    );
    const parsed = parseOpusWebm(wrong);
    expect(parsed.muxerCodecDelayNs).toBe(wrongNs);
    expect(parsed.preSkipSamples).toBe(parsedAsIs.preSkipSamples);
    const { init, chunks } = chunkOpusWebm(parsed, 1000);
    expect(codecDelayNs(init)).toBe(preSkipNs);
    // The rewritten init still parses and decodes to the source length.
    expect(decode(Buffer.concat([init, ...chunks.map((c) => c.bytes)])).length).toBe(sources[0]!.samples);
  });

  it('gapless - a CodecDelay that already matches leaves the Tracks bytes untouched', () => {
    const parsed = parseOpusWebm(encoded);
    expect(parsed.muxerCodecDelayNs).toBe(Math.round((parsed.preSkipSamples * 1e9) / OPUS_SAMPLE_RATE));
    const segment = readChildren(encoded, 0, encoded.length).find((e) => e.id === EBML_ID.Segment)!;
    const tracks = readChildren(encoded, segment.dataStart, segment.end).find(
      (e) => e.id === EBML_ID.Tracks,
    )!;
    expect(Buffer.from(parsed.tracks).equals(Buffer.from(encoded.subarray(tracks.start, tracks.end)))).toBe(
      true,
    );
  });
});
