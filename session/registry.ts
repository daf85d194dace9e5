/**
 * Session registry: user -> live session (one actor per listener), device -> socket.
 *
 * - A session is created on the first hello of a user, restored from its snapshot when one
 *   exists; concurrent first hellos share one creation (no second actor).
 * - It lives while any device is connected and `graceMs` after the last one leaves; then its
 *   snapshot is saved through the SnapshotStore and the actor stops.
 * - While it lives, every change that matters (`changed`: a play started, moved, paused or
 *   seeked, the royalty threshold, a device's progress report) saves its snapshot too, at
 *   most once per `saveDelayMs` and one save at a time, so a process killed without a
 *   shutdown comes back with the sessions it had, their plays and ms_played as of the last
 *   save (at most `saveDelayMs` plus one store write old).
 * - A second socket saying hello with a device id already connected replaces the old socket
 *   (closed with `replaced`).
 * Timers come from an injected `Timers` so tests drive the grace period without sleeping.
 */
import type { Logger } from 'pino';
import type { SessionSnapshot, SnapshotStore } from '../storage/snapshots.ts';
import type { DeviceHello, ResumePoint } from '../protocol/messages.ts';
import type { Principal } from './auth.ts';
import type { SessionOwnership } from './placement.ts';

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
  /** The connection bound to a device now, if any (set by `connect`, cleared by `disconnect`). */
  connection(deviceId: string): DeviceConnection | undefined;
  /** Every connection bound now. */
  allConnections(): Iterable<DeviceConnection>;
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

/** A live session and the registry's timers for it. Its connections are the session's own (one map per session). */
interface LiveSessionEntry {
  session: LiveSession;
  grace?: unknown;
  /** A change not saved yet. */
  dirty?: boolean;
  /** The save timer armed by the first unsaved change. */
  saveTimer?: unknown;
  /** The live save being written, if any (the final save on retire waits for it). */
  liveSave?: Promise<void> | undefined;
}

/** How long after a change the live session's snapshot is saved (changes meanwhile share the save). */
export const DEFAULT_SAVE_DELAY_MS = 1_000;

export interface RegistryDeps {
  createLiveSession: CreateLiveSession;
  snapshots: SnapshotStore;
  sessionGraceMs: number;
  replacedCloseCode: number;
  log: Logger;
  timers?: Timers;
  /** Called whenever the number of live sessions changes. */
  onCount?: (sessions: number) => void;
  /** Saves of a live session after a change, at most one per this many ms (DEFAULT_SAVE_DELAY_MS). */
  saveDelayMs?: number;
  /**
   * Cluster placement: a session is claimed before it is opened (rejects with `OwnedElsewhere`
   * when another node runs it) and released once it left (after its final save, or dropped).
   * Unset: one node, every session runs here.
   */
  ownership?: SessionOwnership;
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
    const old = entry.session.connection(device.id);
    entry.session.connect(device, conn, principal, helloId, resume);
    // Closed once the new socket is bound, so its close (detach) finds itself replaced.
    if (old && old !== conn) old.close(this.deps.replacedCloseCode, 'replaced');
  }

  /** A device socket closed. Only the socket currently bound to the device counts. */
  detach(userId: string, deviceId: string, conn: DeviceConnection): void {
    const entry = this.entries.get(userId);
    if (!entry || entry.session.connection(deviceId) !== conn) return;
    entry.session.disconnect(deviceId);
    this.scheduleGraceIfIdle(userId, entry);
  }

  /**
   * The session of `userId` changed in a way a crash must not lose (a play started, moved,
   * paused, seeked, reached the royalty threshold, a progress report): its snapshot is saved
   * soon (see the header). Unknown users and a registry shutting down are ignored.
   */
  changed(userId: string): void {
    const entry = this.entries.get(userId);
    if (!entry || this.shuttingDown) return;
    entry.dirty = true;
    if (entry.saveTimer !== undefined || entry.liveSave !== undefined) return;
    entry.saveTimer = this.timers.setTimeout(() => {
      entry.saveTimer = undefined;
      void this.saveLive(userId, entry);
    }, this.deps.saveDelayMs ?? DEFAULT_SAVE_DELAY_MS);
  }

  private async saveLive(userId: string, entry: LiveSessionEntry): Promise<void> {
    if (this.entries.get(userId) !== entry || !entry.dirty) return;
    entry.dirty = false;
    const save = (async () => {
      try {
        const snapshot = entry.session.snapshot();
        await this.deps.snapshots.putSnapshot(snapshot);
        this.deps.log.debug({ user: userId, version: snapshot.version }, 'session snapshot saved');
      } catch (err) {
        this.deps.log.error({ err, user: userId }, 'saving live session snapshot failed');
      }
    })();
    entry.liveSave = save;
    await save;
    entry.liveSave = undefined;
    // Changes during the write: one more save for them.
    if (entry.dirty) this.changed(userId);
  }

  private clearSave(entry: LiveSessionEntry): void {
    if (entry.saveTimer !== undefined) this.timers.clearTimeout(entry.saveTimer);
    entry.saveTimer = undefined;
    entry.dirty = false;
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
    this.clearSave(entry);
    this.entries.delete(userId);
    this.deps.onCount?.(this.entries.size);
    for (const conn of [...entry.session.allConnections()]) conn.close(code, reason);
    try {
      entry.session.stop();
    } catch (err) {
      this.deps.log.error({ err, user: userId }, 'stopping a failed session threw');
    }
    this.deps.ownership?.release(userId);
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
      // Owner first, then the snapshot: what the previous owner saved before it let go is read.
      await this.deps.ownership?.claim(userId);
      let session: LiveSession;
      let restored: SessionSnapshot | undefined;
      try {
        restored = await this.deps.snapshots.getSnapshot(userId);
        session = this.deps.createLiveSession(principal, restored);
      } catch (err) {
        this.deps.ownership?.release(userId);
        throw err;
      }
      const entry: LiveSessionEntry = { session };
      this.entries.set(userId, entry);
      this.deps.onCount?.(this.entries.size);
      this.deps.log.debug({ user: userId, restored: restored !== undefined }, 'session created');
      return entry;
    })().finally(() => this.pending.delete(userId));
    this.pending.set(userId, p);
    return p;
  }

  private scheduleGraceIfIdle(userId: string, entry: LiveSessionEntry): void {
    if (entry.session.connectedDevices() > 0 || entry.grace !== undefined) return;
    entry.grace = this.timers.setTimeout(() => {
      entry.grace = undefined;
      if (entry.session.connectedDevices() === 0 && this.entries.get(userId) === entry)
        void this.retire(userId);
    }, this.deps.sessionGraceMs);
  }

  /** Saves the snapshot, then stops the actor and forgets the session. */
  private async retire(userId: string): Promise<void> {
    const entry = this.entries.get(userId);
    if (!entry) return;
    if (entry.grace !== undefined) this.timers.clearTimeout(entry.grace);
    this.clearSave(entry);
    this.entries.delete(userId);
    this.deps.onCount?.(this.entries.size);
    const saved = (async () => {
      try {
        // A live save still writing goes first, so the final state is the one kept.
        if (entry.liveSave) await entry.liveSave;
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
      this.deps.ownership?.release(userId);
    })();
    this.saving.set(userId, saved);
    await saved;
    if (this.saving.get(userId) === saved) this.saving.delete(userId);
  }
}
