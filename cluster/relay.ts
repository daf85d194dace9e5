/**
 * The relay: devices on this node whose listener's session runs on another node (the owner).
 *
 * Relaying end (`RelayLinks`, the session layer's `RemoteSessions`): a hello is sent to the
 * owner as an `attach` request; the device's commands follow on the owner's `in` subject; the
 * owner's frames come back on this node's `out` subject and go to the socket as they are
 * (the same bytes, so to the device nothing differs); a close from the owner closes the
 * socket with the owner's code. Every owner this node relays to is pinged every
 * `watchEveryMs`: no responders (its NATS connection closed: the process died) or two
 * silent pings in a row close its links with `moved`, so the devices reconnect at once and
 * one of the nodes takes the session over.
 *
 * Owning end (`HostedLinks`): an `attach` binds a `RemoteConnection` (a DeviceConnection that
 * publishes to the relaying node) into the local registry like any socket; commands go to
 * the local session router. Its sends are dropped once this node no longer holds the
 * listener's lease.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import { errors as natsErrors } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { ClientFrame } from '../protocol/messages.ts';
import type { CommandSink } from '../session/device-socket.ts';
import { OwnedElsewhere } from '../session/placement.ts';
import type { RemoteSessions } from '../session/remote-sessions.ts';
import type { DeviceConnection, SessionRegistry } from '../session/registry.ts';
import {
  closeMessage,
  commandMessage,
  detachMessage,
  frameMessage,
  inSubject,
  jsonBytes,
  LinkKind,
  nodeSubject,
  outSubject,
  readJson,
  readLinkMessage,
  type NodeReply,
  type NodeRequest,
} from './link-messages.ts';

/** How long an owner has to answer an attach (it may load a snapshot first). */
const ATTACH_TIMEOUT_MS = 5_000;

export interface RelayContext {
  nc: NatsConnection;
  name: string;
  nodeId: string;
  log: Logger;
}

interface RelayLink {
  owner: string;
  userId: string;
  deviceId: string;
  conn: DeviceConnection;
}

/** How a probe of a node went: answered, answered draining, no such node, or no answer in time. */
export type Probe = 'alive' | 'draining' | 'gone' | 'silent';

export async function probeNode(ctx: RelayContext, node: string, timeoutMs: number): Promise<Probe> {
  try {
    const m = await ctx.nc.request(
      nodeSubject(ctx.name, node),
      jsonBytes({ t: 'ping' } satisfies NodeRequest),
      {
        timeout: timeoutMs,
      },
    );
    return readJson<NodeReply>(m.data).t === 'pong' && readJson<{ draining: boolean }>(m.data).draining
      ? 'draining'
      : 'alive';
  } catch (err) {
    if (isNoResponders(err)) return 'gone';
    if (err instanceof natsErrors.TimeoutError || (err as Error)?.cause instanceof natsErrors.TimeoutError)
      return 'silent';
    throw err;
  }
}

function isNoResponders(err: unknown): boolean {
  if (err instanceof natsErrors.NoRespondersError) return true;
  return err instanceof natsErrors.RequestError && err.isNoResponders();
}

export class RelayLinks implements RemoteSessions {
  private nextLink = 1;
  private readonly links = new Map<number, RelayLink>();
  /** `${userId}\0${deviceId}` -> the device's current link. */
  private readonly byDevice = new Map<string, number>();
  /** Owners this node relays to, with their silent pings in a row. */
  private readonly watched = new Map<string, number>();
  private readonly sub: Subscription;
  private readonly watchTimer: NodeJS.Timeout;

  constructor(
    private readonly ctx: RelayContext,
    private readonly watchEveryMs: number,
  ) {
    this.sub = ctx.nc.subscribe(outSubject(ctx.name, ctx.nodeId), {
      callback: (err, msg) => this.fromOwner(err, msg),
    });
    this.watchTimer = setInterval(() => void this.watchOwners(), watchEveryMs);
    this.watchTimer.unref();
  }

  /** Devices relayed now (metrics, tests). */
  get size(): number {
    return this.links.size;
  }

