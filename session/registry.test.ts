/**
 * The session registry with its injected `Timers` (driven by hand: no sleeps) and the real
 * embedded snapshot adapter (LMDB in a temp dir, so puts and gets are the store's own async
 * behaviour). Hosts and device links are recording fakes: the registry only sees the
 * `LiveSession` / `DeviceConnection` ports.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { DeviceHello, ResumePoint } from '../protocol/messages.ts';
import { openEmbeddedStores } from '../testkit/test-stores.ts';
import type { Stores } from '../storage/stores.ts';
import type { SessionSnapshot, SnapshotStore } from '../storage/snapshots.ts';
import type { Principal } from './auth.ts';
import {
  DEFAULT_SAVE_DELAY_MS,
  SessionRegistry,
  type DeviceConnection,
  type LiveSession,
  type Timers,
} from './registry.ts';

const GRACE_MS = 30_000;

/** Timers fired by the test: `fire()` runs every timer still pending, as if the time passed. */
class ManualTimers implements Timers {
  private nextId = 1;
  readonly pending = new Map<number, { fn: () => void; ms: number }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { fn, ms });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  delays(): number[] {
    return [...this.pending.values()].map((t) => t.ms);
  }

  fire(): void {
    const due = [...this.pending.values()];
    this.pending.clear();
    for (const t of due) t.fn();
  }
}

/** A live session that records what the registry asks of it; its state stands in for the actor's. */
class FakeLiveSession implements LiveSession {
  readonly devices = new Map<string, DeviceConnection>();
  readonly calls: string[] = [];
  version: number;
  state: unknown;

  constructor(
    readonly userId: string,
    readonly restored: SessionSnapshot | undefined,
  ) {
    this.version = restored?.version ?? 0;
    this.state = restored?.state ?? { queue: [] };
  }

  connect(
    device: DeviceHello,
    conn: DeviceConnection,
    principal: Principal,
    helloId: number,
    resume?: ResumePoint,
  ): void {
    this.calls.push(`connect ${device.id} #${helloId}${resume ? ` from ${resume.version}` : ''}`);
    expect(principal.userId).toBe(this.userId);
    this.devices.set(device.id, conn);
  }

  disconnect(deviceId: string): void {
    this.calls.push(`disconnect ${deviceId}`);
    this.devices.delete(deviceId);
  }

  connectedDevices(): number {
    return this.devices.size;
  }

  connection(deviceId: string): DeviceConnection | undefined {
    return this.devices.get(deviceId);
  }

  allConnections(): Iterable<DeviceConnection> {
    return this.devices.values();
  }

  snapshot(): SessionSnapshot {
    this.calls.push('snapshot');
    if (this.state === 'unserialisable') throw new Error('actor snapshot failed');
    return { userId: this.userId, version: this.version, savedAt: 1_000 + this.version, state: this.state };
  }

  stop(): void {
    this.calls.push('stop');
  }

  get stopped(): boolean {
    return this.calls.includes('stop');
  }
}

let nextLinkId = 1;

class FakeLink implements DeviceConnection {
  readonly id = nextLinkId++;
  closed = false;
  readonly closes: { code: number; reason: string }[] = [];

  send(): void {}

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
    this.closed = true;
  }
}

/** Resolves when the test says so: holds a store write in flight. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

/** The real snapshot adapter, counting calls; `holdPuts(user)` keeps that user's puts in flight. */
class CountingSnapshots implements SnapshotStore {
  gets = 0;
  puts = 0;
  failGets = false;
  /** Settles when each put has reached the store (in call order). */
  readonly written: Promise<void>[] = [];
  private readonly held = new Map<string, ReturnType<typeof gate>>();

  constructor(private readonly inner: SnapshotStore) {}

  claimFence(userId: string, fence: number): Promise<void> {
    return this.inner.claimFence(userId, fence);
  }

  async getSnapshot(userId: string): Promise<SessionSnapshot | undefined> {
    this.gets++;
    if (this.failGets) throw new Error('store unavailable');
    return this.inner.getSnapshot(userId);
  }

