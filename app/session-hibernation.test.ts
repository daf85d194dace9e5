/**
 * End-to-end over real sockets: hibernation makes no visible difference. The same script of
 * devices and commands runs against two servers on the same injected clock, one that never
 * hibernates and one whose sessions hibernate after 40 ms of quiet (and the script waits
 * until they have, at every step marked so): every device must receive the very same frames
 * (state versions, queue, positions, devices, signed URLs, play ids, welcome) in the same
 * order. A save due while the session is hibernated is written, from the hibernated state.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientFrame, ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { waitFor } from '../testkit/pipeline.ts';
import { rawSocket, withTimeout, type RawSocket } from '../testkit/raw-socket.ts';
import { parseConfig } from './config.ts';
import { startApp, type App } from './start-app.ts';

const T0 = 1_800_000_000_000;

interface Rig {
  app: App;
  dir: string;
  clock: { now: number };
}

async function rig(prefix: string, hibernateAfterMs: number): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const clock = { now: T0 };
  const app = await startApp(
    parseConfig({
      PORT: '0',
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      SESSION_GRACE_MS: '60000',
      HIBERNATE_AFTER_MS: String(hibernateAfterMs),
    }),
    { demo: 'fixture', pipeline: false, now: () => clock.now },
  );
  return { app, dir, clock };
}

let awake: Rig;
let sleepy: Rig;

beforeAll(async () => {
  [awake, sleepy] = await Promise.all([rig('hib-awake-', 0), rig('hib-sleepy-', 40)]);
});

afterAll(async () => {
  for (const r of [awake, sleepy]) {
    await r?.app.close();
    if (r) rmSync(r.dir, { recursive: true, force: true });
  }
});

/** Runs the script on one server; returns every frame each device received, in order. */
async function script(r: Rig, sleeps: boolean) {
  const { app, clock } = r;
  const user = app.demo.users.find((u) => u.plan === 'premium')!;
  const token = await app.server.auth.mint({ userId: user.id, plan: user.plan, country: user.country });
  const devices = new Map<string, RawSocket>();
  let nextId = 100;
  /**
   * Every device has read all that a step sent it: what the step sent at once (its pong
   * comes after), and the prefetch that follows a playback once the next tracks are loaded
   * (in the background: it may come after the pong, so pongs are not compared).
   */
  const settle = async () => {
    for (const s of devices.values()) {
      if (s.ws.readyState !== s.ws.OPEN) continue;
      const id = nextId++;
      s.send({ t: 'ping', id });
      await s.frame((f) => f.t === 'pong' && f.id === id);
      await waitFor('the prefetch after the playback', () => {
        const i = s.frames.findLastIndex((f) => f.t === 'playback');
        return i < 0 || s.frames.slice(i).some((f) => f.t === 'prefetch');
      });
    }
  };
  const connect = async (deviceId: string) => {
    const s = rawSocket(app.server.wsUrl);
    devices.set(deviceId, s);
    await s.opened;
    const id = nextId++;
    s.send({
      t: 'hello',
      id,
      token,
      protocol: PROTOCOL_VERSION,
      device: { id: deviceId, name: `Device ${deviceId}`, type: 'computer' },
    });
    await s.frame((f) => f.t === 'welcome' && f.id === id);
    await settle();
  };
  /** A request from `deviceId`, answered (ack or error), then every device settled. */
  const request = async (deviceId: string, frame: { t: ClientFrame['t']; [field: string]: unknown }) => {
    const s = devices.get(deviceId)!;
    const id = nextId++;
    s.send({ ...frame, id } as unknown as ClientFrame);
    await s.frame((f) => (f.t === 'ack' || f.t === 'error') && f.id === id);
    await settle();
  };
  /** The sleepy server: wait until the session has hibernated (it has nothing to do). */
  const hibernated = async () => {
    if (sleeps) await waitFor('the session to hibernate', () => app.server.hibernation.hibernated === 1);
  };

  await connect('a');
  await connect('b');
  await request('a', { t: 'play', context: app.demo.playlistUri });
  clock.now += 20_000;
  await request('b', { t: 'pause' });
  const lastState = (f: ServerFrame[]) =>
    [...f].reverse().find((x): x is Extract<ServerFrame, { t: 'state' }> => x.t === 'state')!;
  const paused = lastState(devices.get('a')!.frames);
  await hibernated();
  // The save armed by the pause comes due while the session sleeps: it is written all the
  // same, from the hibernated state, and leaves it asleep.
  await waitFor('the paused state to be saved', async () => {
    const saved = await app.stores.snapshots.getSnapshot(user.id);
    return saved?.version === paused.state.version;
  });
  if (sleeps) expect(app.server.hibernation.hibernated).toBe(1);

  // Two hours on, the paused play's URLs have expired. A new device joins the sleeping
  // listener: its welcome, the others' state.
  clock.now += 2 * 3600_000;
  await connect('c');
  await hibernated();
  // The resume re-signs the play's URLs at the new time, on the active device.
  await request('b', { t: 'resume' });
  clock.now += 5_000;
  await request('a', { t: 'pause' });
  await hibernated();
  await request('c', { t: 'queue.add', uri: app.demo.trackUris[5] });
  await hibernated();
  await request('a', { t: 'seek', position_ms: 3_000 });
  await hibernated();
  await request('b', { t: 'volume', percent: 40 });
  await hibernated();
  // A device leaves a sleeping session: the others hear of it.
  const c = devices.get('c')!;
  c.ws.close();
  await c.closed;
  await waitFor('the others to see c leave', () =>
    devices
      .get('a')!
      .frames.some((f) => f.t === 'state' && f.state.devices.some((d) => d.id === 'c' && !d.connected)),
  );
  await settle();
  await hibernated();
  await request('b', { t: 'next' });

  const base = app.server.originBaseUrl;
  const frames = Object.fromEntries(
    [...devices].map(([id, s]) => [
      id,
      JSON.parse(JSON.stringify(s.frames.filter((f) => f.t !== 'pong')).replaceAll(base, 'BASE')),
    ]),
  );
  for (const s of devices.values()) s.ws.close();
  return frames as Record<string, ServerFrame[]>;
}

describe('hibernation e2e', () => {
  it('hibernation - every device gets the same frames from a session that hibernates between commands', async () => {
    const expected = await withTimeout(script(awake, false), 'the awake script', 20_000);
    const seen = await withTimeout(script(sleepy, true), 'the sleepy script', 20_000);
    expect(sleepy.app.server.hibernation.hibernated).toBe(0);
    for (const device of ['a', 'b', 'c']) expect(seen[device], device).toEqual(expected[device]);
    // The script did what it says: a welcome for c, playbacks with URLs signed after the
    // two hours, a queue, and a next that played.
    const playbacks = expected['a']!.filter((f) => f.t === 'playback');
    expect(playbacks.length).toBeGreaterThanOrEqual(2);
    expect(expected['c']!.filter((f) => f.t === 'welcome')).toHaveLength(1);
    const states = expected['b']!.filter((f): f is Extract<ServerFrame, { t: 'state' }> => f.t === 'state');
    expect(states.some((s) => s.state.next_tracks.some((n) => n.source === 'queue'))).toBe(true);
    expect(expected['b']!.filter((f) => f.t === 'error')).toEqual([]);
  }, 180_000);
});
