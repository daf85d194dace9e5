/**
 * Autoplay end to end on the embedded defaults (RADIO=embedded, the content index built from
 * the demo catalog at start): a context that ends keeps playing radio tracks, the first of
 * them prefetched like any next track; with the radio unreachable the session plays its
 * context out and says so with one `autoplay_unavailable` warning.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { spacingViolations } from '../radio/answer-rules.ts';
import { parseConfig } from './config.ts';
import { startApp, type App } from './start-app.ts';

const opened: { app: App; dir: string }[] = [];
afterAll(async () => {
  for (const o of opened) {
    await o.app.close();
    rmSync(o.dir, { recursive: true, force: true });
  }
});

async function appWith(env: Record<string, string>): Promise<App> {
  const dir = mkdtempSync(join(tmpdir(), 'radio-e2e-'));
  const app = await startApp(
    parseConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', SESSION_GRACE_MS: '60000', ...env }),
    { demo: 'fixture' },
  );
  opened.push({ app, dir });
  return app;
}

async function device(app: App, id: string, user = 'u1'): Promise<SessionClient> {
  const u = app.demo.users.find((x) => x.id === user)!;
  const token = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
  const client = new SessionClient({
    url: app.server.wsUrl,
    token,
    device: { id, name: `Device ${id}`, type: 'computer' },
    WebSocket: WebSocket as unknown as WebSocketCtor,
    reconnect: { minDelayMs: 10, maxDelayMs: 50 },
  });
  await client.connect();
  return client;
}

describe('radio e2e', () => {
  it('autoplay - a context that ends keeps playing radio tracks, the first one prefetched', async () => {
    const app = await appWith({});
    const a = await device(app, 'radio-a');
    try {
      const context = app.demo.trackUris.slice(0, 3);
      const contextIds = context.map((u) => u.split(':').pop()!);
      const first = a.waitFor('playback');
      await a.play({ uris: context });
      let pb = await first;
      expect(pb.track.id).toBe(contextIds[0]);
      // Play the context through with `ended`; remember what was prefetched before each start.
      const prefetched = new Set<string>();
      a.on('prefetch', (p) => p.items.forEach((i) => prefetched.add(i.track_id)));
      const played: { id: string; artist: string }[] = [];
      for (let i = 0; i < 5; i++) {
        const nextPlayback = a.waitFor('playback', { filter: (p) => p.play_id !== pb.play_id });
        await a.ended(pb.play_id);
        pb = await nextPlayback;
        played.push({ id: pb.track.id, artist: pb.track.artist });
      }
      const autoplay = played.slice(2);
      expect(played.slice(0, 2).map((p) => p.id)).toEqual(contextIds.slice(1));
      // Radio tracks: none of the context, none twice, none blocked in u1's country (SE).
      for (const t of autoplay) expect(contextIds).not.toContain(t.id);
      expect(new Set(autoplay.map((t) => t.id)).size).toBe(autoplay.length);
      expect(autoplay.map((t) => t.id)).not.toContain(app.demo.blockedInSeUri.split(':').pop());
      // The first radio track was prefetched before it started, like any next track.
      expect(prefetched.has(autoplay[0]!.id)).toBe(true);
      // No artist twice within 3 consecutive tracks, across the seam with the context too.
      expect(spacingViolations(played.map((p) => p.artist))).toBe(0);
    } finally {
      a.close();
    }
  });

  it('autoplay - the radio unreachable: the context plays out, one autoplay_unavailable warning, no error', async () => {
    // RADIO=nats with nothing listening: every radio call fails at once.
    const app = await appWith({ RADIO: 'nats', NATS_URL: 'nats://127.0.0.1:1', RADIO_TIMEOUT_MS: '200' });
    const a = await device(app, 'radio-b');
    try {
      const warnings: string[] = [];
      const errors: string[] = [];
      a.on('warning', (w) => warnings.push(w.code));
      a.on('error', (e) => errors.push(String(e)));
      const warned = a.waitFor('warning', { filter: (w) => w.code === 'autoplay_unavailable' });
      const first = a.waitFor('playback');
      await a.play({ uris: app.demo.trackUris.slice(0, 2) });
      let pb = await first;
      const w = await warned;
      expect(w.message).toMatch(/autoplay/);
      const second = a.waitFor('playback', { filter: (p) => p.play_id !== pb.play_id });
      await a.ended(pb.play_id);
      pb = await second;
      const stopped = a.waitFor('state', { filter: (s) => !s.is_playing });
      await a.ended(pb.play_id);
      await stopped;
      expect(warnings.filter((c) => c === 'autoplay_unavailable')).toHaveLength(1);
      expect(errors).toEqual([]);
    } finally {
      a.close();
    }
  });
});
