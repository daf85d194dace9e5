/**
 * A track ingested while the product runs reaches the radio without a restart: `npm run
 * ingest -- <folder>` against the running server's DATA_DIR publishes a content index naming
 * the new tracks (app/content-index.ts), the server's radio (RADIO=embedded) loads it on its
 * next poll of `CURRENT`, and autoplay seeded by a new track answers from its neighbours.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spacingViolations } from '../radio/answer-rules.ts';
import { rankCandidates } from '../radio/radio-service.ts';
import type { VectorIndex } from '../radio/vector-index.ts';
import { parseConfig } from './config.ts';
import { startApp, type App } from './start-app.ts';

const ROOT = join(import.meta.dirname, '..');
const ffmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
const dirs: string[] = [];
const children: ChildProcess[] = [];
const apps: App[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const a of apps) await a.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function runIngest(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/ingest.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

/**
 * Watches the indexes `app`'s radio puts in force; `next(accept, ms)` resolves with the first
 * one `accept` takes (seen already or still to come) and rejects `ms` after it was asked.
 */
function watchSwaps(app: App) {
  const seen: VectorIndex[] = [];
  const waiting = new Set<(i: VectorIndex) => void>();
  app.radio.holder!.onSwap((index) => {
    seen.push(index);
    for (const w of waiting) w(index);
  });
  return {
    next: (accept: (i: VectorIndex) => boolean, ms: number) =>
      new Promise<VectorIndex>((resolve, reject) => {
        const found = seen.find(accept);
        if (found) return resolve(found);
        const timer = setTimeout(() => {
          waiting.delete(take);
          reject(new Error(`no matching index swapped in within ${ms} ms`));
        }, ms);
        const take = (index: VectorIndex) => {
          if (!accept(index)) return;
          clearTimeout(timer);
          waiting.delete(take);
          resolve(index);
        };
        waiting.add(take);
      }),
  };
}

describe('radio new tracks', () => {
  it('radio - a track ingested after start is a seed and a neighbour without a restart', async () => {
    const dataDir = tempDir('radio-new-data-');
    const music = tempDir('radio-new-music-');
    // Poll CURRENT often so the test waits little; the swap itself is awaited as an event.
    const app = await startApp(
      parseConfig({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent', RADIO_POLL_MS: '50' }),
      { demo: 'fixture' },
    );
    apps.push(app);
    const u1 = app.demo.users.find((u) => u.id === 'u1')!;
    const ask = (seed: string) =>
      app.radio.service!.answer({
        userId: 'u1',
        seedTrackIds: [seed],
        exclude: [],
        count: 5,
        country: u1.country,
        plan: u1.plan,
      });
    const before = app.radio.holder!.current().content!;
    expect(before.size).toBeGreaterThan(0);

    // Two tracks of one new album, and one of another new artist.
    const made = [
      ['Night Drive', 'Neon Coast', 'Late Hours', 220],
      ['Night Swim', 'Neon Coast', 'Late Hours', 247],
      ['Bright Morning', 'Field Choir', 'Early', 880],
    ] as const;
    for (const [title, artist, album, freq] of made) {
      const r = spawnSync(ffmpeg, [
        ...['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi'],
        ...['-i', `sine=frequency=${freq}:sample_rate=44100:duration=4`],
        ...['-metadata', `title=${title}`, '-metadata', `artist=${artist}`, '-metadata', `album=${album}`],
        join(music, `${title.replace(' ', '-')}.wav`),
      ]);
      expect(r.status, r.stderr.toString()).toBe(0);
    }

    const swaps = watchSwaps(app);
    const ingest = await runIngest([music], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      FFMPEG_PATH: ffmpeg,
      INGEST_WORKERS: '1',
    });
    expect(ingest.code, ingest.out).toBe(0);
    expect(ingest.out).toMatch(/ingest: 3 ingested, 0 unchanged, 0 failed/);
    expect(ingest.out).toMatch(
      /radio content index c-\w+ published \(\d+ tracks, 3 new, 0 without audio measures\)/,
    );
    const byTitle = new Map(
      [...ingest.out.matchAll(/^\s+ingested\s+(\S+)\s+\S*\/([^/\s]+)\.wav$/gm)].map((m) => [m[2]!, m[1]!]),
    );
    const drive = byTitle.get('Night-Drive')!;
    const swim = byTitle.get('Night-Swim')!;
    expect(drive && swim, ingest.out).toBeTruthy();

    // The running server's radio loads it on its next poll: no restart.
    const index = await swaps.next(
      (i) => i.meta.kind === 'content' && i.size === before.size + made.length,
      30_000,
    );
    expect(index.has(drive) && index.has(swim)).toBe(true);
    // The catalog's tracks keep the vectors they had.
    const demoTrack = before.set.trackIds[0]!;
    expect([...index.vectorOf(demoTrack)!]).toEqual([...before.vectorOf(demoTrack)!]);

    // Nearest to the new track (itself aside): the other track of its album.
    const ranked = rankCandidates(app.radio.holder!.current(), [drive], u1.country, 5);
    expect(ranked.list.filter((c) => c.trackId !== drive)[0]!.trackId).toBe(swim);
    expect(ranked.sourceOf.get(swim)).toBe('content');

    const answer = await ask(drive);
    expect(answer.source).toBe('content');
    expect(answer.indexVersions.content).toBe(index.meta.version);
    expect(answer.trackIds).toHaveLength(5);
    expect(answer.trackIds).not.toContain(drive);
    // The album mate comes as soon as artist spacing lets it (the seed's artist leads in).
    expect(answer.trackIds).toContain(swim);
    const rows = await app.stores.catalog.getTracks([drive, ...answer.trackIds]);
    expect(spacingViolations([drive, ...answer.trackIds].map((id) => rows.get(id)!.artistId))).toBe(0);
    // Through the port the session actor uses, too.
    await expect(
      app.radio.port({
        userId: 'u1',
        seedTrackIds: [drive],
        exclude: [],
        count: 5,
        country: 'SE',
        plan: 'premium',
      }),
    ).resolves.toEqual(answer.trackIds);
  }, 180_000); // a child process encodes three tracks: slow on a loaded 2-core machine
});
