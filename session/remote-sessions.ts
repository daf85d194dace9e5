/**
 * Devices served through another node (`RemoteSessions`, implemented by cluster/), and
 * `placedSessions`: what the device sockets bind to in cluster mode (placement.ts).
 */
import type { ClientFrame, DeviceHello, ResumePoint } from '../protocol/messages.ts';
import type { Principal } from './auth.ts';
import type { CommandSink } from './device-socket.ts';
import { OwnedElsewhere, type SessionOwnership } from './placement.ts';
import type { DeviceConnection, SessionRegistry } from './registry.ts';

export interface RemoteSessions {
  /**
   * Binds `conn` to the listener's session on node `owner`: resolves once the owner took it
   * (its `welcome` is on the way to `conn`); rejects with `OwnedElsewhere` naming another node
   * when the session moved meanwhile, or an error when the owner is gone.
   */
  attach(
    owner: string,
    principal: Principal,
    device: DeviceHello,
    conn: DeviceConnection,
    helloId: number,
    resume?: ResumePoint,
  ): Promise<void>;
  /** `conn` closed; false when it was not relayed. */
  detach(userId: string, deviceId: string, conn: DeviceConnection): boolean;
  /** A command of a relayed device; false when the device is not relayed. */
  command(userId: string, deviceId: string, frame: ClientFrame, receivedAt: number): boolean;
}

/** What the device sockets bind to: the registry's attach/detach with the router's commands. */
export interface DeviceSessions extends CommandSink {
  readonly closing: boolean;
  attach(
    principal: Principal,
    device: DeviceHello,
    conn: DeviceConnection,
    helloId: number,
    resume?: ResumePoint,
  ): Promise<void>;
  detach(userId: string, deviceId: string, conn: DeviceConnection): void;
}

/** Tries of a hello whose owner moves while it is being bound (a drain, a takeover). */
const MAX_PLACEMENT_TRIES = 4;

/**
 * Device sockets over the local registry and router, with devices of listeners owned by
 * another node relayed to it. Local devices' sends are dropped once this node no longer
 * holds the listener (the frames of an owner that lost its lease never leave).
 */
export function placedSessions(
  registry: SessionRegistry,
  router: CommandSink,
  ownership: SessionOwnership,
  remote: RemoteSessions,
): DeviceSessions {
  // The registry knows the fenced wrapper; the socket layer closes with the raw connection.
  const fenced = new WeakMap<DeviceConnection, DeviceConnection>();
  const fence = (userId: string, conn: DeviceConnection): DeviceConnection => {
    const wrapped: DeviceConnection = {
      id: conn.id,
      get closed() {
        return conn.closed;
      },
      send: (frame, coalesce) => {
        if (ownership.holds(userId)) conn.send(frame, coalesce);
      },
      close: (code, reason) => conn.close(code, reason),
    };
    fenced.set(conn, wrapped);
    return wrapped;
  };
  return {
    get closing() {
      return registry.closing;
    },
    async attach(principal, device, conn, helloId, resume) {
      let last: unknown;
      for (let i = 0; i < MAX_PLACEMENT_TRIES; i++) {
        try {
          return await registry.attach(principal, device, fence(principal.userId, conn), helloId, resume);
        } catch (err) {
          if (!(err instanceof OwnedElsewhere)) throw err;
          last = err;
          try {
            return await remote.attach(err.owner, principal, device, conn, helloId, resume);
          } catch (moved) {
            // The owner drained or died while the hello was on its way: place it again.
            last = moved;
          }
        }
      }
      throw last;
    },
    detach(userId, deviceId, conn) {
      if (remote.detach(userId, deviceId, conn)) return;
      const wrapped = fenced.get(conn);
      if (wrapped) registry.detach(userId, deviceId, wrapped);
    },
    command(userId, deviceId, frame, receivedAt) {
      if (!remote.command(userId, deviceId, frame, receivedAt))
        router.command(userId, deviceId, frame, receivedAt);
    },
  };
}
