/**
 * Audio measures through ffmpeg's filters on synthesized audio (the npm ffmpeg when the
 * system has none): a low tone and pink noise differ where they should, and what cannot be
 * decoded is a clear `audio_unmeasurable`.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { AudioFeaturesError, measureAudio } from './audio-features.ts';
import { contentVector } from './content-vectors.ts';

const dir = mkdtempSync(join(tmpdir(), 'audio-features-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const ffmpeg = locateTools(process.env).ffmpeg;
const make = (name: string, source: string) => {
  const out = join(dir, name);
  const r = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', source, out]);
  expect(r.status).toBe(0);
  return out;
};

describe('audio features', () => {
  it('features - a 200 Hz tone has its energy low and little dynamics; pink noise is spread and louder', async () => {
    const tone = await measureAudio(ffmpeg, make('tone.wav', 'sine=f=200:d=4'));
    const noise = await measureAudio(ffmpeg, make('noise.wav', 'anoisesrc=d=4:c=pink'));
    expect(tone.bandsDb[0]!).toBeGreaterThan(tone.bandsDb[3]! + 20);
    expect(noise.bandsDb[3]!).toBeGreaterThan(tone.bandsDb[3]!);
    expect(noise.loudnessLufs).toBeGreaterThan(tone.loudnessLufs);
    expect(noise.zeroCrossingRate).toBeGreaterThan(tone.zeroCrossingRate);
    // Same metadata, different sound: different content vectors.
    const meta = { trackId: 't', artistId: 'a', albumId: 'b' };
    expect(contentVector({ ...meta, audio: tone })).not.toEqual(contentVector({ ...meta, audio: noise }));
  });

  it('features - bytes that are not audio are audio_unmeasurable', async () => {
    const junk = join(dir, 'junk.webm');
    writeFileSync(junk, Buffer.alloc(4096, 7));
    await expect(measureAudio(ffmpeg, junk)).rejects.toBeInstanceOf(AudioFeaturesError);
  });
});