  async attach(
    owner: string,
    principal: Parameters<RemoteSessions['attach']>[1],
    device: Parameters<RemoteSessions['attach']>[2],
    conn: DeviceConnection,
    helloId: number,
    resume?: Parameters<RemoteSessions['attach']>[5],
  ): Promise<void> {
    const link = this.nextLink++;
    // Known before the request leaves: the owner's welcome may arrive before its reply.
    this.links.set(link, { owner, userId: principal.userId, deviceId: device.id, conn });
    const request: NodeRequest = {
      t: 'attach',
      from: this.ctx.nodeId,
      link,
      principal,
      device,
      helloId,
      ...(resume ? { resume } : {}),
    };
    let reply: NodeReply;
    try {
      const m = await this.ctx.nc.request(nodeSubject(this.ctx.name, owner), jsonBytes(request), {
        timeout: ATTACH_TIMEOUT_MS,
      });
      reply = readJson<NodeReply>(m.data);
    } catch (err) {
      this.links.delete(link);
      throw new Error(`owner ${owner} did not take the device: ${String(err)}`, { cause: err });
    }
    if (reply.t !== 'attached') {
      this.links.delete(link);
      if (reply.t === 'refused' && reply.owner && reply.owner !== owner)
        throw new OwnedElsewhere(principal.userId, reply.owner);
      throw new Error(`owner ${owner} refused the device: ${reply.t === 'refused' ? reply.why : reply.t}`);
    }
    if (conn.closed) {
      // The socket died while the owner took it: let the owner know at once.
      this.links.delete(link);
      this.ctx.nc.publish(inSubject(this.ctx.name, owner, this.ctx.nodeId), detachMessage(link));
      return;
    }
    this.byDevice.set(`${principal.userId}\0${device.id}`, link);
    if (!this.watched.has(owner)) this.watched.set(owner, 0);
  }

  detach(userId: string, deviceId: string, conn: DeviceConnection): boolean {
    const key = `${userId}\0${deviceId}`;
    const link = this.byDevice.get(key);
    if (link === undefined) return this.dropByConn(conn);
    const l = this.links.get(link);
    if (!l || l.conn !== conn) return this.dropByConn(conn);
    this.byDevice.delete(key);
    this.links.delete(link);
    this.ctx.nc.publish(inSubject(this.ctx.name, l.owner, this.ctx.nodeId), detachMessage(link));
    return true;
  }

  /** A replaced socket of a relayed device (its close came after the new link). */
  private dropByConn(conn: DeviceConnection): boolean {
    for (const [link, l] of this.links) {
      if (l.conn !== conn) continue;
      this.links.delete(link);
      this.ctx.nc.publish(inSubject(this.ctx.name, l.owner, this.ctx.nodeId), detachMessage(link));
      return true;
    }
    return false;
  }

  command(userId: string, deviceId: string, frame: ClientFrame): boolean {
    const link = this.byDevice.get(`${userId}\0${deviceId}`);
    if (link === undefined) return false;
    const l = this.links.get(link)!;
    this.ctx.nc.publish(inSubject(this.ctx.name, l.owner, this.ctx.nodeId), commandMessage(link, frame));
    return true;
  }

  private fromOwner(err: Error | null, msg: Msg): void {
    if (err) return;
    const m = readLinkMessage(msg.data);
    if (!m) return;
    const l = this.links.get(m.link);
    if (!l) return;
    if (m.kind === LinkKind.Frame || m.kind === LinkKind.StateFrame) {
      // A copy: the message's buffer is NATS's, the socket may queue the frame.
      if (!l.conn.closed)
        l.conn.send(m.payload.slice(), m.kind === LinkKind.StateFrame ? 'state' : undefined);
    } else if (m.kind === LinkKind.Close) {
      const { code, reason } = readJson<{ code: number; reason: string }>(m.payload);
      this.forget(m.link, l);
      l.conn.close(code, reason);
    }
  }

  private forget(link: number, l: RelayLink): void {
    this.links.delete(link);
    const key = `${l.userId}\0${l.deviceId}`;
    if (this.byDevice.get(key) === link) this.byDevice.delete(key);
  }

  /** Closes every link to `owner` with `moved`: its devices reconnect and find the new owner. */
  ownerLost(owner: string, why: string): void {
    this.watched.delete(owner);
    const { code, reason } = CLOSE_CODES.moved;
    let n = 0;
    for (const [link, l] of [...this.links]) {
      if (l.owner !== owner) continue;
      this.forget(link, l);
      l.conn.close(code, reason);
      n++;
    }
    if (n > 0) this.ctx.log.warn({ owner, devices: n, why }, 'owner lost; relayed devices sent elsewhere');
  }

  private async watchOwners(): Promise<void> {
    const owners = new Set([...this.links.values()].map((l) => l.owner));
    for (const owner of this.watched.keys()) if (!owners.has(owner)) this.watched.delete(owner);
    await Promise.all(
      [...owners].map(async (owner) => {
        let probe: Probe;
        try {
          probe = await probeNode(this.ctx, owner, this.watchEveryMs * 2);
        } catch {
          return; // our own NATS connection is away: nothing to learn about the owner
        }
        if (probe === 'gone') return this.ownerLost(owner, 'its NATS connection closed');
        if (probe === 'silent') {
          const silent = (this.watched.get(owner) ?? 0) + 1;
          this.watched.set(owner, silent);
          if (silent >= 2) this.ownerLost(owner, 'it stopped answering');
        } else this.watched.set(owner, 0);
      }),
    );
  }

