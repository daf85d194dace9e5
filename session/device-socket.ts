/**
 * The protocol edge of one device socket: binary-only frames, size limit, token bucket,
 * decode + validate (protocol/), hello-first with token check, then commands to the session.
 * Everything that can go wrong with a frame becomes an `error` frame or a documented close;
 * nothing here throws into the transport.
 */
import type { Logger } from 'pino';
import { CLOSE_CODES, type CloseName } from '../protocol/close-codes.ts';
import { errorFrame, type ErrorCode, type ErrorReason, type ProtocolErrorBody } from '../protocol/errors.ts';
import type { ClientFrame, HelloFrame, ServerFrame } from '../protocol/messages.ts';
import { isSupportedProtocol } from '../protocol/version.ts';
import type { Authenticator, Principal } from './auth.ts';
import type { SessionMetrics } from './metrics.ts';
import { InboundLimit } from './rate-limit.ts';
import type { DeviceConnection, SessionRegistry } from './registry.ts';
import type { Connection, SocketHandlers } from './transport.ts';

/** `t`: the frame's type tag, when it could be read (a hello that fails validation closes). */
export type InboundDecode =
  { ok: true; frame: ClientFrame } | { ok: false; error: ProtocolErrorBody & { t?: string } };

/** The codec, as the socket layer needs it (bound to protocol/ in wire.ts). */
export interface Wire {
  decode(bytes: Uint8Array): InboundDecode;
  encode(frame: ServerFrame): Uint8Array;
}

/** Commands after hello go to the user's live session. */
export interface CommandSink {
  command(userId: string, deviceId: string, frame: ClientFrame, receivedAt: number): void;
}

type Phase = 'hello' | 'authenticating' | 'ready' | 'closed';

export interface DeviceSocketState {
  phase: Phase;
  limit: InboundLimit;
  principal?: Principal;
  deviceId?: string;
  helloTimer?: NodeJS.Timeout;
  /** Commands that arrived while the hello was being checked, in order. */
  held?: { frame: ClientFrame; receivedAt: number }[];
}

/** Commands a client may pipeline behind its hello before they are refused. */
export const MAX_HELD_FRAMES = 32;

export interface DeviceSocketDeps {
  wire: Wire;
  auth: Authenticator;
  /** Binds hellos to sessions: the registry itself, or placement over it (placement.ts). */
  registry: Pick<SessionRegistry, 'attach' | 'detach' | 'closing'>;
  sink: CommandSink;
  metrics: SessionMetrics;
  log: Logger;
  maxFrameBytes: number;
  rateLimit: { rate: number; burst: number };
  helloTimeoutMs?: number;
  now?: () => number;
}

