/**
 * The session router: binds the shared session machine's ports to this server, and keeps one
 * `LiveSession` per live listener (its actor and its device sockets).
 *
 * - Commands from sockets become actor commands (frames.ts) and go to the user's actor.
 * - Actor outputs become protocol frames: device outputs to one socket, `state` encoded
 *   once and sent to every connected device of the user (coalesced under backpressure).
 * - Listening events go to the event log after the step's replies (fire and forget; the
 *   adapter owns its outbox).
 * - Play latency (command frame in -> playback + prefetch + answer out) feeds the histogram.
 */
import type { Logger } from 'pino';
import type { DeviceOutput, ListeningEvent, SessionCommand, StateOutput } from '../actors/types.ts';
import type { SessionInput, SessionPorts } from '../actors/ports.ts';
import { noRadio } from '../actors/ports.ts';
import { isPersistedSession } from '../actors/session-snapshot.ts';
import type { ClientFrame, DeviceHello, ResumePoint, ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { errorFrame } from '../protocol/errors.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { SessionSnapshot } from '../storage/snapshots.ts';
import type { SessionJournal } from '../storage/journal.ts';
import type { Principal } from './auth.ts';
import type { CatalogPorts } from './catalog-ports.ts';
import type { CommandSink, Wire } from './device-socket.ts';
import {
  actorEpoch,
  errorFrameOf,
  playbackFrame,
  prefetchFrame,
  stateFrame,
  toCommand,
  warningFrame,
  welcomeFrame,
} from './frames.ts';
import type { SessionMetrics } from './metrics.ts';
import type { DeviceConnection, LiveSession } from './registry.ts';

/** A running session actor as the router drives it (bound to actors/ in session-actor.ts). */
export interface SessionActorRef {
  /**
   * Hands the command to the actor; false when the actor has no handler for it in its
   * current state (nothing happened, and no answer will come: the router answers instead).
   */
  send(command: SessionCommand): boolean;
  /** JSON-serialisable snapshot for the store. */
  persist(): unknown;
  stop(): void;
  /**
   * Stops the actor and returns its state as plain data if nothing of it runs or is due (no
   * timer, no load in flight); undefined, and it runs on, otherwise. For hibernation.ts.
   */
  suspend?(): unknown;
}

/**
 * Starts an actor; `onError` is called (once) if it fails and stops. With `suspended` (what
 * `suspend` returned), the actor resumes that state instead of starting from `input`.
 */
export interface StartActor {
  (
    ports: SessionPorts,
    input: SessionInput,
    onError?: (err: unknown) => void,
    suspended?: unknown,
  ): SessionActorRef;
  /** What `persist` would return for a suspended actor, without resuming it. */
  persistSuspended?(suspended: unknown, now: number): unknown;
}

export interface RouterDeps {
  startActor: StartActor;
  catalog: CatalogPorts;
  eventLog: EventLog;
  signUrl: (path: string, expiresAtMs: number) => string;
  wire: Wire;
  metrics: SessionMetrics;
  log: Logger;
  now?: () => number;
  /** Extra sink for play latency samples (ms), e.g. the benchmark. */
  onPlayLatency?: (ms: number) => void;
  /** A session's actor failed: drop the session unsaved (the registry's `evict`). */
  onSessionFailed?: (userId: string) => void;
  /**
   * A session changed in a way a crash must not lose (the registry's `changed`, which saves
   * its snapshot soon): a new state, a listening event, a device's progress report.
   */
  onSessionChanged?: (userId: string) => void;
  /**
   * Cluster mode: the acknowledged-command journal. A step that answers a request or changes
   * the state is journaled (its resulting state) before any frame of it leaves: its frames, and
   * every later frame of the session, wait in order until the append landed (see `deliver`).
   */
  journal?: Pick<SessionJournal, 'append'>;
}

/** In a held step, marks the answer to a track-starting command (its latency ends when it leaves). */
const PLAY_MARK = 'play';

/** Frames of one step of a journaled session, held until its state is in the journal. */
interface HeldStep {
  /** conn, bytes, coalesce, ...: flat, one array per step; or key, succeeded, PLAY_MARK. */
  frames: unknown[];
  /** The step answered a request or changed the state: journal it before its frames go. */
  journal: boolean;
  done: boolean;
  /** HTTP commands answered in this step (their 204 waits for the journal too). */
  waiters?: { resolve: () => void; reject: (err: unknown) => void }[];
}

/** Commands that start a track: their latency is measured to playback + prefetch out. */
const STARTS_TRACK = new Set<ClientFrame['t']>(['play', 'next', 'previous', 'ended', 'transfer']);
const MAX_PLAYS_IN_FLIGHT = 8;

class LocalLiveSession implements LiveSession {
  /** The one map of its devices' connections (the registry reads it through `connection`). */
  readonly connections = new Map<string, DeviceConnection>();
  actor!: SessionActorRef;
  lastVersion = 0;
  playId: string | null = null;
  /**
   * performance.now() of each track-starting command, by `${deviceId}:${requestId}`, until its
   * answer leaves (a few at most: created on the first play, so idle sessions stay small).
   */
  playsInFlight: Map<string, number> | undefined;
  /** The actor failed and stopped; the session is being dropped. */
  failed = false;
  /** Journal mode: steps whose frames wait for the journal, oldest first; the open one. */
  held: HeldStep[] | undefined;
  step: HeldStep | undefined;

  constructor(
    readonly userId: string,
    private readonly router: SessionRouter,
  ) {}

  connect(
    device: DeviceHello,
    conn: DeviceConnection,
    principal: Principal,
    helloId: number,
    resume?: ResumePoint,
  ): void {
    this.connections.set(device.id, conn);
    this.actor.send({
      type: 'hello',
      deviceId: device.id,
      requestId: helloId,
      name: device.name,
      deviceType: device.type,
      plan: principal.plan,
      country: principal.country,
      ...(resume ? { resume: { version: resume.version, epoch: actorEpoch(resume.epoch) } } : {}),
    });
  }

  disconnect(deviceId: string): void {
    this.connections.delete(deviceId);
    this.actor.send({ type: 'disconnect', deviceId });
  }

  connectedDevices(): number {
    return this.connections.size;
  }

  connection(deviceId: string): DeviceConnection | undefined {
    return this.connections.get(deviceId);
  }

  allConnections(): Iterable<DeviceConnection> {
    return this.connections.values();
  }

  snapshot(): SessionSnapshot {
    // The state of a failed actor is not saved: the previous snapshot stays.
    if (this.failed) throw new Error(`session of ${this.userId} failed; not saved`);
    return {
      userId: this.userId,
      version: this.lastVersion,
      savedAt: this.router.now(),
      state: this.actor.persist(),
    };
  }

  stop(): void {
    this.actor.stop();
    this.router.stopped(this);
  }

  /** The actor's error observer (bound once per session: no closure, no context). */
  actorFailed(err: unknown): void {
    this.router.sessionFailed(this, err);
  }
}

export class SessionRouter implements CommandSink {
  private readonly liveSessions = new Map<string, LocalLiveSession>();
  private outgoingEvents: ListeningEvent[] = [];
  private publishScheduled = false;
  readonly ports: SessionPorts;
  readonly now: () => number;

  constructor(private readonly deps: RouterDeps) {
    this.now = deps.now ?? Date.now;
    this.ports = {
      now: this.now,
      signUrl: deps.signUrl,
      sendToDevice: (userId, deviceId, output) => this.toDevice(userId, deviceId, output),
      broadcastState: (userId, output) => this.broadcast(userId, output),
      publishEvent: (event) => this.publish(event),
      loadTracks: (req) => deps.catalog.loadTracks(req),
      peekTracks: (req) => deps.catalog.peekTracks(req),
      peekContext: (req) => deps.catalog.peekContext(req),
      resolveContext: (req) => deps.catalog.resolveContext(req),
      radio: noRadio,
    };
  }

  /** Registry hook: a new (or restored) session for a user. */
  createLiveSession(principal: Principal, restored: SessionSnapshot | undefined): LiveSession {
    const live = new LocalLiveSession(principal.userId, this);
    this.liveSessions.set(principal.userId, live);
    // A snapshot of a foreign or older shape is refused here, before the actor reads it.
    const readable = restored && isPersistedSession(restored.state) ? restored.state : undefined;
    if (restored && !readable)
      this.deps.log.warn(
        { user: principal.userId },
        'snapshot of an unknown shape; starting a fresh session',
      );
    const input: SessionInput = {
      userId: principal.userId,
      plan: principal.plan,
      country: principal.country,
      epoch: this.now(),
      ...(readable ? { restore: readable } : {}),
    };
    const onError = live.actorFailed.bind(live);
    try {
      live.actor = this.deps.startActor(this.ports, input, onError);
    } catch (err) {
      if (!readable) throw err;
      // A snapshot this build cannot read must not lock the user out: start fresh.
      this.deps.log.warn(
        { err, user: principal.userId },
        'snapshot not restorable; starting a fresh session',
      );
      live.actor = this.deps.startActor(this.ports, { ...input, restore: undefined }, onError);
    }
    return live;
  }

  /** A live session stopped: forgotten (unless a newer one of the user took its place). */
  stopped(live: LocalLiveSession): void {
    if (this.liveSessions.get(live.userId) === live) this.liveSessions.delete(live.userId);
  }

  /**
   * An actor failed (a bug): it has stopped, so its session is dropped at once, unsaved,
   * and its devices reconnect into a session restored from the last saved snapshot. The
   * process and every other session go on.
   */
  sessionFailed(live: LocalLiveSession, err: unknown): void {
    live.failed = true;
    this.deps.metrics.sessionFailures.inc();
    this.deps.log.error({ err, user: live.userId }, 'session actor failed; dropping the session unsaved');
    // After the step that failed has unwound (the registry stops the actor).
    queueMicrotask(() => this.deps.onSessionFailed?.(live.userId));
  }

  command(userId: string, deviceId: string, frame: ClientFrame, receivedAt: number): void {
    const live = this.liveSessions.get(userId);
    // No live session: its actor failed and the session is being dropped; its sockets close with
    // session_reset, which tells the client that requests in flight are lost.
    if (!live) return;
    const cmd = toCommand(frame, deviceId);
    if (!cmd) return this.unhandled(live, deviceId, frame, 'is not a session command');
    const startsTrack = STARTS_TRACK.has(frame.t);
    if (startsTrack) {
      const inFlight = (live.playsInFlight ??= new Map());
      // Bounded: an answer that never comes (a dropped socket) must not grow the map.
      if (inFlight.size >= MAX_PLAYS_IN_FLIGHT) inFlight.delete(inFlight.keys().next().value!);
      inFlight.set(`${deviceId}:${frame.id}`, receivedAt);
    }
    // A fault inside the actor does not throw here: it reaches `failed` through the actor's
    // error observer, which drops the session (its sockets close with session_reset).
    if (!live.actor.send(cmd)) {
      if (startsTrack) live.playsInFlight?.delete(`${deviceId}:${frame.id}`);
      return this.unhandled(live, deviceId, frame, 'has no handler in the session now');
    }
    // A report moves the position and ms_played without a new state version.
    if (frame.t === 'progress') this.deps.onSessionChanged?.(userId);
    if (frame.t === 'logout') {
      // The device logged out: after its ack (already queued), its socket closes for good.
      const { code, reason } = CLOSE_CODES.logged_out;
      live.connections.get(deviceId)?.close(code, reason);
    }
  }

  /**
   * A valid request nothing handles (a server bug: an unmapped frame type, or a command the
   * machine has no transition for) is answered, never dropped: every request gets its answer.
   */
  private unhandled(live: LocalLiveSession, deviceId: string, frame: ClientFrame, why: string): void {
    this.deps.log.error({ user: live.userId, device: deviceId, frame: frame.t }, `${frame.t} ${why}`);
    const conn = live.connections.get(deviceId);
    if (!conn || conn.closed) return;
    const error = errorFrame({
      code: 'internal',
      reason: 'unhandled_command',
      message: `the server cannot handle \`${frame.t}\` now`,
      id: frame.id,
    });
    this.deliver(live, conn, this.encode(error));
  }

  private encode(frame: ServerFrame): Uint8Array {
    this.deps.metrics.frameOut(frame.t);
    if (frame.t === 'error') this.deps.metrics.errors.inc({ code: frame.code });
    return this.deps.wire.encode(frame);
  }

  private toDevice(userId: string, deviceId: string, output: DeviceOutput): void {
    try {
      const live = this.liveSessions.get(userId);
      const conn = live?.connections.get(deviceId);
      if (!live || !conn || conn.closed) return;
      const frame = this.frameOf(live, output);
      if (this.deps.journal && output.type === 'ack') this.openStep(live).journal = true;
      if (frame) this.deliver(live, conn, this.encode(frame));
      // The machine answers a request after the playback and prefetch it caused, so the
      // answer to a track-starting command closes its latency window.
      if (
        (output.type === 'ack' || output.type === 'error') &&
        live.playsInFlight !== undefined &&
        output.requestId !== undefined
      ) {
        const key = `${deviceId}:${output.requestId}`;
        // With a journal the answer leaves when its step is journaled: measured then.
        if (this.deps.journal) this.openStep(live).frames.push(key, output.type === 'ack', PLAY_MARK);
        else this.observePlay(live, key, output.type === 'ack');
      }
    } catch (err) {
      this.deps.log.error({ err, user: userId, output: output.type }, 'sending to device failed');
    }
  }

  private frameOf(live: LocalLiveSession, output: DeviceOutput): ServerFrame | undefined {
    const lookup = this.deps.catalog.lookup;
    switch (output.type) {
      case 'ack':
        return { t: 'ack', id: Number(output.requestId) };
      case 'error':
        return errorFrameOf(output, output.requestId === undefined ? undefined : Number(output.requestId));
      case 'welcome':
        live.lastVersion = Math.max(live.lastVersion, output.state.version);
        return welcomeFrame(output, Number(output.requestId ?? 0), PROTOCOL_VERSION, this.now(), lookup);
      case 'playback':
        live.playId = output.playId;
        return playbackFrame(output);
      case 'prefetch':
        return prefetchFrame(output, live.playId);
      case 'warning':
        return warningFrame(output);
    }
  }

  private observePlay(live: LocalLiveSession, key: string, succeeded: boolean): void {
    const started = live.playsInFlight!.get(key);
    if (started === undefined) return;
    live.playsInFlight!.delete(key);
    if (!succeeded) return;
    const ms = performance.now() - started;
    this.deps.metrics.playLatency.observe(ms / 1000);
    this.deps.onPlayLatency?.(ms);
  }

  private broadcast(userId: string, output: StateOutput): void {
    try {
      const live = this.liveSessions.get(userId);
      if (!live) return;
      live.lastVersion = Math.max(live.lastVersion, output.state.version);
      live.playId = output.state.playId;
      this.deps.onSessionChanged?.(userId);
      if (this.deps.journal) this.openStep(live).journal = true;
      if (live.connections.size === 0) return;
      const skip = output.welcomed;
      // Encoded once, and only if some device is to get it.
      let bytes: Uint8Array | undefined;
      for (const [deviceId, conn] of live.connections) {
        // Its welcome of this step carried this very state.
        if (skip !== undefined && skip.includes(deviceId)) continue;
        bytes ??= this.encode(stateFrame(output.state, this.deps.catalog.lookup));
        this.deliver(live, conn, bytes, 'state');
      }
    } catch (err) {
      this.deps.log.error({ err, user: userId }, 'broadcasting state failed');
    }
  }

  /**
   * A frame to a device. With a journal, frames leave in steps: those of one step (one
   * synchronous run of the actor) are held until the step's state is journaled when it
   * answered a request or changed the state, and every step waits for the ones before it,
   * so the order per device is kept and no answer leaves before what it answers is durable.
   */
  private deliver(
    live: LocalLiveSession,
    conn: DeviceConnection,
    bytes: Uint8Array,
    coalesce?: 'state',
  ): void {
    if (!this.deps.journal) return conn.send(bytes, coalesce);
    this.openStep(live).frames.push(conn, bytes, coalesce);
  }

  /** The step being recorded now; closed (journaled or released) once the actor's run returns. */
  private openStep(live: LocalLiveSession): HeldStep {
    if (live.step) return live.step;
    const step: HeldStep = { frames: [], journal: false, done: false };
    live.step = step;
    (live.held ??= []).push(step);
    queueMicrotask(() => this.closeStep(live, step));
    return step;
  }

  private closeStep(live: LocalLiveSession, step: HeldStep): void {
    if (live.step === step) live.step = undefined;
    const journal = this.deps.journal;
    if (!step.journal || !journal) {
      step.done = true;
      return this.releaseHeld(live);
    }
    let snapshot: SessionSnapshot;
    try {
      snapshot = live.snapshot();
    } catch (err) {
      return this.journalFailed(live, err);
    }
    journal.append(snapshot).then(
      () => {
        step.done = true;
        this.releaseHeld(live);
      },
      (err: unknown) => this.journalFailed(live, err),
    );
  }

  private releaseHeld(live: LocalLiveSession): void {
    const held = live.held;
    if (!held) return;
    while (held.length > 0 && held[0]!.done) {
      const step = held.shift()!;
      const f = step.frames;
      for (let i = 0; i < f.length; i += 3) {
        if (f[i + 2] === PLAY_MARK) {
          this.observePlay(live, f[i] as string, f[i + 1] as boolean);
          continue;
        }
        const conn = f[i] as DeviceConnection;
        if (!conn.closed) conn.send(f[i + 1] as Uint8Array, f[i + 2] as 'state' | undefined);
      }
      if (step.waiters) for (const w of step.waiters) w.resolve();
    }
  }

  /**
   * Not journaled (the journal is away, or a newer owner took it): what was not acknowledged
   * never is. The held frames are dropped and the session with them, unsaved; its devices
   * reconnect to whoever owns the listener now and are told their requests in flight are lost.
   */
  private journalFailed(live: LocalLiveSession, err: unknown): void {
    const held = live.held;
    live.held = undefined;
    live.step = undefined;
    for (const step of held ?? []) for (const w of step.waiters ?? []) w.reject(err);
    if (live.failed || this.liveSessions.get(live.userId) !== live) return;
    live.failed = true;
    this.deps.log.error({ err, user: live.userId }, 'journal append failed; dropping the session unsaved');
    this.deps.onSessionFailed?.(live.userId);
  }

  /**
   * Resolves once every frame the listener's session produced so far (this step included) is
   * journaled; at once without a journal. The HTTP door answers a command after it.
   */
  journaled(userId: string): Promise<void> {
    const live = this.liveSessions.get(userId);
    if (!this.deps.journal || !live) return Promise.resolve();
    const step = this.openStep(live);
    step.journal = true;
    return new Promise((resolve, reject) => (step.waiters ??= []).push({ resolve, reject }));
  }

  /**
   * Events leave after the step's frames: they are handed to the event log one macrotask
   * later (setImmediate), so neither the log's validation and write batching nor its commit
   * ever delays a reply. Nothing is awaited here: durability is the log adapter's concern.
   */
  private publish(event: ListeningEvent): void {
    this.outgoingEvents.push(event);
    // play.progress changes no state version; the play's crossing must survive a crash.
    this.deps.onSessionChanged?.(event.user);
    if (!this.publishScheduled) {
      this.publishScheduled = true;
      setImmediate(this.publishOutgoing);
    }
  }

  private readonly publishOutgoing = (): void => {
    this.publishScheduled = false;
    const events = this.outgoingEvents;
    this.outgoingEvents = [];
    for (const event of events) {
      this.deps.eventLog.publish(event).catch((err: unknown) => {
        // The adapter owns retries and its outbox; reaching here means both refused it.
        this.deps.log.error({ err, event: event.event_id }, 'listening event could not be published');
      });
    }
  };

  /** Hands every event still waiting to the log (shutdown: nothing is left behind). */
  flushEvents(): void {
    if (this.outgoingEvents.length > 0) this.publishOutgoing();
  }
}
