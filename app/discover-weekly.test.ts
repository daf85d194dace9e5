/**
 * The weekly job on a generated world, into a running app's stores: every listener gets a
 * Discover Weekly playlist that keeps the rules, is readable through the playlist API and
 * plays like any playlist; a re-run of the week changes nothing; the published item vectors
 * become the radio's learned index without a restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { isoWeek, MAX_PER_ARTIST, PLAYLIST_LENGTH } from '../radio/discover-weekly.ts';
import { generateTasteWorld, type TasteWorld } from '../radio/taste-world.ts';
import { discoverWeeklyId, runDiscoverWeekly, type WeeklyReport } from '../radio/weekly-job.ts';
import { parseConfig, type AppConfig } from './config.ts';
import { startApp, type App } from './start-app.ts';

const WEEK = '2026-W49';
let app: App;
let config: AppConfig;
let dir: string;
let world: TasteWorld;
let report: WeeklyReport;

const job = () =>
  runDiscoverWeekly(WEEK, {
    plays: world.plays,
    catalog: app.stores.catalog,
    users: app.stores.users,
    playlists: app.stores.playlists,
    indexDir: config.radio.indexDir,
    python: config.radio.alsPython,
    als: { factors: 16, iterations: 8, regularization: 0.05, alpha: 20, seed: 7, candidates: 80 },
  });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dw-e2e-'));
  // Embedded engines; only where the launcher put the ALS venv comes from the environment.
  const venv = { ALS_PYTHON: process.env.ALS_PYTHON, INFRA_CACHE_DIR: process.env.INFRA_CACHE_DIR };
  config = parseConfig({ ...venv, PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent' });
  app = await startApp(config, { demo: 'fixture' });
  // Three training weeks before W49.
  world = generateTasteWorld({
    seed: 5,
    users: 120,
    tracks: 300,
    communities: 6,
    start: isoWeek('2026-W46').start,
    weeks: 3,
  });
  for (const u of world.users)
    await app.stores.users.putUser({
      id: u.id,
      displayName: u.id,
      plan: u.plan,
      country: u.country,
      quality: 'normal',
    });
  for (const [i, t] of world.tracks.entries()) {
    await app.stores.catalog.putTrack({
      id: t.id,
      title: t.id,
      artistId: t.artistId,
      artistName: t.artistId,
      albumId: t.albumId,
      albumName: t.albumId,
      trackNumber: 1,
      durationMs: 180_000,
    });
    const key = (n: number) => (i * 10 + n).toString(16).padStart(64, '0');
    await app.stores.catalog.putAudioFile({
      trackId: t.id,
      bitrateKbps: 96,
      codec: 'opus',
      container: 'webm',
      mimeType: 'audio/webm; codecs="opus"',
      init: { key: key(0), bytes: 10 },
      chunkDurationMs: 2000,
      chunks: [{ index: 0, key: key(1), bytes: 10, durationMs: 2000 }],
      encoderDelaySamples: 0,
      paddingSamples: 0,
      sampleRate: 48000,
      loudness: { integratedLufs: -14, replayGainDb: 0 },
      contentAddress: key(2),
    });
    await app.stores.catalog.putRights({ trackId: t.id, territory: '*', allowed: true });
    for (const c of t.blockedIn)
      await app.stores.catalog.putRights({ trackId: t.id, territory: c, allowed: false });
  }
  report = await job();
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('discover weekly e2e', () => {
  it('weekly - every listener gets 30 unplayed, playable tracks, at most 2 per artist', async () => {
    expect(report.listeners).toBe(world.users.length);
    expect(report.playlistsWritten).toBe(world.users.length);
    const trackById = new Map(world.tracks.map((t) => [t.id, t]));
    for (const u of world.users) {
      const list = await app.stores.playlists.listPlaylistTrackIds(discoverWeeklyId(u.id), u.id);
      const played = new Set(world.plays.filter((p) => p.userId === u.id).map((p) => p.trackId));
      expect(list).toHaveLength(PLAYLIST_LENGTH);
      const perArtist = new Map<string, number>();
      for (const id of list) {
        expect(played.has(id)).toBe(false);
        expect(trackById.get(id)!.blockedIn).not.toContain(u.country);
        perArtist.set(trackById.get(id)!.artistId, (perArtist.get(trackById.get(id)!.artistId) ?? 0) + 1);
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
      const list = await app.stores.playlists.listPlaylistTrackIds(discoverWeeklyId(u.id), u.id);
      expect(pb.track.id).toBe(list[0]);
    } finally {
      client.close();
    }
  });

  it('weekly - a re-run of the same week writes nothing new; the radio uses the published vectors', async () => {
    const again = await job();
    expect(again.playlistsWritten).toBe(0);
    expect(again.playlistsUnchanged).toBe(world.users.length);
    expect(again.indexVersion).toBe(report.indexVersion);
    const loaded = app.radio.holder!.refresh();
    expect(loaded.failed).toEqual([]);
    expect(app.radio.holder!.current().learned?.meta.version).toBe(report.indexVersion);
    const u = world.users[1]!;
    const seeds = world.plays
      .filter((p) => p.userId === u.id)
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
});