  putSnapshot(snapshot: SessionSnapshot): Promise<void> {
    this.puts++;
    const held = this.held.get(snapshot.userId)?.wait;
    const written = (async () => {
      await held;
      await this.inner.putSnapshot(snapshot);
    })();
    this.written.push(written);
    return written;
  }

  deleteSnapshot(userId: string): Promise<void> {
    return this.inner.deleteSnapshot(userId);
  }

  holdPuts(userId: string): () => void {
    const g = gate();
    this.held.set(userId, g);
    return g.open;
  }
}

let stores: Stores;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registry-'));
  stores = await openEmbeddedStores(join(dir, 'store'));
});

afterAll(async () => {
  await stores?.close();
  rmSync(dir, { recursive: true, force: true });
});

let userSeq = 0;

function setup() {
  const user: Principal = { userId: `reg-u${++userSeq}`, plan: 'premium', country: 'SE', exp: 2e9 };
  const timers = new ManualTimers();
  const snapshots = new CountingSnapshots(stores.snapshots);
  const liveSessions: FakeLiveSession[] = [];
  const counts: number[] = [];
  const registry = new SessionRegistry({
    createLiveSession: (p, restored) => {
      const h = new FakeLiveSession(p.userId, restored);
      liveSessions.push(h);
      return h;
    },
    snapshots,
    sessionGraceMs: GRACE_MS,
    replacedCloseCode: CLOSE_CODES.replaced.code,
    log: pino({ level: 'silent' }),
    timers,
    onCount: (n) => counts.push(n),
  });
  let helloId = 0;
  /** A hello of `deviceId` on `link`; resolves with the link once the registry bound it. */
  const attach = async (deviceId: string, conn = new FakeLink(), principal = user, resume?: ResumePoint) => {
    const device: DeviceHello = { id: deviceId, name: `Device ${deviceId}`, type: 'computer' };
    await registry.attach(principal, device, conn, ++helloId, resume);
    return conn;
  };
  const detach = (deviceId: string, conn: DeviceConnection, userId = user.userId) =>
    registry.detach(userId, deviceId, conn);
  /** The grace save is awaited by no one: wait for the store write it started, then read it back. */
  const saved = async (userId = user.userId) => {
    await snapshots.written.at(-1);
    return stores.snapshots.getSnapshot(userId);
  };
  return { user, timers, snapshots, liveSessions, counts, registry, attach, detach, saved };
}

