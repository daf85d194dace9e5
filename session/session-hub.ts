/**
 * The session hub: binds the shared session machine's ports to this server, and keeps one
 * `SessionHost` per live listener (its actor and its device sockets).
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
import type { DeviceLink, SessionHost } from './registry.ts';

/** A running session actor as the hub drives it (bound to actors/ in session-actor.ts). */
export interface SessionActorHandle {
  /**
   * Hands the command to the actor; false when the actor has no handler for it in its
   * current state (nothing happened, and no answer will come: the hub answers instead).
   */
  send(command: SessionCommand): boolean;
  /** JSON-serialisable snapshot for the store. */
  persist(): unknown;
  stop(): void;
}

/** Starts an actor; `onError` is called (once) if it fails and stops. */
export type StartActor = (
  ports: SessionPorts,
  input: SessionInput,
  onError?: (err: unknown) => void,
) => SessionActorHandle;

export interface HubDeps {
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
}

/** Commands that start a track: their latency is measured to playback + prefetch out. */
const STARTS_TRACK = new Set<ClientFrame['t']>(['play', 'next', 'previous', 'ended', 'transfer']);
const MAX_PLAYS_IN_FLIGHT = 8;

class Host implements SessionHost {
  readonly links = new Map<string, DeviceLink>();
  actor!: SessionActorHandle;
  lastVersion = 0;
  playId: string | null = null;
  /**
   * performance.now() of each track-starting command, by `${deviceId}:${requestId}`, until its
   * answer leaves (a few at most: created on the first play, so idle sessions stay small).
   */
  playsInFlight: Map<string, number> | undefined;
  /** The actor failed and stopped; the session is being dropped. */
  failed = false;

  constructor(
    readonly userId: string,
    private readonly hub: SessionHub,
  ) {}

  connect(
    device: DeviceHello,
    link: DeviceLink,
    principal: Principal,
    helloId: number,
    resume?: ResumePoint,
  ): void {
    this.links.set(device.id, link);
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
    this.links.delete(deviceId);
    this.actor.send({ type: 'disconnect', deviceId });
  }

  connectedDevices(): number {
    return this.links.size;
  }

  snapshot(): SessionSnapshot {
    // The state of a failed actor is not saved: the previous snapshot stays.
    if (this.failed) throw new Error(`session of ${this.userId} failed; not saved`);
    return {
      userId: this.userId,
      version: this.lastVersion,
      savedAt: this.hub.now(),
      state: this.actor.persist(),
    };
  }

  stop(): void {
    this.actor.stop();
  }
}

export class SessionHub implements CommandSink {
  private readonly hosts = new Map<string, Host>();
  private outgoingEvents: ListeningEvent[] = [];
  private publishScheduled = false;
  readonly ports: SessionPorts;
  readonly now: () => number;

  constructor(private readonly deps: HubDeps) {
    this.now = deps.now ?? Date.now;
    this.ports = {
      now: this.now,
      signUrl: deps.signUrl,
      sendToDevice: (userId, deviceId, output) => this.toDevice(userId, deviceId, output),
      broadcastState: (userId, output) => this.broadcast(userId, output),
      publishEvent: (event) => this.publish(event),
      loadTracks: (req) => deps.catalog.loadTracks(req),
      peekTracks: (req) => deps.catalog.peekTracks(req),
      resolveContext: (req) => deps.catalog.resolveContext(req),
      radio: noRadio,
    };
  }

  /** Registry hook: a new (or restored) session for a user. */
  createHost(principal: Principal, restored: SessionSnapshot | undefined): SessionHost {
    const host = new Host(principal.userId, this);
    this.hosts.set(principal.userId, host);
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
    const onError = (err: unknown) => this.failed(host, err);
    try {
      host.actor = this.deps.startActor(this.ports, input, onError);
    } catch (err) {
      if (!readable) throw err;
      // A snapshot this build cannot read must not lock the user out: start fresh.
      this.deps.log.warn(
        { err, user: principal.userId },
        'snapshot not restorable; starting a fresh session',
      );
      host.actor = this.deps.startActor(this.ports, { ...input, restore: undefined }, onError);
    }
    const stop = host.stop.bind(host);
    host.stop = () => {
      stop();
      if (this.hosts.get(principal.userId) === host) this.hosts.delete(principal.userId);
    };
    return host;
  }

  /**
   * An actor failed (a bug): it has stopped, so its session is dropped at once, unsaved,
   * and its devices reconnect into a session restored from the last saved snapshot. The
   * process and every other session go on.
   */
  private failed(host: Host, err: unknown): void {
    host.failed = true;
    this.deps.metrics.sessionFailures.inc();
    this.deps.log.error({ err, user: host.userId }, 'session actor failed; dropping the session unsaved');
    // After the step that failed has unwound (the registry stops the actor).
    queueMicrotask(() => this.deps.onSessionFailed?.(host.userId));
  }

