/**
 * Closes the server starts, end to end over real sockets: a device closed for a frame too
 * large (4002), for flooding (4005) or for a token that expired while connected (4400) leaves
 * its session at once, exactly as if it had hung up itself: the other devices see it
 * disconnected, and its play stops (the active device grace is 0 here, so it pauses at once)
 * instead of running on the server clock for audio nobody hears. And the welcome carries the
 * state at its version: that device is not sent the same version again as a `state`, while
 * the other devices still get it. No sleeps: every wait is an awaited frame with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES, type CloseName } from '../protocol/close-codes.ts';
import type { ClientFrame, ServerFrame, StateFrame, WelcomeFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { rawSocket, withTimeout, type RawSocket } from '../testkit/raw-socket.ts';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';

const RATE = 20;
/** The server's clock runs this far ahead of the wall clock (tokens expire by moving it). */
let skewMs = 0;
let app: App;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ app, stop } = await startTestApp(
    'server-closes-',
    {
      SESSION_GRACE_MS: '60000',
      // The default frame limit (16 KiB), so the oversized frame is what any client can send.
      ACTIVE_DEVICE_GRACE_MS: '0',
      RATE_LIMIT: `${RATE}/${RATE}`,
    },
    { pipeline: false, now: () => Date.now() + skewMs },
  ));
});

afterAll(() => stop?.());

const isState = (f: ServerFrame): f is StateFrame => f.t === 'state';

/** A raw device of `user` past its welcome (`ttlS`: its token's lifetime). */
async function device(
  user: string,
  deviceId: string,
  opts: { ttlS?: number; resume?: { version: number; epoch: string } } = {},
): Promise<RawSocket & { welcome: WelcomeFrame }> {
  const token = await app.server.auth.mint({ userId: user, plan: 'premium', country: 'SE' }, opts.ttlS);
  const s = rawSocket(app.server.wsUrl);
  await withTimeout(s.opened, 'open');
  s.send({
    t: 'hello',
    id: 1,
    token,
    device: { id: deviceId, name: deviceId, type: 'computer' },
    protocol: PROTOCOL_VERSION,
    ...(opts.resume ? { resume: opts.resume } : {}),
  } as ClientFrame);
  const welcome = (await s.frame((f) => f.t === 'welcome')) as WelcomeFrame;
  return Object.assign(s, { welcome });
}

/** Frames are in order: once the pong to this ping is in, everything sent before it is too. */
async function settled(s: RawSocket, id: number): Promise<void> {
  s.send({ t: 'ping', id });
  await s.frame((f) => f.t === 'pong' && f.id === id);
}

/** `player` plays on `user`'s session; `watcher` sees it playing. */
async function playing(user: string): Promise<{ player: RawSocket; watcher: RawSocket }> {
  const player = await device(user, 'player');
  const watcher = await device(user, 'watcher');
  player.send({ t: 'play', id: 2, uris: app.demo.trackUris.filter((u) => u !== app.demo.blockedInSeUri) });
  await player.frame((f) => f.t === 'ack' && f.id === 2);
  await watcher.frame((f) => isState(f) && f.state.is_playing && f.state.active_device_id === 'player');
  return { player, watcher };
}

/** After `player` was closed with `name`: gone from what the watcher sees, and not playing. */
async function goneAndStopped(user: string, player: RawSocket, watcher: RawSocket, name: CloseName) {
  expect((await withTimeout(player.closed, `the ${name} close`)).code).toBe(CLOSE_CODES[name].code);
  const after = (await watcher.frame(
    (f) =>
      isState(f) && f.state.devices.some((d) => d.id === 'player' && !d.connected) && !f.state.is_playing,
  )) as StateFrame;
  expect(after.state.devices.find((d) => d.id === 'watcher')?.connected).toBe(true);
  // The session counts only the device still there.
  expect(app.server.registry.liveSession(user)?.connectedDevices()).toBe(1);
  // Nothing moved after: no state claims the player is back or playing.
  await settled(watcher, 90);
  const last = watcher.frames.filter(isState).at(-1)!;
  expect(last.state.is_playing).toBe(false);
  expect(last.state.devices.find((d) => d.id === 'player')?.connected).toBe(false);
  watcher.ws.close();
}

describe('server closes', () => {
  it('server closes - a frame of 16 KiB + 1 byte closes with 4002 and the device leaves its session', async () => {
    const user = 'close-4002';
    const { player, watcher } = await playing(user);
    player.ws.send(new Uint8Array(16 * 1024 + 1));
    await goneAndStopped(user, player, watcher, 'frame_too_large');
  });

  it('server closes - a flood closes with 4005 and the device leaves its session', async () => {
    const user = 'close-4005';
    const { player, watcher } = await playing(user);
    // Far past the burst and the refusals tolerated after it.
    for (let i = 0; i < RATE * 5; i++) player.send({ t: 'volume', id: 100 + i, percent: 50 });
    await goneAndStopped(user, player, watcher, 'flood');
  });

  it('server closes - a token that expires while connected closes with 4400 and the device leaves its session', async () => {
    const user = 'close-4400';
    const player = await device(user, 'player', { ttlS: 2 });
    const watcher = await device(user, 'watcher');
    player.send({ t: 'play', id: 2, uris: app.demo.trackUris.filter((u) => u !== app.demo.blockedInSeUri) });
    await player.frame((f) => f.t === 'ack' && f.id === 2);
    await watcher.frame((f) => isState(f) && f.state.is_playing && f.state.active_device_id === 'player');
    // Past the player's token expiry (the watcher's lives a day).
    skewMs += 3_000;
    player.send({ t: 'volume', id: 3, percent: 40 });
    expect(await player.frame((f) => f.t === 'error' && f.id === 3)).toMatchObject({
      code: 'unauthorized',
      reason: 'token_expired',
    });
    await goneAndStopped(user, player, watcher, 'token_expired');
  });

  it('server closes - a welcome at version N is not followed by a state at N to that device; the others get it', async () => {
    const user = 'welcome-once';
    const a = await device(user, 'a');
    await settled(a, 50);
    expect(a.frames.filter(isState).map((f) => f.state.version)).not.toContain(a.welcome.state.version);

    // A second device: its hello changes the shared state (the device list).
    const b = await device(user, 'b');
    const n = b.welcome.state.version;
    await settled(b, 51);
    expect(b.frames.filter(isState).map((f) => f.state.version)).not.toContain(n);
    // The state broadcast is not lost for the device that did not say hello.
    await a.frame((f) => isState(f) && f.state.version === n);

    // b drops and comes back resuming: welcomed (resumed) at the new version, no state at it.
    const epoch = b.welcome.state.epoch;
    b.ws.close();
    await a.frame((f) => isState(f) && f.state.devices.some((d) => d.id === 'b' && !d.connected));
    const back = await device(user, 'b', { resume: { version: n, epoch } });
    expect(back.welcome.resumed).toBe(true);
    const m = back.welcome.state.version;
    await settled(back, 52);
    expect(back.frames.filter(isState).map((f) => f.state.version)).not.toContain(m);
    await a.frame((f) => isState(f) && f.state.version === m);
    // Each version reached each device once.
    await settled(a, 53);
    const seen = a.frames.filter(isState).map((f) => f.state.version);
    expect(new Set(seen).size).toBe(seen.length);
    a.ws.close();
    back.ws.close();
  });
});
