/**
 * Discover Weekly on the month generator's world with planted tastes, through the real trainer
 * (implicit ALS in the launcher's venv, ALS_PYTHON): the playlists keep the rules, and the
 * model finds the planted tastes better than popularity does.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildInteractions,
  DiscoverWeeklyError,
  isoWeek,
  isoWeekOf,
  MAX_PER_ARTIST,
  PLAYLIST_LENGTH,
  trainAls,
} from './discover-weekly.ts';
import { evaluateWorld } from './recs-eval.ts';
import { generateMonth } from '../pipeline/jobs/generate-month.ts';

const python = process.env.ALS_PYTHON ?? join('.cache', 'python', 'venv', 'bin', 'python');

describe('discover weekly', () => {
  it('weekly - ISO weeks: 2026-W49 starts Monday 30 November; bad weeks are refused', () => {
    const w = isoWeek('2026-W49');
    expect(new Date(w.start).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(isoWeekOf(w.start + 3 * 86_400_000).label).toBe('2026-W49');
    expect(isoWeekOf(Date.UTC(2027, 0, 1)).label).toBe('2026-W53');
    expect(() => isoWeek('2026-49')).toThrow(/YYYY-Www/);
    expect(() => isoWeek('2025-W53')).toThrow(/no week 53/);
  });

  it('weekly - an empty history is refused as no_history, before any training', async () => {
    await expect(trainAls(python, buildInteractions([]))).rejects.toMatchObject({ code: 'no_history' });
    await expect(
      trainAls(
        '/nonexistent/python',
        buildInteractions([{ userId: 'u', trackId: 't', ts: 0, msPlayed: 40_000, country: 'SE' }]),
      ),
    ).rejects.toBeInstanceOf(DiscoverWeeklyError);
  });

  it('weekly - playlists on a generated world: 30 unplayed, playable tracks, at most 2 per artist; beats popularity', async () => {
    expect(existsSync(python), `no ALS venv at ${python}: npm run infra -- up python`).toBe(true);
    // November 2026: train on its weeks before W48, test on W48 (23-29 November).
    const world = generateMonth({
      month: '2026-11',
      seed: 3,
      users: 400,
      tracks: 800,
      artists: 80,
      communities: 8,
      playsPerUser: 48,
      fraudUsersPerKind: 0,
    });
    const testStart = isoWeek('2026-W48').start;
    const ev = await evaluateWorld(python, world, testStart, {
      factors: 32,
      iterations: 10,
      regularization: 0.05,
      alpha: 20,
      seed: 7,
      candidates: 120,
    });
    const trackById = new Map(world.tracks.map((t) => [t.id, t]));
    const userById = new Map(world.users.map((u) => [u.id, u]));
    ev.playlists.forEach((list, u) => {
      const user = userById.get(ev.data.users[u]!)!;
      const played = new Set([...ev.data.played[u]!].map((ii) => ev.data.items[ii]));
      expect(list).toHaveLength(PLAYLIST_LENGTH);
      expect(new Set(list).size).toBe(list.length);
      const perArtist = new Map<string, number>();
      for (const id of list) {
        expect(played.has(id)).toBe(false);
        expect(trackById.get(id)!.blockedIn).not.toContain(user.country);
        const a = trackById.get(id)!.artistId;
        perArtist.set(a, (perArtist.get(a) ?? 0) + 1);
      }
      expect(Math.max(...perArtist.values())).toBeLessThanOrEqual(MAX_PER_ARTIST);
    });
    expect(ev.testUsers).toBeGreaterThan(100);
    expect(ev.dw.precisionAt10).toBeGreaterThan(ev.popularity.precisionAt10);
    expect(ev.popularity.precisionAt10).toBeGreaterThanOrEqual(ev.random.precisionAt10);
    // Same input, same model: a re-run of the week writes the same playlists.
    const again = await evaluateWorld(python, world, testStart, {
      factors: 32,
      iterations: 10,
      regularization: 0.05,
      alpha: 20,
      seed: 7,
      candidates: 120,
    });
    expect(again.playlists).toEqual(ev.playlists);
  });
});
