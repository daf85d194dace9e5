import { describe, expect, it } from 'vitest';
import { DEMO_ARTISTS, DEMO_PLAYLISTS, DEMO_TRACKS, DEMO_USERS, FUTURE_RELEASE_MS } from './demo-tracks.ts';

describe('demo catalog - data', () => {
  it('demo catalog - about 60 distinct short tracks by 12 artists on albums', () => {
    expect(DEMO_TRACKS).toHaveLength(60);
    expect(DEMO_ARTISTS).toHaveLength(12);
    expect(new Set(DEMO_TRACKS.map((t) => t.id)).size).toBe(60);
    expect(new Set(DEMO_TRACKS.map((t) => t.expr)).size).toBe(60);
    for (const t of DEMO_TRACKS) {
      expect(t.durationS).toBeGreaterThanOrEqual(20);
      expect(t.durationS).toBeLessThanOrEqual(40);
    }
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
