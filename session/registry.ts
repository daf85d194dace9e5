/**
 * Session registry: user -> live session (one actor per listener), device -> socket.
 *
 * - A session is created on the first hello of a user, restored from its snapshot when one
 *   exists; concurrent first hellos share one creation (no second actor).
 * - It lives while any device is connected and `graceMs` after the last one leaves; then its
 *   snapshot is saved through the SnapshotStore and the actor stops.
 * - A second socket saying hello with a device id already connected replaces the old socket
 *   (closed with `replaced`).
 * Timers come from an injected `Timers` so tests drive the grace period without sleeping.
 */
import type { Logger } from 'pino';
import type { SessionSnapshot, SnapshotStore } from '../storage/snapshots.ts';
import type { DeviceHello, ResumePoint } from '../protocol/messages.ts';
import type { Principal } from './auth.ts';

/** A socket as the session layer sends to it. */
export interface DeviceConnection {
  readonly id: number;
  readonly closed: boolean;
  send(frame: Uint8Array, coalesce?: 'state'): void;
  close(code: number, reason: string): void;
}

/** One listener's session: the actor plus its devices. Implemented by `Host` in session-router.ts. */
export interface LiveSession {
  readonly userId: string;
  /** A device said hello on `conn`; the live session answers `welcome` (resumed or full). */
  connect(
    device: DeviceHello,
    conn: DeviceConnection,
    principal: Principal,
    helloId: number,
    resume?: ResumePoint,
  ): void;
  /** The device's socket is gone. */
  disconnect(deviceId: string): void;
  /** Number of devices connected now. */
  connectedDevices(): number;
  /** Serialisable state for the snapshot store. */
  snapshot(): SessionSnapshot;
  /** Stops the actor (after snapshot): ends the current play with `logout`. */
  stop(): void;
}

export type CreateLiveSession = (principal: Principal, restored: SessionSnapshot | undefined) => LiveSession;

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface LiveSessionEntry {
  session: LiveSession;
  connections: Map<string, DeviceConnection>;
  grace?: unknown;
}

export interface RegistryDeps {
  createLiveSession: CreateLiveSession;
  snapshots: SnapshotStore;
  sessionGraceMs: number;
  replacedCloseCode: number;
  log: Logger;
  timers?: Timers;
  /** Called whenever the number of live sessions changes. */
  onCount?: (sessions: number) => void;
}

export class SessionRegistry {
  private readonly entries = new Map<string, LiveSessionEntry>();
  private readonly pending = new Map<string, Promise<LiveSessionEntry>>();
  /** Snapshot saves of retired sessions still in flight, by user. */
  private readonly saving = new Map<string, Promise<void>>();
  private readonly timers: Timers;
  private shuttingDown = false;

  constructor(private readonly deps: RegistryDeps) {
    this.timers = deps.timers ?? realTimers;
  }