  /** Closes every relayed socket with `code` (this node drains) and stops. */
  close(code: { code: number; reason: string }): void {
    clearInterval(this.watchTimer);
    for (const [link, l] of [...this.links]) {
      this.forget(link, l);
      this.ctx.nc.publish(inSubject(this.ctx.name, l.owner, this.ctx.nodeId), detachMessage(link));
      l.conn.close(code.code, code.reason);
    }
    this.sub.unsubscribe();
  }
}

/** The owner's end of a relayed device: a socket as the registry sees it. */
class RemoteConnection implements DeviceConnection {
  closed = false;
  constructor(
    readonly id: number,
    readonly userId: string,
    readonly deviceId: string,
    private readonly hosted: HostedLinks,
    readonly from: string,
    readonly link: number,
  ) {}

  send(frame: Uint8Array, coalesce?: 'state'): void {
    if (this.closed) return;
    this.hosted.send(this, frame, coalesce === 'state');
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.hosted.closed(this, code, reason);
  }
}

export interface HostedLinksDeps {
  registry: SessionRegistry;
  commands: CommandSink;
  /** This node still holds the listener (sends of an owner that lost it are dropped). */
  holds: (userId: string) => boolean;
}

export class HostedLinks {
  private readonly links = new Map<string, RemoteConnection>();
  /** Negative ids: never one of the transport's own. */
  private nextId = -1;
  private readonly sub: Subscription;
  private deps: HostedLinksDeps | undefined;

  constructor(private readonly ctx: RelayContext) {
    this.sub = ctx.nc.subscribe(`${nodeSubject(ctx.name, ctx.nodeId)}.in.*`, {
      callback: (err, msg) => this.fromRelay(err, msg),
    });
  }

  /** The local session server, once it runs (attaches before it are refused). */
  bind(deps: HostedLinksDeps): void {
    this.deps = deps;
  }

  get size(): number {
    return this.links.size;
  }

  async attach(req: Extract<NodeRequest, { t: 'attach' }>): Promise<NodeReply> {
    const deps = this.deps;
    if (!deps || deps.registry.closing) return { t: 'refused', owner: '', why: 'this node is draining' };
    const conn = new RemoteConnection(
      this.nextId--,
      req.principal.userId,
      req.device.id,
      this,
      req.from,
      req.link,
    );
    const key = `${req.from}:${req.link}`;
    this.links.set(key, conn);
    try {
      await deps.registry.attach(req.principal, req.device, conn, req.helloId, req.resume);
      return { t: 'attached' };
    } catch (err) {
      this.links.delete(key);
      conn.closed = true;
      if (err instanceof OwnedElsewhere) return { t: 'refused', owner: err.owner, why: err.message };
      return { t: 'refused', owner: '', why: String(err) };
    }
  }

  send(conn: RemoteConnection, frame: Uint8Array, coalesce: boolean): void {
    if (!this.deps?.holds(conn.userId)) return;
    this.ctx.nc.publish(outSubject(this.ctx.name, conn.from), frameMessage(conn.link, frame, coalesce));
  }

  closed(conn: RemoteConnection, code: number, reason: string): void {
    this.links.delete(`${conn.from}:${conn.link}`);
    this.ctx.nc.publish(outSubject(this.ctx.name, conn.from), closeMessage(conn.link, code, reason));
  }

  private fromRelay(err: Error | null, msg: Msg): void {
    if (err || !this.deps) return;
    const m = readLinkMessage(msg.data);
    const from = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    if (!m) return;
    const conn = this.links.get(`${from}:${m.link}`);
    if (!conn || conn.closed) return;
    if (m.kind === LinkKind.Command) {
      this.deps.commands.command(
        conn.userId,
        conn.deviceId,
        readJson<ClientFrame>(m.payload),
        performance.now(),
      );
    } else if (m.kind === LinkKind.Detach) {
      conn.closed = true;
      this.links.delete(`${from}:${m.link}`);
      this.deps.registry.detach(conn.userId, conn.deviceId, conn);
    }
  }

  /** Closes every hosted link with `code` (this node drains: the devices go elsewhere). */
  closeAll(code: { code: number; reason: string }): void {
    for (const conn of [...this.links.values()]) conn.close(code.code, code.reason);
  }

  stop(): void {
    this.sub.unsubscribe();
  }
}
