/**
 * The whole app on JetStream (NATS_URL set) against nats-servers this file starts itself on
 * free ports (stopped by pid in afterAll): start-up while NATS is unreachable (serve, buffer
 * in the outbox, not ready, then drain and count when NATS is back), EVENTS_STREAM naming the
 * stream, its subjects and the consumers, and a stream whose subjects overlap another's.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { monthOf } from '../storage/event-codec.ts';
import { freePort, PrivateNats, removeTempDirs, waitFor } from '../testkit/pipeline.ts';
import { withTimeout } from '../testkit/raw-socket.ts';
import { parseConfig } from './config.ts';
import { startApp, type App } from './start-app.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(() => removeTempDirs());

let run = 0;
const uniqueName = (tag: string) => `${tag}_${process.pid}_${Date.now().toString(36)}_${++run}`.toUpperCase();

/** Starts the app as `npm start` does, on NATS at `natsUrl`; closed after the test. */
async function startOnNats(natsUrl: string, env: Record<string, string>, now?: () => number): Promise<App> {
  const dir = mkdtempSync(join(tmpdir(), 'nats-outage-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  const config = parseConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', NATS_URL: natsUrl, ...env });
  // Bounded: before the fix start-up waited forever for NATS.
  const app = await withTimeout(
    startApp(config, { demo: 'fixture', ...(now ? { now } : {}) }),
    'start-up',
    20_000,
  );
  cleanups.push(() => app.close());
  return app;
}

async function manager(url: string): Promise<{ jsm: JetStreamManager; nc: NatsConnection }> {
  const nc = await connect({ servers: url });
  cleanups.push(() => nc.close());
  return { jsm: await jetstreamManager(nc), nc };
}

describe('event log on NATS', () => {
  it('nats outage - the app starts without NATS, serves, buffers a play in the outbox, then drains and counts it once when NATS comes', async () => {
    const nats = new PrivateNats(await freePort()); // nothing listens there yet
    cleanups.push(() => nats.stop());
    const stream = uniqueName('outage');
    let clock = Date.now();
    const app = await startOnNats(nats.url, { EVENTS_STREAM: stream }, () => clock);

    const health = await fetch(`${app.server.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    const notReady = await fetch(`${app.server.httpUrl}/readyz`);
    expect(notReady.status).toBe(503);
    const body = (await notReady.json()) as { status: string; reasons: string[] };
    expect(body.status).toBe('not_ready');
    expect(body.reasons.join('\n')).toMatch(/event_log: event log offline \(NATS unreachable at nats:\/\//);

    // A device plays past the royalty threshold (15 s, seek back, 16 s more: 31 s heard) on
    // the server clock this test drives.
    const u = app.demo.users[0]!;
    const client = new SessionClient({
      url: app.server.wsUrl,
      token: await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country }),
      device: { id: 'outage-d', name: 'Outage device', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    await client.connect();
    cleanups.push(async () => client.close());
    const playback = client.waitFor('playback');
    await client.play({ context: app.demo.playlistUri });
    const pb = await playback;
    clock += 15_000;
    await client.seek(0);
    clock += 16_000;
    await client.pause();
    // play.start and play.progress wait in the outbox.
    await waitFor('the play in the outbox', () => app.eventLog.status().outboxDepth >= 2);
    expect(app.eventLog.status()).toMatchObject({ online: false, outboxFull: false });

    await nats.start();
    await waitFor(
      '/readyz to turn 200',
      async () => (await fetch(`${app.server.httpUrl}/readyz`)).status === 200,
      20_000,
    );
    await waitFor('the outbox to drain', () => app.eventLog.status().outboxDepth === 0, 20_000);
    const { jsm } = await manager(nats.url);
    expect((await jsm.streams.info(stream)).state.messages).toBeGreaterThanOrEqual(2);

    const month = monthOf(clock);
    const counted = async () => {
      const rows = [];
      for await (const row of app.stores.royalties.scanLedger(month)) rows.push(row);
      return rows;
    };
    await waitFor('the royalty consumer to count the play', async () => (await counted()).length > 0, 20_000);
    const rows = await counted();
    expect(rows.map((r) => r.playId)).toEqual([pb.play_id]);
    expect(await app.stores.royalties.trackCounts(month)).toEqual([
      expect.objectContaining({ id: pb.track.id, streams: 1 }),
    ]);
  }, 90_000);

  describe('on a running NATS', () => {
    let nats: PrivateNats;
    beforeAll(async () => {
      nats = new PrivateNats(await freePort());
      await nats.start();
    });
    afterAll(() => nats.stop());

    it('events stream - EVENTS_STREAM names the stream, its subjects and the consumers: two deployments share one NATS', async () => {
      const [x, y] = [uniqueName('deploy_x'), uniqueName('deploy_y')];
      const a = await startOnNats(nats.url, { EVENTS_STREAM: x });
      const b = await startOnNats(nats.url, { EVENTS_STREAM: y });
      const { jsm } = await manager(nats.url);
      for (const [app, name] of [
        [a, x],
        [b, y],
      ] as const) {
        const info = await jsm.streams.info(name);
        expect(info.config.subjects).toEqual([`${name.toLowerCase()}.>`]);
        const consumers = async () => {
          const names: string[] = [];
          for await (const c of jsm.consumers.list(name)) names.push(c.name);
          return names.sort();
        };
        await waitFor('the five consumers', async () => (await consumers()).length === 5);
        expect(await consumers()).toEqual(
          ['features', 'history', 'royalties', 'scrobbles', 'warehouse'].map((c) => `${name}_${c}`),
        );
        expect(app.eventLog.status().online).toBe(true);
      }
    });

    it('events stream - subjects overlapping another stream stop start-up with an error naming both', async () => {
      const mine = uniqueName('overlap');
      const theirs = uniqueName('theirs');
      const { jsm } = await manager(nats.url);
      await jsm.streams.add({ name: theirs, subjects: [`${mine.toLowerCase()}.play.*`] });
      cleanups.push(async () => void (await jsm.streams.delete(theirs)));
      const failed = startOnNats(nats.url, { EVENTS_STREAM: mine });
      await expect(failed).rejects.toThrow(
        `JetStream stream ${mine} cannot be set up: its subjects ${mine.toLowerCase()}.> overlap ` +
          `stream ${theirs} (${mine.toLowerCase()}.play.*)`,
      );
    });
  });
});
