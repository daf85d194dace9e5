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
import type { ClientFrame, DeviceHello, ResumePoint, ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
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
  send(command: SessionCommand): void;
  /** JSON-serialisable snapshot for the store. */
  persist(): unknown;
  stop(): void;
}

export type StartActor = (ports: SessionPorts, input: SessionInput) => SessionActorHandle;

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
}

/** Commands that start a track: their latency is measured to playback + prefetch out. */
const STARTS_TRACK = new Set<ClientFrame['t']>(['play', 'next', 'previous', 'ended', 'transfer']);

class Host implements SessionHost {
  readonly links = new Map<string, DeviceLink>();
  actor!: SessionActorHandle;
  lastVersion = 0;
  playId: string | null = null;
  /** performance.now() of the command that should start a track, until its answer leaves. */
  playStartedAt: number | undefined;
  playRequestId: number | undefined;

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
    const input: SessionInput = {
      userId: principal.userId,
      plan: principal.plan,
      country: principal.country,
      epoch: this.now(),
      ...(restored ? { restore: restored.state as SessionInput['restore'] } : {}),
    };
    try {
      host.actor = this.deps.startActor(this.ports, input);
    } catch (err) {
      if (!restored) throw err;
      // A snapshot this build cannot read must not lock the user out: start fresh.
      this.deps.log.warn(
        { err, user: principal.userId },
        'snapshot not restorable; starting a fresh session',
      );
      host.actor = this.deps.startActor(this.ports, { ...input, restore: undefined });
    }
    const stop = host.stop.bind(host);
    host.stop = () => {
      stop();
      if (this.hosts.get(principal.userId) === host) this.hosts.delete(principal.userId);
    };
    return host;
  }

  command(userId: string, deviceId: string, frame: ClientFrame, receivedAt: number): void {
    const host = this.hosts.get(userId);
    if (!host) return;
    const cmd = toCommand(frame, deviceId);
    if (!cmd) return;
    if (STARTS_TRACK.has(frame.t)) {
      host.playStartedAt = receivedAt;
      host.playRequestId = frame.id;
    }
    try {
      host.actor.send(cmd);
    } catch (err) {
      this.deps.log.error({ err, user: userId, type: frame.t }, 'actor rejected a command');
      const link = host.links.get(deviceId);
      link?.send(
        this.encode({
          t: 'error',
          id: frame.id,
          code: 'internal',
          reason: 'unexpected',
          message: 'internal error',
        }),
      );
    }
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
        host.playRequestId !== undefined &&
        Number(output.requestId) === host.playRequestId
      ) {
        this.observePlay(host, output.type === 'ack');
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

  private observePlay(host: Host, succeeded: boolean): void {
    const started = host.playStartedAt;
    host.playStartedAt = undefined;
    host.playRequestId = undefined;
    if (started === undefined || !succeeded) return;
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