  /** Shutdown has begun: hellos are refused from now on. */
  get closing(): boolean {
    return this.shuttingDown;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The live session of a user, if any (tests, metrics). */
  liveSession(userId: string): LiveSession | undefined {
    return this.entries.get(userId)?.session;
  }

  /**
   * Binds a device socket to the user's session, creating or restoring it. Rejects only when
   * the snapshot store is unavailable; the caller answers `unavailable`.
   */
  async attach(
    principal: Principal,
    device: DeviceHello,
    conn: DeviceConnection,
    helloId: number,
    resume?: ResumePoint,
  ): Promise<void> {
    if (this.shuttingDown) throw new Error('registry is shutting down');
    const entry = this.entries.get(principal.userId) ?? (await this.open(principal));
    if (conn.closed) {
      // The socket died while the snapshot loaded: nothing to bind; the grace logic still holds.
      this.scheduleGraceIfIdle(principal.userId, entry);
      return;
    }
    if (entry.grace !== undefined) {
      this.timers.clearTimeout(entry.grace);
      entry.grace = undefined;
    }
    const old = entry.connections.get(device.id);
    if (old && old !== conn) {
      entry.connections.delete(device.id);
      old.close(this.deps.replacedCloseCode, 'replaced');
    }
    entry.connections.set(device.id, conn);
    entry.session.connect(device, conn, principal, helloId, resume);
  }

  /** A device socket closed. Only the socket currently bound to the device counts. */
  detach(userId: string, deviceId: string, conn: DeviceConnection): void {
    const entry = this.entries.get(userId);
    if (!entry || entry.connections.get(deviceId) !== conn) return;
    entry.connections.delete(deviceId);
    entry.session.disconnect(deviceId);
    this.scheduleGraceIfIdle(userId, entry);
  }

  /**
   * Drops a session whose actor failed, at once and without saving it (the state that failed
   * must not become the snapshot; the last saved one stays): its sockets close with `code`
   * so the devices reconnect, and the next hello starts from the store.
   */
  evict(userId: string, code: number, reason: string): void {
    const entry = this.entries.get(userId);
    if (!entry) return;
    if (entry.grace !== undefined) this.timers.clearTimeout(entry.grace);
    this.entries.delete(userId);
    this.deps.onCount?.(this.entries.size);
    for (const conn of entry.connections.values()) conn.close(code, reason);
    try {
      entry.session.stop();
    } catch (err) {
      this.deps.log.error({ err, user: userId }, 'stopping a failed session threw');
    }
  }

  /** Saves every live session's snapshot and stops its actor (graceful shutdown). */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.allSettled([...this.pending.values()]);
    const all = [...this.entries.keys()];
    await Promise.all(all.map((u) => this.retire(u)));
    // Saves started by grace timers before shutdown, so the caller can close the store after.
    await Promise.all([...this.saving.values()]);
  }

  private open(principal: Principal): Promise<LiveSessionEntry> {
    const userId = principal.userId;
    const inFlight = this.pending.get(userId);
    if (inFlight) return inFlight;
    const p = (async () => {
      // The previous session's save still in flight: read after it, not the state before it.
      await this.saving.get(userId);
      const restored = await this.deps.snapshots.getSnapshot(userId);
      const session = this.deps.createLiveSession(principal, restored);
      const entry: LiveSessionEntry = { session, connections: new Map() };
      this.entries.set(userId, entry);
      this.deps.onCount?.(this.entries.size);
      this.deps.log.debug({ user: userId, restored: restored !== undefined }, 'session created');
      return entry;
    })().finally(() => this.pending.delete(userId));
    this.pending.set(userId, p);
    return p;
  }

  private scheduleGraceIfIdle(userId: string, entry: LiveSessionEntry): void {
    if (entry.connections.size > 0 || entry.grace !== undefined) return;
    entry.grace = this.timers.setTimeout(() => {
      entry.grace = undefined;
      if (entry.connections.size === 0 && this.entries.get(userId) === entry) void this.retire(userId);
    }, this.deps.sessionGraceMs);
  }

  /** Saves the snapshot, then stops the actor and forgets the session. */
  private async retire(userId: string): Promise<void> {
    const entry = this.entries.get(userId);
    if (!entry) return;
    if (entry.grace !== undefined) this.timers.clearTimeout(entry.grace);
    this.entries.delete(userId);
    this.deps.onCount?.(this.entries.size);
    const saved = (async () => {
      try {
        // Snapshot first (LiveSession.stop runs after it); the actor stops even if it throws.
        let snapshot: SessionSnapshot;
        try {
          snapshot = entry.session.snapshot();
        } finally {
          entry.session.stop();
        }
        await this.deps.snapshots.putSnapshot(snapshot);
      } catch (err) {
        this.deps.log.error({ err, user: userId }, 'saving session snapshot failed');
      }
    })();
    this.saving.set(userId, saved);
    await saved;
    if (this.saving.get(userId) === saved) this.saving.delete(userId);
  }
}
