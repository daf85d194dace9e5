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
export interface DeviceLink {
  readonly id: number;
  readonly closed: boolean;
  send(frame: Uint8Array, coalesce?: 'state'): void;
  close(code: number, reason: string): void;
}

/** One listener's session: the actor plus its devices. Implemented by `Host` in session-hub.ts. */
export interface SessionHost {
  readonly userId: string;
  /** A device said hello on `link`; the host answers `welcome` (resumed or full). */
  connect(
    device: DeviceHello,
    link: DeviceLink,
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

export type CreateHost = (principal: Principal, restored: SessionSnapshot | undefined) => SessionHost;

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

interface Entry {
  host: SessionHost;
  links: Map<string, DeviceLink>;
  grace?: unknown;
}

export interface RegistryDeps {
  createHost: CreateHost;
  snapshots: SnapshotStore;
  graceMs: number;
  replacedCloseCode: number;
  log: Logger;
  timers?: Timers;
  /** Called whenever the number of live sessions changes. */
  onCount?: (sessions: number) => void;
}

export class SessionRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();
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

  /** The live host of a user, if any (tests, metrics). */
  host(userId: string): SessionHost | undefined {
    return this.entries.get(userId)?.host;
  }

  /**
   * Binds a device socket to the user's session, creating or restoring it. Rejects only when
   * the snapshot store is unavailable; the caller answers `unavailable`.
   */
  async attach(
    principal: Principal,
    device: DeviceHello,
    link: DeviceLink,
    helloId: number,
    resume?: ResumePoint,
  ): Promise<void> {
    if (this.shuttingDown) throw new Error('registry is shutting down');
    const entry = this.entries.get(principal.userId) ?? (await this.open(principal));
    if (link.closed) {
      // The socket died while the snapshot loaded: nothing to bind; the grace logic still holds.
      this.scheduleGraceIfIdle(principal.userId, entry);
      return;
    }
    if (entry.grace !== undefined) {
      this.timers.clearTimeout(entry.grace);
      entry.grace = undefined;
    }
    const old = entry.links.get(device.id);
    if (old && old !== link) {
      entry.links.delete(device.id);
      old.close(this.deps.replacedCloseCode, 'replaced');
    }
    entry.links.set(device.id, link);
    entry.host.connect(device, link, principal, helloId, resume);
  }

  /** A device socket closed. Only the socket currently bound to the device counts. */
  detach(userId: string, deviceId: string, link: DeviceLink): void {
    const entry = this.entries.get(userId);
    if (!entry || entry.links.get(deviceId) !== link) return;
    entry.links.delete(deviceId);
    entry.host.disconnect(deviceId);
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
    for (const link of entry.links.values()) link.close(code, reason);
    try {
      entry.host.stop();
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

  private open(principal: Principal): Promise<Entry> {
    const userId = principal.userId;
    const inFlight = this.pending.get(userId);
    if (inFlight) return inFlight;
    const p = (async () => {
      // The previous session's save still in flight: read after it, not the state before it.
      await this.saving.get(userId);
      const restored = await this.deps.snapshots.getSnapshot(userId);
      const host = this.deps.createHost(principal, restored);
      const entry: Entry = { host, links: new Map() };
      this.entries.set(userId, entry);
      this.deps.onCount?.(this.entries.size);
      this.deps.log.debug({ user: userId, restored: restored !== undefined }, 'session created');
      return entry;
    })().finally(() => this.pending.delete(userId));
    this.pending.set(userId, p);
    return p;
  }

  private scheduleGraceIfIdle(userId: string, entry: Entry): void {
    if (entry.links.size > 0 || entry.grace !== undefined) return;
    entry.grace = this.timers.setTimeout(() => {
      entry.grace = undefined;
      if (entry.links.size === 0 && this.entries.get(userId) === entry) void this.retire(userId);
    }, this.deps.graceMs);
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
        // Snapshot first (SessionHost.stop runs after it); the actor stops even if it throws.
        let snapshot: SessionSnapshot;
        try {
          snapshot = entry.host.snapshot();
        } finally {
          entry.host.stop();
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
