/**
 * Rights end to end, over a real socket to the real app (embedded engines, demo fixture):
 * a listener in SE plays three tracks, the middle one blocked in SE. No frame names the
 * blocked track, no URL of its audio is ever handed out, and a skip onto it passes it over
 * as a success with a `track_skipped` warning. No sleeps: every wait is an awaited frame.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { rawSocket } from '../testkit/raw-socket.ts';
import { startTestApp } from '../testkit/test-app.ts';
import type { App } from './start-app.ts';

let app: App;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ app, stop } = await startTestApp('blocked-tracks-', {}, { pipeline: false }));
});

afterAll(() => stop?.());

const idOf = (uri: string) => uri.slice(uri.lastIndexOf(':') + 1);

/** The object keys (chunks and init segments) of a track's audio, at every bitrate. */
async function objectKeys(trackId: string): Promise<Set<string>> {
  const files = await app.stores.catalog.getAudioFiles(trackId);
  return new Set(files.flatMap((f) => [f.init?.key, ...f.chunks.map((c) => c.key)]).filter((k) => !!k));
}

describe('blocked tracks over the wire', () => {
  it('rights - a listener in SE gets no prefetch, preview or URL of a track blocked in SE, and next passes it over', async () => {
    const blocked = idOf(app.demo.blockedInSeUri);
    const at = app.demo.trackUris.indexOf(app.demo.blockedInSeUri);
    const [before, after] = [app.demo.trackUris[at - 1]!, app.demo.trackUris[at + 1]!];
    // Keys the blocked track shares with the ones around it (identical bytes) say nothing.
    const others = new Set([...(await objectKeys(idOf(before))), ...(await objectKeys(idOf(after)))]);
    const blockedKeys = [...(await objectKeys(blocked))].filter((k) => !others.has(k));
    expect(blockedKeys.length).toBeGreaterThan(0);

    const u1 = app.demo.users.find((u) => u.country === 'SE')!;
    const token = await app.server.auth.mint({ userId: u1.id, plan: u1.plan, country: u1.country });
    const s = rawSocket(app.server.wsUrl);
    await s.opened;
    try {
      s.send({
        t: 'hello',
        id: 1,
        token,
        device: { id: 'rights-e2e', name: 'rights', type: 'computer' },
        protocol: PROTOCOL_VERSION,
      });
      await s.frame((f) => f.t === 'welcome');
      s.send({ t: 'play', id: 2, uris: [before, app.demo.blockedInSeUri, after] });
      expect(await s.frame((f) => (f.t === 'ack' || f.t === 'error') && f.id === 2)).toEqual({
        t: 'ack',
        id: 2,
      });
      const prefetch = (await s.frame((f) => f.t === 'prefetch')) as Extract<ServerFrame, { t: 'prefetch' }>;
      expect(prefetch.items.map((i) => i.track_id)).toEqual([idOf(after)]);

      s.send({ t: 'next', id: 3 });
      expect(await s.frame((f) => (f.t === 'ack' || f.t === 'error') && f.id === 3)).toEqual({
        t: 'ack',
        id: 3,
      });
      expect(await s.frame((f) => f.t === 'warning')).toMatchObject({
        t: 'warning',
        code: 'track_skipped',
        track_id: blocked,
        reason: 'region_blocked',
      });
      const playback = (await s.frame((f) => f.t === 'playback' && f.track.id === idOf(after))) as Extract<
        ServerFrame,
        { t: 'playback' }
      >;
      expect(playback.first_chunk.url).toBe(prefetch.items[0]!.urls[0]);

      for (const f of s.frames) {
        if (f.t === 'prefetch') expect(f.items.map((i) => i.track_id)).not.toContain(blocked);
        if (f.t === 'playback') expect(f.track.id).not.toBe(blocked);
        if (f.t === 'state' || f.t === 'welcome')
          expect(f.state.next_tracks.map((n) => n.track.id)).not.toContain(blocked);
        const text = JSON.stringify(f);
        for (const key of blockedKeys) expect(text).not.toContain(key);
      }
    } finally {
      s.ws.close();
    }
  });
});
