/**
 * `npm start` on a machine with no ffmpeg installed: the server runs with PATH holding only
 * a link to node (so neither a system ffmpeg nor anything else is found) and no
 * FFMPEG_PATH, on a fresh DATA_DIR. It must build the demo catalog with the ffmpeg and
 * ffprobe shipped by npm (and say so in its log), print its banner, answer /healthz, and
 * play an ingested track whose first chunk the origin serves and ffmpeg decodes.
 * DEMO_TRACK_SECONDS=4 keeps the 60-track demo build short; the code path is the default's.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bootAndPlay, type BootCheckResult } from '../deploy/boot-check.ts';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { DEMO_PLAYLISTS } from './demo-tracks.ts';

let dir: string;
let result: BootCheckResult;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bare-start-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  const tsxCli = createRequire(import.meta.url).resolve('tsx/cli');
  result = await bootAndPlay({
    command: [process.execPath, tsxCli, 'app/server.ts'],
    cwd: join(import.meta.dirname, '..'),
    env: { PATH: bin, DATA_DIR: join(dir, 'data'), PORT: '0', LOG_LEVEL: 'info', DEMO_TRACK_SECONDS: '4' },
    // The whole demo build: ~10 s on an idle 2-core machine, minutes on a busy one.
    readyTimeoutMs: 8 * 60_000,
  });
}, 9 * 60_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('bare start - npm start with no ffmpeg on PATH', () => {
  it('bare start - the log names the npm ffmpeg and ffprobe as the binaries that run', () => {
    const npm = locateTools({ PATH: '' });
    expect(result.ffmpegLines).toHaveLength(1);
    expect(result.ffmpegLines[0]).toContain(npm.ffmpeg);
    expect(result.ffmpegLines[0]).toContain(npm.ffprobe);
    expect(result.ffmpegLines[0]).toContain('@ffmpeg-installer/ffmpeg');
  });

  it('bare start - /healthz is ok and a demo track plays from the origin and decodes', () => {
    expect(result.healthz.status).toBe('ok');
    expect(result.trackId).toBe(DEMO_PLAYLISTS[0].trackIds[0]);
    expect(result.encoderDelaySamples).toBeGreaterThan(0);
    const file = join(dir, 'first.webm');
    writeFileSync(file, Buffer.concat([result.init, result.firstChunk]));
    const decoded = spawnSync(locateTools({ PATH: '' }).ffmpeg, [
      ...['-hide_banner', '-v', 'error', '-i', file, '-f', 's16le', '-ac', '1', '-ar', '48000', '-'],
    ]);
    expect(decoded.status, decoded.stderr.toString()).toBe(0);
    // One 4 s chunk of a 4 s track, less the encoder's pre-skip.
    const seconds = decoded.stdout.byteLength / 2 / 48_000;
    expect(seconds).toBeGreaterThan(3.5);
    expect(seconds).toBeLessThanOrEqual(4);
  });
});