describe('session registry', () => {
  let t: ReturnType<typeof setup>;
  beforeEach(() => {
    t = setup();
  });

  it('registry - the first hello creates a session and binds the device to it', async () => {
    const conn = await t.attach('d1', new FakeLink(), t.user, { version: 4, epoch: 'e1' });

    expect(t.liveSessions).toHaveLength(1);
    const live = t.liveSessions[0]!;
    expect(live.restored).toBeUndefined();
    expect(live.calls).toEqual(['connect d1 #1 from 4']);
    expect(live.devices.get('d1')).toBe(conn);
    expect(t.registry.liveSession(t.user.userId)).toBe(live);
    expect(t.registry.size).toBe(1);
    expect(t.counts).toEqual([1]);
    expect(t.snapshots.gets).toBe(1);
    expect(t.timers.pending.size).toBe(0);

    // A second device of the same user joins the live session: no second creation, no store read.
    await t.attach('d2');
    expect(t.liveSessions).toHaveLength(1);
    expect(t.snapshots.gets).toBe(1);
    expect(live.connectedDevices()).toBe(2);
  });

  it('registry - concurrent first hellos of one user share one creation', async () => {
    const connections = await Promise.all(['c0', 'c1', 'c2'].map((id) => t.attach(id)));

    expect(t.liveSessions).toHaveLength(1);
    expect(t.snapshots.gets).toBe(1);
    expect(t.registry.size).toBe(1);
    expect(t.counts).toEqual([1]);
    const live = t.liveSessions[0]!;
    expect([...live.devices.keys()].sort()).toEqual(['c0', 'c1', 'c2']);
    connections.forEach((l, i) => expect(live.devices.get(`c${i}`)).toBe(l));
  });

  it('registry - the last device leaving saves nothing until the grace timer fires; then the snapshot is saved and the live session stopped', async () => {
    const a = await t.attach('a');
    const b = await t.attach('b');
    const live = t.liveSessions[0]!;
    live.version = 7;
    live.state = { queue: ['t1', 't2'], position_ms: 4_200 };

    t.detach('a', a);
    expect(live.calls).toContain('disconnect a');
    expect(t.timers.pending.size).toBe(0); // b is still connected

    t.detach('b', b);
    expect(t.timers.delays()).toEqual([GRACE_MS]);
    expect(t.snapshots.puts).toBe(0);
    expect(live.stopped).toBe(false);
    expect(t.registry.liveSession(t.user.userId)).toBe(live);

    t.timers.fire();
    expect(await t.saved()).toEqual({
      userId: t.user.userId,
      version: 7,
      savedAt: 1_007,
      state: { queue: ['t1', 't2'], position_ms: 4_200 },
    });
    expect(t.snapshots.puts).toBe(1);
    expect(live.stopped).toBe(true);
    // The snapshot is taken before the actor stops (LiveSession.stop's contract).
    expect(live.calls.slice(-2)).toEqual(['snapshot', 'stop']);
    expect(t.registry.liveSession(t.user.userId)).toBeUndefined();
    expect(t.registry.size).toBe(0);
    expect(t.counts).toEqual([1, 0]);
  });

  it('registry - a device reconnecting within the grace cancels the timer: no save, same live session', async () => {
    const first = await t.attach('d1');
    const live = t.liveSessions[0]!;
    t.detach('d1', first);
    expect(t.timers.pending.size).toBe(1);

    const again = await t.attach('d1');
    expect(t.timers.pending.size).toBe(0);
    t.timers.fire(); // the grace period passes: nothing is due any more

    expect(t.liveSessions).toHaveLength(1);
    expect(t.registry.liveSession(t.user.userId)).toBe(live);
    expect(live.devices.get('d1')).toBe(again);
    expect(live.stopped).toBe(false);
    expect(live.calls).not.toContain('snapshot');
    expect(t.snapshots.puts).toBe(0);
    expect(t.snapshots.gets).toBe(1);
    expect(t.counts).toEqual([1]);

    // The grace starts over from the next time the session is idle.
    t.detach('d1', again);
    expect(t.timers.delays()).toEqual([GRACE_MS]);
  });

  it('registry - after expiry the next hello restores the session from the saved snapshot', async () => {
    const conn = await t.attach('d1');
    const first = t.liveSessions[0]!;
    first.version = 12;
    first.state = { queue: ['t9'], shuffle: true };
    t.detach('d1', conn);
    t.timers.fire();
    expect((await t.saved())?.version).toBe(12);

    await t.attach('d1');
    expect(t.liveSessions).toHaveLength(2);
    const second = t.liveSessions[1]!;
    expect(second).not.toBe(first);
    expect(second.restored).toEqual({
      userId: t.user.userId,
      version: 12,
      savedAt: 1_012,
      state: { queue: ['t9'], shuffle: true },
    });
    expect(t.registry.liveSession(t.user.userId)).toBe(second);
    expect(t.counts).toEqual([1, 0, 1]);
  });

  it('registry - a hello arriving while the expired session is still being saved restores from that save', async () => {
    const conn = await t.attach('d1');
    const first = t.liveSessions[0]!;
    first.version = 5;
    first.state = { queue: ['late'] };
    t.detach('d1', conn);
    const release = t.snapshots.holdPuts(t.user.userId);
    t.timers.fire();
    expect(first.stopped).toBe(true);
    expect(t.snapshots.puts).toBe(1);

    let attached = false;
    const reattach = t.attach('d1').then(() => (attached = true));
    await new Promise((r) => setImmediate(r)); // let the hello run as far as it can
    // While the save is in flight the new session must not read the store (it would get the old state).
    expect(attached).toBe(false);
    expect(t.snapshots.gets).toBe(1);
    expect(t.liveSessions).toHaveLength(1);

    release();
    await reattach;
    expect(t.liveSessions).toHaveLength(2);
    expect(t.liveSessions[1]!.restored).toMatchObject({ version: 5, state: { queue: ['late'] } });
  });

  it('registry - a second socket for a connected device id replaces the old one (closed with replaced)', async () => {
    const old = await t.attach('d1');
    const other = await t.attach('d2');
    const live = t.liveSessions[0]!;

    const fresh = await t.attach('d1');
    expect(old.closes).toEqual([{ code: CLOSE_CODES.replaced.code, reason: 'replaced' }]);
    expect(fresh.closes).toEqual([]);
    expect(other.closes).toEqual([]);
    expect(live.devices.get('d1')).toBe(fresh);
    expect(t.liveSessions).toHaveLength(1);

    // The transport reports the old socket's close: it no longer counts for the device.
    t.detach('d1', old);
    expect(live.calls.filter((c) => c.startsWith('disconnect'))).toEqual([]);
    expect(live.devices.get('d1')).toBe(fresh);

    // The same socket saying hello again is not a replacement.
    await t.attach('d2', other);
    expect(other.closes).toEqual([]);

    t.detach('d1', fresh);
    t.detach('d2', other);
    expect(t.timers.delays()).toEqual([GRACE_MS]);
  });

  it('registry - a socket that closed while the session loaded binds nothing; the grace still starts', async () => {
    const conn = new FakeLink();
    const attaching = t.attach('d1', conn);
    conn.close(1006, 'gone');
    t.detach('d1', conn); // the transport reported it before the session existed: nothing to unbind
    await attaching;

    expect(t.liveSessions).toHaveLength(1);
    expect(t.liveSessions[0]!.devices.size).toBe(0);
    expect(t.liveSessions[0]!.calls).toEqual([]);
    expect(t.timers.delays()).toEqual([GRACE_MS]);
    t.timers.fire();
    expect((await t.saved())?.version).toBe(0);
    expect(t.liveSessions[0]!.stopped).toBe(true);
  });

  it('registry - a snapshot that cannot be taken still stops the actor and frees the session', async () => {
    const conn = await t.attach('d1');
    const live = t.liveSessions[0]!;
    live.state = 'unserialisable';
    t.detach('d1', conn);
    t.timers.fire();

    expect(live.stopped).toBe(true);
    expect(t.snapshots.puts).toBe(0);
    expect(t.registry.liveSession(t.user.userId)).toBeUndefined();
    await t.attach('d1');
    expect(t.liveSessions).toHaveLength(2);
    expect(t.liveSessions[1]!.restored).toBeUndefined();
  });

  it('registry - an unavailable store rejects the hello and creates nothing; the next hello retries', async () => {
    t.snapshots.failGets = true;
    await expect(t.attach('d1')).rejects.toThrow('store unavailable');
    expect(t.liveSessions).toHaveLength(0);
    expect(t.registry.size).toBe(0);

    t.snapshots.failGets = false;
    await t.attach('d1');
    expect(t.liveSessions).toHaveLength(1);
    expect(t.snapshots.gets).toBe(2);
  });

  it('registry - shutdown saves every live session, waits for saves already in flight, and refuses new hellos', async () => {
    const idle = await t.attach('d1');
    const expiring = t.liveSessions[0]!;
    expiring.version = 3;
    t.detach('d1', idle);
    const release = t.snapshots.holdPuts(t.user.userId);
    t.timers.fire(); // its save is now in flight, held by the store
    expect(t.snapshots.puts).toBe(1);

    const live: Principal = { ...t.user, userId: `${t.user.userId}-live` };
    await t.attach('x1', new FakeLink(), live);
    const liveHost = t.liveSessions[1]!;
    liveHost.version = 9;

    let done = false;
    const shutdown = t.registry.shutdown().then(() => (done = true));
    await expect.poll(() => t.snapshots.puts, { timeout: 1_000, interval: 1 }).toBe(2);
    await t.snapshots.written[1]; // the live session's save reached the store
    await new Promise((r) => setImmediate(r)); // let everything waiting on it run
    expect(done).toBe(false); // the expiring session's save is still in flight
    release();
    await shutdown;

    expect(liveHost.stopped).toBe(true);
    expect((await stores.snapshots.getSnapshot(live.userId))?.version).toBe(9);
    expect((await stores.snapshots.getSnapshot(t.user.userId))?.version).toBe(3);
    expect(t.registry.size).toBe(0);
    await expect(t.attach('d1')).rejects.toThrow('shutting down');
  });

  it('registry - a change saves the live session soon: one save for a burst, the session lives on', async () => {
    await t.attach('d1');
    const live = t.liveSessions[0]!;
    live.version = 3;
    live.state = { queue: ['t1'], position_ms: 12_000 };
    t.registry.changed(t.user.userId);
    t.registry.changed(t.user.userId);
    t.registry.changed('someone-else'); // no live session: nothing
    expect(t.timers.delays()).toEqual([DEFAULT_SAVE_DELAY_MS]);
    expect(t.snapshots.puts).toBe(0);

    t.timers.fire();
    expect(await t.saved()).toMatchObject({ version: 3, state: { queue: ['t1'], position_ms: 12_000 } });
    expect(t.snapshots.puts).toBe(1);
    expect(live.stopped).toBe(false);
    expect(t.registry.liveSession(t.user.userId)).toBe(live);
    expect(t.timers.pending.size).toBe(0);
  });

  it('registry - a change while a live save is writing gets one more save after it', async () => {
    await t.attach('d1');
    const live = t.liveSessions[0]!;
    live.version = 1;
    const release = t.snapshots.holdPuts(t.user.userId);
    t.registry.changed(t.user.userId);
    t.timers.fire();
    expect(t.snapshots.puts).toBe(1);
    live.version = 2;
    t.registry.changed(t.user.userId);
    expect(t.timers.pending.size).toBe(0); // one save at a time
    release();
    await expect.poll(() => t.timers.pending.size, { timeout: 1_000, interval: 1 }).toBe(1);
    t.timers.fire();
    expect((await t.saved())?.version).toBe(2);
    expect(t.snapshots.puts).toBe(2);
  });

  it('registry - a process killed with no shutdown and no grace comes back with the last live save', async () => {
    await t.attach('d1');
    const live = t.liveSessions[0]!;
    live.version = 6;
    live.state = { current: { playId: 'u:e:1' }, positionMs: 21_000 };
    t.registry.changed(t.user.userId);
    t.timers.fire();
    await t.saved();

    // A new process on the same store: nothing was retired, the live save is what it finds.
    const restarted: FakeLiveSession[] = [];
    const registry = new SessionRegistry({
      createLiveSession: (p, restored) => {
        const h = new FakeLiveSession(p.userId, restored);
        restarted.push(h);
        return h;
      },
      snapshots: stores.snapshots,
      sessionGraceMs: GRACE_MS,
      replacedCloseCode: CLOSE_CODES.replaced.code,
      log: pino({ level: 'silent' }),
      timers: new ManualTimers(),
    });
    await registry.attach(t.user, { id: 'd1', name: 'Device d1', type: 'computer' }, new FakeLink(), 1);
    expect(restarted[0]!.restored).toMatchObject({
      version: 6,
      state: { current: { playId: 'u:e:1' }, positionMs: 21_000 },
    });
  });

  it('registry - retiring while a live save writes saves the final state after it', async () => {
    const conn = await t.attach('d1');
    const live = t.liveSessions[0]!;
    live.version = 2;
    const release = t.snapshots.holdPuts(t.user.userId);
    t.registry.changed(t.user.userId);
    t.timers.fire(); // the live save (version 2) is in flight
    live.version = 5;
    t.detach('d1', conn);
    t.registry.changed(t.user.userId); // a change as the last device leaves: the retire saves it
    expect(t.timers.delays()).toEqual([GRACE_MS]);
    t.timers.fire();
    expect(live.stopped).toBe(false); // the retire waits for the live save first
    release();
    await expect.poll(() => t.snapshots.puts, { timeout: 1_000, interval: 1 }).toBe(2);
    await t.snapshots.written[1];
    expect(live.stopped).toBe(true);
    expect((await stores.snapshots.getSnapshot(t.user.userId))?.version).toBe(5);
  });
});
