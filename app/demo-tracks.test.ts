import { describe, expect, it } from 'vitest';
import {
  DEMO_ARTISTS,
  DEMO_LONG_PLAYLIST_ID,
  DEMO_PLAYLISTS,
  DEMO_TRACKS,
  DEMO_USERS,
  FUTURE_RELEASE_MS,
  type DemoTrack,
} from './demo-tracks.ts';

/** The royalty rule's threshold: a play counts once 30 s have been heard. */
const ROYALTY_THRESHOLD_S = 30;

/** Evaluates an aevalsrc expression made of `amp*sin(2*PI*hz*t)` terms, as ffmpeg would. */
function waveform(expr: string): (t: number) => number {
  expect(expr).toMatch(/^[\d.]+\*sin\(2\*PI\*\d+\*t\)(\+[\d.]+\*sin\(2\*PI\*\d+\*t\))*$/);
  return new Function('t', `return ${expr.replaceAll('sin', 'Math.sin').replaceAll('PI', 'Math.PI')};`) as (
    t: number,
  ) => number;
}

describe('demo catalog - data', () => {
  it('demo catalog - 66 distinct tracks: 60 short ones by 12 artists, a long album, a gapless pair', () => {
    expect(DEMO_TRACKS).toHaveLength(66);
    expect(DEMO_ARTISTS).toHaveLength(12);
    expect(new Set(DEMO_TRACKS.map((t) => t.id)).size).toBe(66);
    expect(new Set(DEMO_TRACKS.slice(0, 64).map((t) => t.expr)).size).toBe(64);
    for (const t of DEMO_TRACKS.slice(0, 60)) {
      expect(t.durationS).toBeGreaterThanOrEqual(17);
      expect(t.durationS).toBeLessThanOrEqual(25);
    }
    // The first start synthesizes and encodes all of it: keep the total near 26 minutes.
    expect(DEMO_TRACKS.reduce((s, t) => s + t.durationS, 0)).toBeLessThanOrEqual(1600);
  });

  it('demo catalog - tracks past the 30 s royalty threshold, playable by every demo user', () => {
    const long = DEMO_TRACKS.filter((t) => t.durationS > ROYALTY_THRESHOLD_S);
    expect(long.length).toBeGreaterThanOrEqual(3);
    for (const t of long) {
      expect(t.durationS).toBeLessThanOrEqual(90);
      expect(t.rights).toEqual([{ territory: '*', allowed: true }]);
    }
    const playlist = DEMO_PLAYLISTS.find((p) => p.id === DEMO_LONG_PLAYLIST_ID)!;
    for (const t of long) expect(playlist.trackIds).toContain(t.id);
  });

  it('demo catalog - the gapless pair runs one tone across the track boundary, at any length cap', () => {
    const pair = DEMO_TRACKS.filter((t) => t.fades && (!t.fades.in || !t.fades.out));
    expect(pair).toHaveLength(2);
    const [a, b] = pair as [DemoTrack, DemoTrack];
    expect(a.artist.albumId).toBe(b.artist.albumId);
    expect(b.trackNumber).toBe(a.trackNumber + 1);
    // Faded only on the outside: nothing dips at the boundary.
    expect(a.fades).toEqual({ in: true, out: false });
    expect(b.fades).toEqual({ in: false, out: true });
    const playlist = DEMO_PLAYLISTS.find((p) => p.id === DEMO_LONG_PLAYLIST_ID)!
      .trackIds as readonly string[];
    expect(playlist.indexOf(b.id)).toBe(playlist.indexOf(a.id) + 1);
    // Track b's samples from its own t = 0 are track a's samples continued past its end:
    // at full length and at every whole-second DEMO_TRACK_SECONDS cap (2-60).
    const fa = waveform(a.expr);
    const fb = waveform(b.expr);
    const rate = 48_000;
    for (const lengthS of [a.durationS, 2, 4, 7, 13, 60]) {
      for (let k = 0; k < 480; k++) {
        expect(fb(k / rate)).toBeCloseTo(fa(lengthS + k / rate), 6);
      }
    }
    expect(Math.abs(fa(a.durationS))).toBeLessThan(1e-6);
  });

  it('demo catalog - rights cover territory blocks, a premium-only track and a future release', () => {
    const rows = DEMO_TRACKS.flatMap((t) => t.rights);
    expect(rows.filter((r) => r.territory !== '*' && !r.allowed).length).toBeGreaterThanOrEqual(3);
    expect(rows.filter((r) => r.premiumOnly)).toHaveLength(1);
    expect(rows.filter((r) => r.availableFrom === FUTURE_RELEASE_MS)).toHaveLength(1);
    expect(FUTURE_RELEASE_MS).toBeGreaterThan(Date.now());
  });

  it('demo catalog - users span plans and countries; playlists name known tracks and users', () => {
    expect(new Set(DEMO_USERS.map((u) => u.plan))).toEqual(new Set(['free', 'premium']));
    expect(new Set(DEMO_USERS.map((u) => u.country)).size).toBe(DEMO_USERS.length);
    const trackIds = new Set(DEMO_TRACKS.map((t) => t.id));
    const userIds = new Set<string>(DEMO_USERS.map((u) => u.id));
    expect(DEMO_PLAYLISTS.filter((p) => p.collaborative)).toHaveLength(1);
    for (const p of DEMO_PLAYLISTS) {
      expect(userIds.has(p.ownerId)).toBe(true);
      for (const id of p.trackIds) expect(trackIds.has(id)).toBe(true);
      for (const c of p.collaborators) expect(userIds.has(c)).toBe(true);
    }
  });
});
