/**
 * The weekly job end to end through the entry points, on a fresh DATA_DIR with embedded
 * engines: `npm run job -- generate` writes a month with planted tastes (its catalog,
 * listeners and plays), `npm run job -- discover-weekly --week 2026-W49` trains on its last
 * three weeks; every listener's Discover Weekly playlist keeps the rules, is readable through
 * the playlist API and plays like any playlist; a re-run of the week changes nothing; the
 * published item vectors are the radio's learned index on the next start. A small world
 * (60 listeners, 200 tracks) keeps it fast.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { generateMonth, type GeneratedMonth } from '../pipeline/jobs/generate-month.ts';
import { isoWeek, MAX_PER_ARTIST, PLAYLIST_LENGTH } from '../radio/discover-weekly.ts';
import { discoverWeeklyId, TRAIN_WEEKS, type WeeklyReport } from '../radio/weekly-job.ts';
import { parseConfig } from './config.ts';
import { startApp, type App } from './start-app.ts';

const ROOT = join(import.meta.dirname, '..');
const WEEK = '2026-W49';
const MONTH = ['--month', '2026-11', '--seed', '5', '--users', '60'];
let app: App;
let dir: string;
let world: GeneratedMonth;
let report: WeeklyReport;
let again: WeeklyReport;

/** Runs `npm run job -- <args>` (its entry) to its end with only DATA_DIR and the ALS venv set. */
function runJob(dataDir: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, DATA_DIR: dataDir };
  for (const k of ['ALS_PYTHON', 'INFRA_CACHE_DIR'] as const) if (process.env[k]) env[k] = process.env[k];
  return spawnSync(process.execPath, ['--import', 'tsx', 'app/jobs.ts', ...args], {
    cwd: ROOT,
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
}

/** A job that must succeed; for discover-weekly, the report it wrote. */
function job(args: string[]): WeeklyReport | undefined {
  const run = runJob(dir, args);
  expect(run.status, `job ${args.join(' ')}:\n${run.stdout}\n${run.stderr}`).toBe(0);
  if (args[0] !== 'discover-weekly') return undefined;
  return JSON.parse(
    readFileSync(join(dir, 'reports', `discover-weekly-${WEEK}.json`), 'utf8'),
  ) as WeeklyReport;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dw-e2e-'));
  job(['generate', ...MONTH]);
  report = job(['discover-weekly', '--week', WEEK])!;
  again = job(['discover-weekly', '--week', WEEK])!;
  // The same world in memory (the generator is deterministic), to check the playlists against.
  world = generateMonth({ month: '2026-11', seed: 5, users: 60 });
  const config = parseConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent' });
  app = await startApp(config, { demo: 'fixture' });
}, 240_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('discover weekly e2e', () => {
  it('weekly - generate then discover-weekly: every listener gets 30 unplayed, playable tracks, at most 2 per artist', async () => {
    const start = isoWeek(WEEK).start;
    const from = start - TRAIN_WEEKS * 7 * 86_400_000;
    const training = world.plays.filter((p) => p.ts >= from && p.ts < start);
    const listeners = new Set(training.map((p) => p.userId));
    expect(report.listeners).toBe(listeners.size);
    expect(report.playlistsWritten).toBe(listeners.size);
    // Only a round-the-clock bot can have played nearly all 200 tracks: its list may be short.
    expect(report.shortPlaylists).toBeLessThanOrEqual(world.fraudUsers.size);
    const trackById = new Map(world.tracks.map((t) => [t.id, t]));
    for (const u of world.users) {
      if (!listeners.has(u.id)) continue;
      const list = await app.stores.playlists.listPlaylistTrackIds(discoverWeeklyId(u.id), u.id);
      // "Never played" as the job knows it: the training weeks it reads.
      const played = new Set(training.filter((p) => p.userId === u.id).map((p) => p.trackId));
      expect(list).toHaveLength(PLAYLIST_LENGTH);
      const perArtist = new Map<string, number>();
      for (const id of list) {
        const t = trackById.get(id)!;
        expect(played.has(id)).toBe(false);
        expect(t.blockedIn).not.toContain(u.country);
        perArtist.set(t.artistId, (perArtist.get(t.artistId) ?? 0) + 1);
      }
      expect(Math.max(...perArtist.values())).toBeLessThanOrEqual(MAX_PER_ARTIST);
    }
  });

  it('weekly - the playlist is readable through the API and plays like any playlist', async () => {
    const u = world.users[0]!;
    const token = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
    const res = await fetch(`${app.server.httpUrl}/v1/playlists/${discoverWeeklyId(u.id)}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { name: string; tracks: { items: { track: { id: string } }[] } };
    expect(body.name).toBe('Discover Weekly');
    expect(body.tracks.items).toHaveLength(PLAYLIST_LENGTH);
    const client = new SessionClient({
      url: app.server.wsUrl,
      token,
      device: { id: 'dw-dev', name: 'dw', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    await client.connect();
    try {
      const playback = client.waitFor('playback');
      await client.play({ context: `spotify:playlist:${discoverWeeklyId(u.id)}` });
      const pb = await playback;
      expect(pb.track.id).toBe(body.tracks.items[0]!.track.id);
      expect(pb.urls.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it('weekly - a re-run of the same week writes nothing new; the radio uses the published vectors', async () => {
    expect(again.playlistsWritten).toBe(0);
    expect(again.playlistsUnchanged).toBe(report.listeners);
    expect(again.indexVersion).toBe(report.indexVersion);
    expect(app.radio.holder!.current().learned?.meta.version).toBe(report.indexVersion);
    const u = world.users[1]!;
    const seeds = world.plays
      .filter((p) => p.userId === u.id && p.ts < isoWeek(WEEK).start)
      .slice(-3)
      .map((p) => p.trackId);
    const answer = await app.radio.service!.answer({
      userId: u.id,
      seedTrackIds: seeds,
      exclude: seeds,
      count: 5,
      country: u.country,
      plan: u.plan,
    });
    expect(answer.source).toBe('learned');
    expect(answer.trackIds).toHaveLength(5);
  });

  it('weekly - cold start on the published index: a listener with no plays gets the most streamed tracks of their country', async () => {
    const start = isoWeek(WEEK).start;
    const from = start - TRAIN_WEEKS * 7 * 86_400_000;
    const streams = new Map<string, number>();
    for (const p of world.plays)
      if (p.ts >= from && p.ts < start && p.country === 'SE' && p.msPlayed >= 30_000)
        streams.set(p.trackId, (streams.get(p.trackId) ?? 0) + 1);
    const top = [...streams.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20);
    const answer = await app.radio.service!.answer({
      userId: 'nobody-yet',
      seedTrackIds: ['not-in-the-catalog'],
      exclude: [],
      count: 5,
      country: 'SE',
      plan: 'free',
    });
    expect(answer.source).toBe('popular');
    expect(answer.trackIds).toHaveLength(5);
    const blocked = new Map(world.tracks.map((t) => [t.id, t.blockedIn]));
    for (const id of answer.trackIds) {
      expect(blocked.get(id)).not.toContain('SE');
      expect(top.map(([t]) => t)).toContain(id);
    }
  });

  it('weekly - an empty history (a fresh DATA_DIR): exit 1 with no_history, nothing written', () => {
    const empty = mkdtempSync(join(tmpdir(), 'dw-empty-'));
    try {
      const run = runJob(empty, ['discover-weekly', '--week', WEEK]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(/discover-weekly: no_history: /);
      expect(existsSync(join(empty, 'reports', `discover-weekly-${WEEK}.json`))).toBe(false);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
