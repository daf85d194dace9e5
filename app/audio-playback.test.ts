/**
 * End to end with real audio: a file synthesized by ffmpeg is ingested into the running app's
 * catalog and object store; a device plays it over the WebSocket; the playback frame's init
 * and first-chunk URLs are fetched from the origin on the same port and decoded by ffmpeg.
 * This is the path `npm start` serves with its demo catalog, on one short track.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { verifyChunk } from '../protocol/chunk-verify.ts';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { Ingester } from '../origin/ingest/ingest.ts';
import { defaultIngestOptions } from '../origin/ingest/ladder.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { startApp, type App } from './start-app.ts';
import { parseConfig } from './config.ts';

let app: App;
let dir: string;
let trackId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'session-audio-'));
  const config = parseConfig({ PORT: '0', DATA_DIR: join(dir, 'data'), LOG_LEVEL: 'silent' });
  app = await startApp(config, { demo: 'fixture' });
  const tools = locateTools(process.env);
  const source = join(dir, 'tone.wav');
  const made = spawnSync(tools.ffmpeg, [
    '-hide_banner',
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=44100:duration=9',
    '-metadata',
    'title=Real Tone',
    '-metadata',
    'artist=Test Artist',
    '-metadata',
    'album=Test Album',
    source,
  ]);
  expect(made.status, made.stderr.toString()).toBe(0);
  const ingester = new Ingester({
    catalog: app.stores.catalog,
    objects: new ObjectStore(config.layout.objects),
    tools,
    options: { ...defaultIngestOptions(), chunkMs: 4000, workers: 1 },
    scratchDir: dir,
  });
  const outcome = await ingester.ingest({ path: source });
  if (outcome.status !== 'ingested') throw new Error(`ingest failed: ${JSON.stringify(outcome)}`);
  trackId = outcome.trackId;
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function fetchBytes(url: string): Promise<Uint8Array> {
  // Signed URLs are absolute (on the origin base).
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

describe('session with real audio', () => {
  it('session audio - a played track yields a first chunk that the origin serves and ffmpeg decodes', async () => {
    const u = app.demo.users.find((x) => x.plan === 'premium')!;
    const token = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
    const client = new SessionClient({
      url: app.server.wsUrl,
      token,
      device: { id: 'audio-1', name: 'Audio test', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    await client.connect();
    try {
      const playback = client.waitFor('playback');
      await client.play({ uris: [`spotify:track:${trackId}`] });
      const pb = await playback;
      expect(pb.track).toMatchObject({ id: trackId, title: 'Real Tone' });
      expect(pb.codec).toBe('opus');
      expect(pb.chunks.count).toBe(3); // 9 s in 4 s chunks
      expect(pb.first_chunk.bitrate_kbps).toBe(96);
      expect(pb.gapless.encoder_delay_samples).toBeGreaterThan(0);

      // Init segment + the low-bitrate first chunk, as a player starts: verified and decodable.
      const init = await fetchBytes(pb.first_chunk.init_url!);
      const first = await fetchBytes(pb.first_chunk.url);
      const key = /\/o\/([0-9a-f]{64})/.exec(pb.first_chunk.url)![1]!;
      expect(await verifyChunk(first, { bytes: first.byteLength, sha256: key })).toMatchObject({ ok: true });
      const file = join(dir, 'first.webm');
      writeFileSync(file, Buffer.concat([init, first]));
      const decoded = spawnSync(locateTools(process.env).ffmpeg, [
        '-hide_banner',
        '-v',
        'error',
        '-i',
        file,
        '-f',
        's16le',
        '-ac',
        '1',
        '-ar',
        '48000',
        '-',
      ]);
      expect(decoded.status, decoded.stderr.toString()).toBe(0);
      const seconds = decoded.stdout.byteLength / 2 / 48000;
      expect(seconds).toBeGreaterThan(3.5);
      expect(seconds).toBeLessThan(4.5);

      // A tampered URL (first signature character changed, never to itself) is refused.
      const tamperedUrl = pb.first_chunk.url.replace(
        /sig=(.)/,
        (_, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`,
      );
      expect(tamperedUrl).not.toBe(pb.first_chunk.url);
      const tampered = await fetch(tamperedUrl);
      expect(tampered.status).toBe(403);
    } finally {
      client.close();
    }
  });
});
