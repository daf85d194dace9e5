import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeTools, locateTools, ToolError } from './ffmpeg.ts';

// The npm binaries are dependencies, so they are the one pair every machine has; a folder of
// links to them stands in for a system ffmpeg on PATH or an FFMPEG_PATH install.
let dir: string;
let npm: { ffmpeg: string; ffprobe: string };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ffmpeg-locate-'));
  const located = locateTools({ PATH: '' });
  npm = { ffmpeg: located.ffmpeg, ffprobe: located.ffprobe };
  for (const [name, target] of Object.entries(npm)) symlinkSync(target, join(dir, name));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('ffmpeg - which binary runs', () => {
  it('ffmpeg - with nothing on PATH and no FFMPEG_PATH the npm binaries run, named as npm', () => {
    const t = locateTools({ PATH: '' });
    expect(t.found.ffmpeg).toMatchObject({ source: 'npm', path: npm.ffmpeg });
    expect(t.found.ffprobe).toMatchObject({ source: 'npm', path: npm.ffprobe });
    expect(t.found.ffmpeg.npmPackage).toMatch(/^@ffmpeg-installer\/ffmpeg build /);
    expect(t.found.ffmpeg.version).not.toBe('unknown');
    expect(t.found.ffmpeg.libavformat).toMatch(/^libavformat \d+\.\d+\.\d+$/);
    const line = describeTools(t);
    expect(line).toContain(npm.ffmpeg);
    expect(line).toContain(t.found.ffmpeg.version);
    expect(line).toContain('npm');
  });

  it('ffmpeg - a binary on PATH is preferred to the npm one', () => {
    const t = locateTools({ PATH: `/nonexistent:${dir}` });
    expect(t.found.ffmpeg).toMatchObject({ source: 'path', path: join(dir, 'ffmpeg') });
    expect(t.found.ffprobe).toMatchObject({ source: 'path', path: join(dir, 'ffprobe') });
    expect(describeTools(t)).toContain('system, on PATH');
  });

  it('ffmpeg - FFMPEG_PATH wins over PATH, and its sibling ffprobe comes with it', () => {
    const other = mkdtempSync(join(tmpdir(), 'ffmpeg-other-'));
    try {
      for (const [name, target] of Object.entries(npm)) symlinkSync(target, join(other, name));
      const t = locateTools({ PATH: dir, FFMPEG_PATH: join(other, 'ffmpeg') });
      expect(t.found.ffmpeg).toMatchObject({ source: 'env', path: join(other, 'ffmpeg') });
      expect(t.found.ffprobe).toMatchObject({ source: 'env', path: join(other, 'ffprobe') });
      const probeOnly = locateTools({ PATH: dir, FFPROBE_PATH: join(other, 'ffprobe') });
      expect(probeOnly.found.ffmpeg.source).toBe('path');
      expect(probeOnly.found.ffprobe).toMatchObject({ source: 'env', path: join(other, 'ffprobe') });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('ffmpeg - an FFMPEG_PATH that does not run is an error, not a silent fallback', () => {
    const notABinary = join(dir, 'not-ffmpeg');
    writeFileSync(notABinary, 'plain text');
    expect(() => locateTools({ PATH: dir, FFMPEG_PATH: notABinary })).toThrow(ToolError);
    expect(() => locateTools({ PATH: dir, FFMPEG_PATH: join(dir, 'missing') })).toThrow(
      /FFMPEG_PATH=.*missing/,
    );
  });

  it('ffmpeg - a PATH entry that is not runnable is skipped for the next candidate', () => {
    const broken = mkdtempSync(join(tmpdir(), 'ffmpeg-broken-'));
    try {
      writeFileSync(join(broken, 'ffmpeg'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
      const t = locateTools({ PATH: broken });
      expect(t.found.ffmpeg).toMatchObject({ source: 'npm', path: npm.ffmpeg });
    } finally {
      rmSync(broken, { recursive: true, force: true });
    }
  });
});