/** Builds the transport handlers for the device WebSocket route. */
export function deviceSocketHandlers(deps: DeviceSocketDeps): SocketHandlers<DeviceSocketState> {
  const { wire, metrics, log } = deps;
  const now = deps.now ?? Date.now;
  const helloTimeoutMs = deps.helloTimeoutMs ?? 10_000;

  const send = (conn: Connection<DeviceSocketState>, frame: ServerFrame) => {
    if (conn.closed) return;
    metrics.frameOut(frame.t);
    conn.send(wire.encode(frame), frame.t === 'state' ? 'state' : undefined);
  };

  const fail = <C extends ErrorCode>(
    conn: Connection<DeviceSocketState>,
    code: C,
    reason: ErrorReason<C>,
    message: string,
    id?: number,
    extra?: { retry_after_ms?: number },
  ) => {
    metrics.errors.inc({ code });
    send(conn, errorFrame({ code, reason, message, id, ...extra }));
  };

  // The phase is left as it is: the transport's close handler (below) runs for every close,
  // this one included, and it is what detaches a device bound to a session. Marking the phase
  // closed here made it skip the detach, so a device the server closed stayed connected.
  const close = (conn: Connection<DeviceSocketState>, name: CloseName) => {
    const info = CLOSE_CODES[name];
    conn.close(info.code, info.reason);
  };

  const hello = async (conn: Connection<DeviceSocketState>, frame: HelloFrame) => {
    const st = conn.data;
    st.phase = 'authenticating';
    if (!isSupportedProtocol(frame.protocol)) {
      fail(conn, 'bad_request', 'invalid_field', `protocol ${frame.protocol} is not supported`, frame.id);
      close(conn, 'unsupported_protocol');
      return;
    }
    const result = await deps.auth.verify(frame.token ?? '');
    if (conn.closed) return;
    if (!result.ok) {
      // The error says why, the documented close code what to do; no session is touched.
      log.info({ conn: conn.id, reason: result.reason }, 'hello refused');
      const reason =
        result.reason === 'missing'
          ? 'token_missing'
          : result.reason === 'expired'
            ? 'token_expired'
            : 'token_invalid';
      fail(conn, 'unauthorized', reason, result.message, frame.id);
      close(conn, result.reason === 'expired' ? 'token_expired' : 'bad_token');
      return;
    }
    st.principal = result.principal;
    st.deviceId = frame.device.id;
    if (st.helloTimer) clearTimeout(st.helloTimer);
    st.helloTimer = undefined;
    try {
      await deps.registry.attach(
        result.principal,
        frame.device,
        conn as DeviceConnection,
        frame.id,
        frame.resume,
      );
    } catch (err) {
      const shutting = deps.registry.closing;
      if (!shutting) log.error({ err, user: result.principal.userId }, 'attaching session failed');
      fail(
        conn,
        'unavailable',
        shutting ? 'shutting_down' : 'store_unavailable',
        shutting ? 'the server is shutting down; reconnect' : 'session could not be loaded; retry',
        frame.id,
      );
      close(conn, 'server_shutdown');
      return;
    }
    if (conn.closed) return;
    st.phase = 'ready';
    // Commands pipelined behind the hello run now, in the order they came.
    const held = st.held;
    st.held = undefined;
    for (const f of held ?? []) {
      if (conn.closed) return;
      command(conn, f.frame, f.receivedAt);
    }
  };

  /** A validated command of a ready connection, to the user's session. */
  const command = (conn: Connection<DeviceSocketState>, frame: ClientFrame, receivedAt: number) => {
    const st = conn.data;
    if (frame.t === 'hello') {
      fail(conn, 'conflict', 'already_authenticated', 'this connection already said hello', frame.id);
      return;
    }
    const p = st.principal!;
    if (p.exp * 1000 <= now()) {
      fail(
        conn,
        'unauthorized',
        'token_expired',
        'the session token expired; reconnect with a fresh one',
        frame.id,
      );
      close(conn, 'token_expired');
      return;
    }
    deps.sink.command(p.userId, st.deviceId!, frame, receivedAt);
  };

  return {
    open(conn) {
      metrics.connections.inc();
      // Every field in the literal: fields added later would cost each socket a property store.
      const st: DeviceSocketState = {
        phase: 'hello',
        limit: new InboundLimit(deps.rateLimit.rate, deps.rateLimit.burst),
        principal: undefined,
        deviceId: undefined,
        helloTimer: undefined,
        held: undefined,
      };
      st.helloTimer = setTimeout(() => {
        if (st.phase === 'hello' || st.phase === 'authenticating')
          close(conn as Connection<DeviceSocketState>, 'hello_timeout');
      }, helloTimeoutMs);
      st.helloTimer.unref?.();
      return st;
    },

    message(conn, bytes, isBinary) {
      const st = conn.data;
      const receivedAt = performance.now();
      if (st.phase === 'closed') return;
      const admission = st.limit.admit();
      if (admission !== 'accept') {
        metrics.framesIn.inc({ type: 'rate_limited' });
        // A client that keeps pushing after being told is cut, so refusals cost us little:
        // at most `burst` unpaid ones are read (for their id) before the cut.
        if (admission === 'cut') {
          close(conn, 'flood');
          return;
        }
        // Every request is answered once: a refused one by id, so its caller can retry it.
        const decoded = isBinary && bytes.byteLength <= deps.maxFrameBytes ? wire.decode(bytes) : undefined;
        const id = decoded === undefined ? undefined : decoded.ok ? decoded.frame.id : decoded.error.id;
        if (id !== undefined || st.limit.firstRefusal) {
          const retry = Math.ceil(1000 / deps.rateLimit.rate);
          fail(conn, 'rate_limited', 'too_many_requests', 'too many requests on this connection', id, {
            retry_after_ms: retry,
          });
        }
        return;
      }
      if (bytes.byteLength > deps.maxFrameBytes) {
        metrics.framesIn.inc({ type: 'oversized' });
        close(conn, 'frame_too_large');
        return;
      }
      if (!isBinary) {
        metrics.framesIn.inc({ type: 'text' });
        fail(conn, 'bad_request', 'text_frame', 'text frames are not accepted; send binary MessagePack');
        return;
      }
      const decoded = wire.decode(bytes);
      if (!decoded.ok && st.phase === 'hello' && decoded.error.t === 'hello') {
        // A hello that fails validation cannot open a session: say why, then close (terminal).
        metrics.framesIn.inc({ type: 'invalid' });
        metrics.errors.inc({ code: decoded.error.code });
        send(conn, errorFrame(decoded.error));
        close(conn, 'bad_hello');
        return;
      }
      if (!decoded.ok) {
        metrics.framesIn.inc({ type: 'invalid' });
        metrics.errors.inc({ code: decoded.error.code });
        send(conn, errorFrame(decoded.error));
        return;
      }
      const frame = decoded.frame;
      metrics.frameIn(frame.t);

      if (frame.t === 'ping') {
        send(conn, { t: 'pong', id: frame.id, server_time: now() });
        return;
      }
      if (st.phase === 'ready') return command(conn, frame, receivedAt);
      if (frame.t === 'hello') {
        if (st.phase === 'hello') {
          void hello(conn, frame).catch((err: unknown) => {
            log.error({ err }, 'hello failed');
            close(conn, 'server_shutdown');
          });
        } else {
          fail(conn, 'conflict', 'already_authenticated', 'hello already in progress', frame.id);
        }
        return;
      }
      if (st.phase === 'authenticating') {
        // Pipelined behind the hello: held (bounded) and run once the session is bound.
        st.held ??= [];
        if (st.held.length >= MAX_HELD_FRAMES) {
          fail(
            conn,
            'rate_limited',
            'too_many_requests',
            'too many frames before the hello was answered',
            frame.id,
            {
              retry_after_ms: 100,
            },
          );
          return;
        }
        st.held.push({ frame, receivedAt });
        return;
      }
      fail(conn, 'unauthorized', 'hello_required', 'the first frame must be hello', frame.id);
    },

    // Every close, whoever starts it (the peer, this edge, the registry, the router), comes
    // here exactly once: the transport calls it once per socket. The registry detaches only
    // the connection bound to the device, so a replaced or never-bound socket changes nothing.
    close(conn) {
      metrics.connections.dec();
      const st = conn.data;
      if (!st) return;
      if (st.helloTimer) clearTimeout(st.helloTimer);
      const wasBound = st.phase === 'ready' || st.phase === 'authenticating';
      st.phase = 'closed';
      if (wasBound && st.principal && st.deviceId) {
        deps.registry.detach(st.principal.userId, st.deviceId, conn as DeviceConnection);
      }
    },
  };
}