  command(userId: string, deviceId: string, frame: ClientFrame, receivedAt: number): void {
    const host = this.hosts.get(userId);
    // No host: its actor failed and the session is being dropped; its sockets close with
    // session_reset, which tells the client that requests in flight are lost.
    if (!host) return;
    const cmd = toCommand(frame, deviceId);
    if (!cmd) return this.unhandled(host, deviceId, frame, 'is not a session command');
    const startsTrack = STARTS_TRACK.has(frame.t);
    if (startsTrack) {
      const inFlight = (host.playsInFlight ??= new Map());
      // Bounded: an answer that never comes (a dropped socket) must not grow the map.
      if (inFlight.size >= MAX_PLAYS_IN_FLIGHT) inFlight.delete(inFlight.keys().next().value!);
      inFlight.set(`${deviceId}:${frame.id}`, receivedAt);
    }
    // A fault inside the actor does not throw here: it reaches `failed` through the actor's
    // error observer, which drops the session (its sockets close with session_reset).
    if (!host.actor.send(cmd)) {
      if (startsTrack) host.playsInFlight?.delete(`${deviceId}:${frame.id}`);
      return this.unhandled(host, deviceId, frame, 'has no handler in the session now');
    }
    if (frame.t === 'logout') {
      // The device logged out: after its ack (already queued), its socket closes for good.
      const { code, reason } = CLOSE_CODES.logged_out;
      host.links.get(deviceId)?.close(code, reason);
    }
  }

  /**
   * A valid request nothing handles (a server bug: an unmapped frame type, or a command the
   * machine has no transition for) is answered, never dropped: every request gets its answer.
   */
  private unhandled(host: Host, deviceId: string, frame: ClientFrame, why: string): void {
    this.deps.log.error({ user: host.userId, device: deviceId, frame: frame.t }, `${frame.t} ${why}`);
    const link = host.links.get(deviceId);
    if (!link || link.closed) return;
    const error = errorFrame({
      code: 'internal',
      reason: 'unhandled_command',
      message: `the server cannot handle \`${frame.t}\` now`,
      id: frame.id,
    });
    link.send(this.encode(error));
  }

  private encode(frame: ServerFrame): Uint8Array {
    this.deps.metrics.frameOut(frame.t);
    if (frame.t === 'error') this.deps.metrics.errors.inc({ code: frame.code });
    return this.deps.wire.encode(frame);
  }

  private toDevice(userId: string, deviceId: string, output: DeviceOutput): void {
    try {
      const host = this.hosts.get(userId);
      const link = host?.links.get(deviceId);
      if (!host || !link || link.closed) return;
      const frame = this.frameOf(host, output);
      if (frame) link.send(this.encode(frame));
      // The machine answers a request after the playback and prefetch it caused, so the
      // answer to a track-starting command closes its latency window.
      if (
        (output.type === 'ack' || output.type === 'error') &&
        host.playsInFlight !== undefined &&
        output.requestId !== undefined
      ) {
        this.observePlay(host, `${deviceId}:${output.requestId}`, output.type === 'ack');
      }
    } catch (err) {
      this.deps.log.error({ err, user: userId, output: output.type }, 'sending to device failed');
    }
  }

  private frameOf(host: Host, output: DeviceOutput): ServerFrame | undefined {
    const lookup = this.deps.catalog.lookup;
    switch (output.type) {
      case 'ack':
        return { t: 'ack', id: Number(output.requestId) };
      case 'error':
        return errorFrameOf(output, output.requestId === undefined ? undefined : Number(output.requestId));
      case 'welcome':
        host.lastVersion = Math.max(host.lastVersion, output.state.version);
        return welcomeFrame(output, Number(output.requestId ?? 0), PROTOCOL_VERSION, this.now(), lookup);
      case 'playback':
        host.playId = output.playId;
        return playbackFrame(output);
      case 'prefetch':
        return prefetchFrame(output, host.playId);
      case 'warning':
        return warningFrame(output);
    }
  }

  private observePlay(host: Host, key: string, succeeded: boolean): void {
    const started = host.playsInFlight!.get(key);
    if (started === undefined) return;
    host.playsInFlight!.delete(key);
    if (!succeeded) return;
    const ms = performance.now() - started;
    this.deps.metrics.playLatency.observe(ms / 1000);
    this.deps.onPlayLatency?.(ms);
  }

  private broadcast(userId: string, output: StateOutput): void {
    try {
      const host = this.hosts.get(userId);
      if (!host) return;
      host.lastVersion = Math.max(host.lastVersion, output.state.version);
      host.playId = output.state.playId;
      if (host.links.size === 0) return;
      const bytes = this.encode(stateFrame(output.state, this.deps.catalog.lookup));
      for (const link of host.links.values()) link.send(bytes, 'state');
    } catch (err) {
      this.deps.log.error({ err, user: userId }, 'broadcasting state failed');
    }
  }

  /**
   * Events leave after the step's frames: they are handed to the event log one macrotask
   * later (setImmediate), so neither the log's validation and write batching nor its commit
   * ever delays a reply. Nothing is awaited here: durability is the log adapter's concern.
   */
  private publish(event: ListeningEvent): void {
    this.outgoingEvents.push(event);
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
