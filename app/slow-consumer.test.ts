/**
 * Slow consumers end to end, over real sockets: the whole app on a free port with small
 * outbound limits. A device that stops reading (its socket paused, so the kernel buffers and
 * then the server's queue fill up) is cut with the slow-consumer close code while the other
 * devices and the process go on; a reader that is slow but under the limit gets only the
 * newest `state` (coalesced), never an older one after a newer one. No sleeps: every wait is
 * an awaited event with a timeout.
 */
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { ClientFrame, ServerFrame, SessionState, StateFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { startTestApp } from '../testkit/test-app.ts';
import type { App } from './start-app.ts';

const MAX_FRAME_BYTES = 4096;
const MAX_BACKPRESSURE_BYTES = 16_384;
/** Bytes buffered in uWS past which the server queues (and coalesces) instead of writing. */
const LOW_WATER = Math.max(MAX_FRAME_BYTES, MAX_BACKPRESSURE_BYTES >> 2);
/** Commands the driving device sends before awaiting their acks. */
const BATCH = 25;
/** Bound on the flood: far more than loopback kernel buffers can absorb. */
const MAX_FLOOD = 20_000;

let app: App;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ app, stop } = await startTestApp('slow-consumer-', {
    RATE_LIMIT: '1000000/1000000',
    SESSION_GRACE_MS: '60000',
    MAX_FRAME_BYTES: String(MAX_FRAME_BYTES),
    MAX_BACKPRESSURE_BYTES: String(MAX_BACKPRESSURE_BYTES),
  }));
});

afterAll(() => stop?.());

