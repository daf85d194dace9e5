/**
 * `npm run demo`: starts the server in-process on embedded defaults (temp data dir),
 * connects two devices of one listener, plays the demo playlist, skips to the prefetched
 * track, transfers playback to the second device, and prints a timeline with the latency
 * of each step. `npm run demo -- catalog` prints the demo catalog (users, playlists, albums,
 * rights, durations) instead.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import WebSocket from 'ws';
import { startApp } from './start-app.ts';
import { parseConfig } from './config.ts';
import { PrefetchCache } from '../client/prefetch-cache.ts';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { demoCatalogMarkdown } from './demo-catalog-table.ts';

// `npm run demo -- catalog`: the demo catalog `npm start` serves, then nothing else.
if (process.argv[2] === 'catalog') {
  console.log(demoCatalogMarkdown());
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'playback-demo-'));
const t0 = performance.now();
const stamp = () => `${(performance.now() - t0).toFixed(1).padStart(8)} ms`;
const line = (what: string, latencyMs?: number) =>
  console.log(`${stamp()}  ${what}${latencyMs === undefined ? '' : `  (${latencyMs.toFixed(2)} ms)`}`);

async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const s = performance.now();
  const out = await fn();
  line(what, performance.now() - s);
  return out;
}

const app = await startApp(parseConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent' }), {
  log: pino({ level: 'silent' }),
  demo: 'fixture',
});
try {
  line(`server on ${app.server.wsUrl} (embedded stores, ${app.eventLog.kind} event log)`);
  const user = app.demo.users[0]!;
  const token = await app.server.auth.mint({ userId: user.id, plan: user.plan, country: user.country });
  const mk = (id: string, name: string, type: 'computer' | 'smartphone') =>
    new SessionClient({
      url: app.server.wsUrl,
      token,
      device: { id, name, type },
      WebSocket: WebSocket as unknown as WebSocketCtor,
      prefetchCache: new PrefetchCache({ baseUrl: app.server.httpUrl }),
    });
  const laptop = mk('laptop', 'Laptop', 'computer');
  const phone = mk('phone', 'Phone', 'smartphone');
  await step(`laptop connected as ${user.id} (${user.plan}, ${user.country})`, () => laptop.connect());
  await step('phone connected', () => phone.connect());

  const [pb, pf] = await step(`laptop: play ${app.demo.playlistUri} -> playback + prefetch`, async () => {
    const playback = laptop.waitFor('playback');
    const prefetch = laptop.waitFor('prefetch');
    await laptop.play({ context: app.demo.playlistUri });
    return Promise.all([playback, prefetch]);
  });
  line(
    `  playing "${pb.track.title}" by ${pb.track.artist} at ${pb.bitrate_kbps} kbps, first chunk at ${pb.first_chunk.bitrate_kbps} kbps`,
  );
  line(
    `  prefetch: ${pf.items.map((i) => `${i.track_id} (${i.urls.length} chunk${i.urls.length > 1 ? 's' : ''})`).join(', ')}`,
  );
  const next = pf.items[0]!;
  const cached = await step('laptop: prefetched first chunk of the next track fetched + verified', () =>
    laptop.prefetchCache!.whenReady(next.urls[0]!),
  );
  line(`  ${cached ? `${cached.bytes.byteLength} bytes in cache` : 'NOT cached'}`);

  const pb2 = await step('laptop: next -> playback of the prefetched track', async () => {
    const p = laptop.waitFor('playback', { filter: (x) => x.play_id !== pb.play_id });
    await laptop.next();
    return p;
  });
  line(
    `  "${pb2.track.title}": first chunk ${pb2.first_chunk.url === next.urls[0] ? 'IS' : 'is NOT'} the prefetched URL (served from cache: ${laptop.prefetchCache!.has(pb2.first_chunk.url)})`,
  );

  const before = laptop.state!;
  const onPhone = await step('laptop: transfer to phone -> phone gets playback', async () => {
    const p = phone.waitFor('playback', { filter: (x) => x.track.id === pb2.track.id });
    await laptop.transfer('phone', true);
    return p;
  });
  const after = phone.state!;
  const expected =
    before.position.position_ms + (before.is_playing ? after.position.at - before.position.at : 0);
  line(
    `  phone resumes at ${onPhone.position_ms} ms (expected ~${expected} ms), active device: ${after.active_device_id}`,
  );

  const rtt = await step('phone: ping', () => phone.ping());
  void rtt;
  laptop.close();
  phone.close();
} finally {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
line('done');
process.exit(0);