function withTimeout<T>(p: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

type Command = ClientFrame extends infer F ? (F extends { id: number } ? Omit<F, 'id'> : never) : never;

/**
 * A device on a raw `ws` socket: every server frame in arrival order (the SDK would drop
 * older states, which is what the coalescing test must see), requests answered by id, and
 * `stall()` / `unstall()` to stop and restart reading from the TCP socket.
 */
async function rawDevice(userId: string, deviceId: string, name = `Device ${deviceId}`) {
  const ws = new WebSocket(app.server.wsUrl);
  const frames: ServerFrame[] = [];
  const answers = new Map<number, (f: ServerFrame) => void>();
  const watchers = new Set<() => void>();
  let nextId = 1;
  ws.on('message', (data: Buffer) => {
    const r = decodeServerFrame(new Uint8Array(data));
    if (!r.ok) throw new Error(`undecodable server frame: ${r.error.message}`);
    frames.push(r.frame);
    const id = 'id' in r.frame ? r.frame.id : undefined;
    if (id !== undefined && r.frame.t !== 'state') answers.get(id)?.(r.frame);
    for (const w of watchers) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    'the socket to open',
  );

  /** Sends a command without waiting; returns the promise of its answer (ack, pong or error). */
  const send = (cmd: Command): Promise<ServerFrame> => {
    const id = nextId++;
    const answered = new Promise<ServerFrame>((resolve) => answers.set(id, resolve));
    ws.send(encodeFrame({ ...cmd, id } as ClientFrame));
    return withTimeout(answered, `the answer to ${cmd.t} #${id}`).finally(() => answers.delete(id));
  };
  const ok = async (cmd: Command): Promise<void> => {
    const answer = await send(cmd);
    if (answer.t === 'error') throw new Error(`${cmd.t} refused: ${answer.code}/${answer.reason}`);
  };
  const waitFor = (what: string, pred: (f: ServerFrame) => boolean): Promise<ServerFrame> =>
    withTimeout(
      new Promise<ServerFrame>((resolve) => {
        const check = () => {
          const f = frames.find(pred);
          if (!f) return;
          watchers.delete(check);
          resolve(f);
        };
        watchers.add(check);
        check();
      }),
      what,
    );

  const token = await app.server.auth.mint({ userId, plan: 'premium', country: 'SE' });
  const welcome = await send({
    t: 'hello',
    token,
    device: { id: deviceId, name, type: 'computer' },
    protocol: PROTOCOL_VERSION,
  });
  expect(welcome.t).toBe('welcome');

  const socket = (ws as unknown as { _socket: Socket })._socket;
  return {
    ws,
    frames,
    closed,
    send,
    ok,
    waitFor,
    /** The states of `state` frames, in arrival order. */
    states: (): SessionState[] => frames.flatMap((f) => (f.t === 'state' ? [f.state] : [])),
    /** Stops reading: what the server sends piles up in the kernel, then in the server. */
    stall: () => socket.pause(),
    unstall: () => socket.resume(),
  };
}

type RawDevice = Awaited<ReturnType<typeof rawDevice>>;

/**
 * Sends `command(i)` from `driver` in pipelined batches, each awaited to its last ack, until
 * `done(sent)` holds. Returns how many commands were sent.
 */
async function floodUntil(
  driver: RawDevice,
  command: (i: number) => Command,
  done: (sent: number) => boolean,
): Promise<number> {
  let sent = 0;
  while (!done(sent)) {
    if (sent >= MAX_FLOOD) throw new Error(`still not done after ${sent} commands`);
    const batch: Promise<void>[] = [];
    for (let k = 0; k < BATCH; k++) batch.push(driver.ok(command(sent++)));
    await Promise.all(batch);
  }
  return sent;
}

/**
 * Bytes the server holds for a device's socket (uWS's buffer plus its own queue), read off the
 * live session. Only the coalescing test's flood uses it, to know when the server has started
 * queueing: what the device receives is asserted on the wire.
 */
function serverBuffered(userId: string, deviceId: string): number {
  const live = app.server.registry.liveSession(userId) as unknown as {
    connections?: Map<string, { bufferedBytes?: () => number }>;
  };
  const conn = live?.connections?.get(deviceId);
  if (typeof conn?.bufferedBytes !== 'function')
    throw new Error(`no server-side socket for ${userId}/${deviceId} (LocalLiveSession.connections moved?)`);
  return conn.bufferedBytes();
}

/** A state frame that lists `deviceId` as no longer connected. */
const isDisconnected =
  (deviceId: string) =>
  (f: ServerFrame): f is StateFrame =>
    f.t === 'state' && f.state.devices.some((d) => d.id === deviceId && !d.connected);

describe('slow consumers', () => {
  it('slow consumer - a device that stops reading is closed with slow_consumer; the others and the process go on', async () => {
    expect(CLOSE_CODES.slow_consumer.code).toBe(4001);
    const user = 'slow-1';
    // The stalled device plays (it is the active device), so every skip sends it playback and
    // prefetch frames, which are never coalesced: its queue grows until the limit.
    const stalled = await rawDevice(user, 'stalled');
    await stalled.ok({ t: 'repeat', mode: 'context' });
    const playable = app.demo.trackUris.filter((u) => u !== app.demo.blockedInSeUri);
    await stalled.ok({ t: 'play', uris: playable });
    await stalled.waitFor('the playback of the play', (f) => f.t === 'playback');
    const driver = await rawDevice(user, 'driver');
    stalled.stall();

    // The server letting go of it shows in the session: the driver sees it disconnected.
    const dropped = isDisconnected('stalled');
    const sent = await floodUntil(
      driver,
      () => ({ t: 'next' }),
      () => driver.frames.some(dropped),
    );
    expect(sent).toBeGreaterThan(BATCH);

    // Reading again, the device gets what was buffered, then the server's close frame.
    stalled.unstall();
    const close = await withTimeout(stalled.closed, 'the close of the stalled socket');
    expect(close).toEqual({ code: CLOSE_CODES.slow_consumer.code, reason: CLOSE_CODES.slow_consumer.reason });
    // Nothing reached it after the server let go of it: every state it got still lists it as
    // connected, and is older than the one that dropped it.
    const cutAt = driver.frames.find(dropped)!;
    const got = stalled.states();
    expect(got.length).toBeGreaterThan(BATCH);
    for (const st of got) expect(st.devices.find((d) => d.id === 'stalled')?.connected).toBe(true);
    expect(Math.max(...got.map((st) => st.version))).toBeLessThan(cutAt.state.version);
    expect(stalled.frames.filter((f) => f.t === 'playback').length).toBeLessThan(sent);

    // The other device's session goes on: commands are acked, the server answers pings.
    await driver.ok({ t: 'volume', percent: 42 });
    expect((await driver.send({ t: 'ping' })).t).toBe('pong');
    const state = await driver.waitFor(
      'the volume change',
      (f) => f.t === 'state' && f.state.devices.some((d) => d.id === 'driver' && d.volume_percent === 42),
    );
    expect(state.t === 'state' && state.state.devices.find((d) => d.id === 'stalled')?.connected).toBe(false);
    expect(app.server.registry.liveSession(user)?.connectedDevices()).toBe(1);
    expect(driver.ws.readyState).toBe(WebSocket.OPEN);

    // The process is alive and serving: health, and a new device can say hello.
    const health = await fetch(`${app.server.httpUrl}/healthz`);
    expect(health.status).toBe(200);
    const newcomer = await rawDevice(user, 'newcomer');
    await newcomer.ok({ t: 'volume', percent: 10 });

    driver.ws.close();
    newcomer.ws.close();
  });

  it('slow consumer - a reader slow but under the limit gets the newest state last, never an older one after it', async () => {
    const user = 'slow-2';
    // Long names make every state frame large, so the kernel buffers fill in fewer commands.
    const longName = (c: string) => c.repeat(250);
    const slow = await rawDevice(user, 'slow', longName('s'));
    const driver = await rawDevice(user, 'driver', longName('d'));
    await driver.ok({ t: 'play', context: app.demo.playlistUri });
    await slow.waitFor('the state of the play', (f) => f.t === 'state' && f.state.play_id !== null);
    slow.stall();

    // Only `state` reaches the slow reader (it is not the active device and sends nothing), so
    // once the server queues for it, each new state replaces the queued one.
    const volume = (i: number): Command => ({ t: 'volume', percent: i % 2 === 0 ? 30 : 70 });
    const toQueueing = await floodUntil(driver, volume, () => serverBuffered(user, 'slow') >= LOW_WATER);
    // From here on every state for the slow reader waits in the server's queue.
    const TAIL = 2 * BATCH;
    await floodUntil(
      driver,
      (i) => volume(toQueueing + i),
      (sent) => sent >= TAIL,
    );
    expect(serverBuffered(user, 'slow')).toBeLessThanOrEqual(MAX_BACKPRESSURE_BYTES);

    const newest = driver.states().at(-1)!.version;
    slow.unstall();
    await slow.waitFor(`state version ${newest}`, (f) => f.t === 'state' && f.state.version === newest);
    expect(slow.ws.readyState).toBe(WebSocket.OPEN);
    expect((await slow.send({ t: 'ping' })).t).toBe('pong');

    const versions = slow.frames.flatMap((f) => (f.t === 'state' ? [f.state.version] : []));
    // In order, each newer than the one before it, and the newest last.
    for (let i = 1; i < versions.length; i++) expect(versions[i]).toBeGreaterThan(versions[i - 1]!);
    expect(versions.at(-1)).toBe(newest);
    // The states queued while the server held back were coalesced: the last flood's versions
    // but the newest never reached the slow reader.
    const driverVersions = driver.states().map((s) => s.version);
    const tail = driverVersions.slice(-TAIL);
    const seen = new Set(versions);
    expect(tail.filter((v) => !seen.has(v)).length).toBeGreaterThanOrEqual(TAIL - 2);
    expect(versions.length).toBeLessThan(driverVersions.length);

    slow.ws.close();
    driver.ws.close();
  });
});
