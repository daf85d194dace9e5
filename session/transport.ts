/**
 * The uWebSockets.js transport adapter: ALL uWS code of the session server lives here.
 *
 * - One WebSocket route with explicit limits: maxPayloadLength (a hard cap well above the
 *   device layer's frame limit; past it uWS cuts the socket), no compression, our own idle
 *   sweep (ping at half the limit, documented close code past it), and a uWS
 *   maxBackpressure above our own limit so uWS itself never silently drops a frame.
 * - Every connection has a bounded send queue. While uWS reports backpressure, frames wait in
 *   the queue; a queued `state` frame is replaced by a newer one (only the newest state
 *   matters); past `maxBackpressureBytes` buffered + queued, or `maxSendQueue` frames, the
 *   socket is closed with the slow-consumer close code given by the caller.
 * - A server close reaches the peer with its code: its close frame waits until uWS's own
 *   buffer has drained (uWS cuts a socket still buffering a few seconds after `end()`, close
 *   frame and all: 1006), while the session lets go of the device at once. The session layer
 *   hears of every socket's end exactly once, whoever closed it.
 * - send/close are guarded: on a closed socket they do nothing.
 * - Routes nobody registered answer 404 with the error body (`httpError`).
 * - Handlers are wrapped: an exception is logged and never reaches uWS or the process.
 * - HTTP routes get a transport-independent request/response (`HttpRequestLike`), so handlers
 *   (healthz, metrics, the /v1 playlist API) know nothing of uWS.
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import type {
  HttpResponse,
  TemplatedApp,
  WebSocket,
  us_listen_socket,
} from '@trufflesuite/uws-js-unofficial';
import type { Logger } from 'pino';

export interface TransportLimits {
  maxFrameBytes: number;
  maxBackpressureBytes: number;
  maxSendQueue: number;
  /** Seconds with nothing inbound (no frame, no pong) before the socket is closed; 0: never. */
  idleTimeoutS: number;
  /** Close code for a reader that cannot keep up. */
  slowConsumerCloseCode: number;
  /** Close code for a socket idle past `idleTimeoutS`. */
  idleCloseCode: number;
  /** Largest HTTP request body accepted. */
  maxHttpBodyBytes?: number;
}

/**
 * How long a server close waits for the bytes uWS still buffers to reach the kernel before
 * its close frame is written behind them anyway: a reader this far behind is gone.
 */
const CLOSE_DRAIN_MS = 10_000;

/** What the session layer sees of a socket. */
export interface Connection<D> {
  readonly id: number;
  /** Session-layer data attached to this socket. */
  data: D;
  readonly closed: boolean;
  /** Remote address as text (for logs). */
  readonly remote: string;
  /** Sends one binary frame; `coalesce: 'state'` marks a frame only the newest of which matters. */
  send(frame: Uint8Array, coalesce?: 'state'): void;
  /** Graceful close with a code and short reason; no-op once closed. */
  close(code: number, reason: string): void;
  /** Bytes waiting: uWS's buffer plus our queue. */
  bufferedBytes(): number;
}

export interface SocketHandlers<D> {
  /** New socket; returns its initial session-layer data. */
  open(conn: Connection<D | undefined>): D;
  /** One frame; `bytes` is valid only during this call (uWS neuters it afterwards). */
  message(conn: Connection<D>, bytes: Uint8Array, isBinary: boolean): void;
  /**
   * The socket is gone for the session: called exactly once, whoever closed it (a server
   * close's frame may still be draining to a slow reader). Never send from here.
   */
  close(conn: Connection<D>, code: number): void;
}

export interface HttpRequestLike {
  method: string;
  /** Path without the query. */
  path: string;
  query: URLSearchParams;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface HttpResponseLike {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export type HttpHandler = (req: HttpRequestLike) => Promise<HttpResponseLike> | HttpResponseLike;

/**
 * The one error body of every HTTP answer of the session server (the /v1 API, unknown
 * routes, faults): `{"error": {"status", "code", "message"}}`, plus a `reason` where one narrows it.
 */
export function httpError(status: number, code: string, message: string, reason?: string): HttpResponseLike {
  return {
    status,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ error: { status, code, ...(reason ? { reason } : {}), message } }),
  };
}

export interface TransportOptions<D> {
  host: string;
  port: number;
  wsPath: string;
  limits: TransportLimits;
  handlers: SocketHandlers<D>;
  log: Logger;
  /** Called with the raw app before listen, for routes written against uWS (origin/). */
  mountRaw?: (app: TemplatedApp) => void;
  /** HTTP routes by uWS pattern (e.g. '/healthz', '/v1/*'), any method. */
  http?: Record<string, HttpHandler>;
  /** Every close the server makes, with its code (metrics). */
  onServerClose?: (code: number) => void;
}

export interface Transport {
  readonly port: number;
  /** Stops listening and closes every socket with `code`. */
  close(code?: number, reason?: string): void;
  connectionCount(): number;
}

interface SocketData<D> {
  conn?: ConnectionImpl<D>;
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  204: '204 No Content',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

let nextConnectionId = 1;

/**
 * uWS's own limit, past which it DROPS a send (a close frame included: the peer then sees
 * 1006). Never reached: we write to uWS only below the low-water mark (a step's frames at most
 * past it), hold the rest in our queue, and cut a slow reader on our own limit.
 */
const uwsMaxBackpressure = (limits: TransportLimits): number =>
  Math.max(limits.maxBackpressureBytes * 2, 8 << 20);

/** Inbound frames up to this size reach the device layer (which refuses those past its limit). */
export function hardFrameCap(maxFrameBytes: number): number {
  return Math.max(maxFrameBytes * 8, 1 << 20);
}

/**
 * Frames sent during one synchronous step (an actor reacting to a command sends playback,
 * prefetch, state and ack at once) are written together: each connection keeps the step's
 * frames and a microtask flushes them inside one `ws.cork`, so a play costs one write
 * syscall per socket instead of one per frame. Shared by every connection of a transport.
 */
class SendBatcher<D> {
  private dirty: ConnectionImpl<D>[] = [];
  private scheduled = false;
  private readonly run = () => this.flush();

  mark(conn: ConnectionImpl<D>): void {
    this.dirty.push(conn);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.run);
    }
  }

  flush(): void {
    this.scheduled = false;
    const conns = this.dirty;
    this.dirty = [];
    for (const c of conns) c.flushBatch();
  }
}

class ConnectionImpl<D> implements Connection<D> {
  readonly id = nextConnectionId++;
  data!: D;
  closed = false;
  /** The session layer was told the socket is gone (once, whoever closed it). */
  released = false;
  /** A server close whose close frame waits for uWS's buffer to drain (see `close`). */
  private pendingEnd: { code: number; reason: string; timer?: NodeJS.Timeout } | undefined;
  private queue: { frame: Uint8Array; state: boolean }[] = [];
  private queuedBytes = 0;
  /** Something (a frame, a pong) arrived since the idle sweep last looked. */
  heard = true;
  /** performance.now() of the sweep that last found `heard` (the quiet period starts there). */
  quietSince = performance.now();
  /** An idle probe (ping) went out in this quiet period. */
  probed = false;
  /** Frames of the current step, written at the end of it (null when none: idle sockets stay small). */
  private batch: { frame: Uint8Array; state: boolean }[] | null = null;

  constructor(
    private readonly ws: WebSocket<SocketData<D>>,
    private readonly limits: TransportLimits,
    readonly remote: string,
    private readonly onSlow: (conn: ConnectionImpl<D>) => void,
    private readonly batcher: SendBatcher<D>,
    /** Tells the session layer the socket is gone (the transport's `release`). */
    private readonly release: (conn: ConnectionImpl<D>, code: number) => void,
    private readonly onServerClose?: (code: number) => void,
  ) {}

  /** Something arrived: the peer is alive. A flag, not a clock read: this runs per frame. */
  touch(): void {
    this.heard = true;
  }

  /** Asks a quiet peer for a pong (a WebSocket ping: browsers answer it themselves). */
  probe(): void {
    if (this.closed) return;
    this.probed = true;
    try {
      this.ws.ping();
    } catch {
      // Closed underneath us; the close handler follows.
    }
  }

  bufferedBytes(): number {
    return this.closed ? 0 : this.ws.getBufferedAmount() + this.queuedBytes;
  }

  send(frame: Uint8Array, coalesce?: 'state'): void {
    if (this.closed) return;
    const item = { frame, state: coalesce === 'state' };
    if (this.batch) {
      this.batch.push(item);
      return;
    }
    this.batch = [item];
    this.batcher.mark(this);
  }

  /** Writes the step's frames in one corked write, or queues them under backpressure. */
  flushBatch(): void {
    const batch = this.batch;
    this.batch = null;
    if (!batch || this.closed) return;
    if (this.queue.length === 0 && this.ws.getBufferedAmount() < this.lowWater()) {
      this.ws.cork(() => {
        for (const item of batch) {
          if (this.queue.length === 0 && this.ws.getBufferedAmount() < this.lowWater())
            this.ws.send(item.frame, true, false);
          else this.enqueue(item.frame, item.state);
        }
      });
    } else {
      for (const item of batch) this.enqueue(item.frame, item.state);
    }
    if (
      this.queue.length > this.limits.maxSendQueue ||
      this.bufferedBytes() > this.limits.maxBackpressureBytes
    ) {
      this.onSlow(this);
    }
  }

  private enqueue(frame: Uint8Array, state: boolean): void {
    if (state) {
      const i = this.queue.findIndex((q) => q.state);
      if (i >= 0) {
        this.queuedBytes -= this.queue[i]!.frame.byteLength;
        this.queue.splice(i, 1);
      }
    }
    // A waiting frame gets its own buffer, so it does not pin the encoder's slab.
    const copy = frame.slice();
    this.queue.push({ frame: copy, state });
    this.queuedBytes += copy.byteLength;
  }

  /** uWS drained some of its buffer: move queued frames while below the low-water mark. */
  drain(): void {
    if (this.pendingEnd) {
      if (this.ws.getBufferedAmount() === 0) this.end();
      return;
    }
    if (this.closed || this.queue.length === 0) return;
    this.ws.cork(() => {
      while (this.queue.length > 0 && this.ws.getBufferedAmount() < this.lowWater()) {
        const q = this.queue.shift()!;
        this.queuedBytes -= q.frame.byteLength;
        this.ws.send(q.frame, true, false);
      }
    });
  }

  /**
   * A server close. uWS writes the close frame behind whatever it still buffers, and a socket
   * not done within a few seconds of `end()` is cut with that buffer, close frame included:
   * a slow reader then saw 1006 instead of the code. So while uWS buffers, the close frame
   * waits (our queue is dropped, nothing more is sent) until the buffer has drained into the
   * kernel, then goes out with nothing behind it in user space; the session lets go of the
   * device at once either way. A reader that drains nothing in CLOSE_DRAIN_MS gets the
   * close frame behind the buffer anyway.
   */
  close(code: number, reason: string): void {
    if (this.closed) return;
    // Frames sent before the close still leave first (an error frame before `bad_token`).
    if (this.batch) this.flushBatch();
    if (this.closed) return; // the flush found a slow consumer and closed it
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    this.onServerClose?.(code);
    const why = reason.slice(0, 120);
    let buffered: number;
    try {
      buffered = this.ws.getBufferedAmount();
    } catch {
      return; // Already closed underneath us: its close handler ran.
    }
    if (buffered === 0) {
      this.pendingEnd = { code, reason: why };
      this.end();
      return;
    }
    const timer = setTimeout(() => this.end(), CLOSE_DRAIN_MS);
    timer.unref();
    this.pendingEnd = { code, reason: why, timer };
    this.release(this, code);
  }

  /** Writes the pending close frame (uWS then calls the close handler). */
  private end(): void {
    const pending = this.pendingEnd;
    if (!pending) return;
    this.settle();
    try {
      this.ws.end(pending.code, pending.reason);
    } catch {
      // Already closed underneath us: nothing to do.
    }
  }

  /** The socket is gone for good: no close frame is waiting any more. */
  settle(): void {
    if (this.pendingEnd?.timer !== undefined) clearTimeout(this.pendingEnd.timer);
    this.pendingEnd = undefined;
  }

  markClosed(): void {
    this.closed = true;
    this.batch = null;
    this.queue = [];
    this.queuedBytes = 0;
  }

  private lowWater(): number {
    return Math.max(this.limits.maxFrameBytes, this.limits.maxBackpressureBytes >> 2);
  }
}

function writeHttp(res: HttpResponse, out: HttpResponseLike): void {
  res.cork(() => {
    res.writeStatus(STATUS_TEXT[out.status] ?? String(out.status));
    for (const [k, v] of Object.entries(out.headers ?? {})) res.writeHeader(k, v);
    res.end(out.body ?? '');
  });
}

/** Starts listening; resolves once the port is bound (port 0 picks a free one). */
export function startTransport<D>(opts: TransportOptions<D>): Promise<Transport> {
  const { limits, handlers, log } = opts;
  const app = uWS.App();
  const live = new Set<ConnectionImpl<D>>();
  const batcher = new SendBatcher<D>();
  const maxBody = limits.maxHttpBodyBytes ?? 1 << 20;

  const guard =
    <A extends unknown[]>(what: string, fn: (...a: A) => void) =>
    (...a: A): void => {
      try {
        fn(...a);
      } catch (err) {
        log.error({ err }, `transport: ${what} handler failed`);
      }
    };

  /** The session layer hears of a socket's end once, from a server close or uWS's close event. */
  const release = (conn: ConnectionImpl<D>, code: number): void => {
    if (conn.released) return;
    conn.released = true;
    conn.markClosed();
    live.delete(conn);
    guard('close', () => handlers.close(conn, code))();
  };

  app.ws<SocketData<D>>(opts.wsPath, {
    // Well above our limit, so the device layer closes an oversized frame with its documented
    // code (frame_too_large); only frames past this hard cap are cut by uWS itself (abrupt).
    maxPayloadLength: hardFrameCap(limits.maxFrameBytes),
    // Above our own limit: uWS must never drop a frame silently; we close slow readers first.
    maxBackpressure: uwsMaxBackpressure(limits),
    closeOnBackpressureLimit: 0,
    compression: uWS.DISABLED,
    // Idle sockets are closed by our own sweep (below) with the documented code; uWS's timer
    // would cut them without one.
    idleTimeout: 0,
    sendPingsAutomatically: false,
    open: guard('open', (ws: WebSocket<SocketData<D>>) => {
      const remote = Buffer.from(ws.getRemoteAddressAsText()).toString();
      const conn = new ConnectionImpl<D>(
        ws,
        limits,
        remote,
        (c) => {
          log.warn({ conn: c.id, buffered: c.bufferedBytes() }, 'closing slow consumer');
          c.close(limits.slowConsumerCloseCode, 'slow consumer');
        },
        batcher,
        release,
        opts.onServerClose,
      );
      ws.getUserData().conn = conn;
      live.add(conn);
      conn.data = handlers.open(conn as Connection<D | undefined>);
    }),
    message: guard('message', (ws: WebSocket<SocketData<D>>, message: ArrayBuffer, isBinary: boolean) => {
      const conn = ws.getUserData().conn;
      if (!conn || conn.closed) return;
      conn.touch();
      handlers.message(conn, new Uint8Array(message), isBinary);
    }),
    pong: guard('pong', (ws: WebSocket<SocketData<D>>) => ws.getUserData().conn?.touch()),
    drain: guard('drain', (ws: WebSocket<SocketData<D>>) => ws.getUserData().conn?.drain()),
    close: guard('close', (ws: WebSocket<SocketData<D>>, code: number) => {
      const conn = ws.getUserData().conn;
      if (!conn) return;
      conn.settle();
      release(conn, code);
    }),
  });

  for (const [pattern, handler] of Object.entries(opts.http ?? {})) {
    app.any(pattern, (res, req) => {
      let aborted = false;
      res.onAborted(() => {
        aborted = true;
      });
      const headers: Record<string, string> = {};
      req.forEach((k, v) => {
        headers[k] = v;
      });
      const method = req.getCaseSensitiveMethod().toUpperCase();
      const path = req.getUrl();
      const query = new URLSearchParams(req.getQuery() ?? '');
      const chunks: Buffer[] = [];
      let size = 0;
      const respond = (out: HttpResponseLike) => {
        if (!aborted) writeHttp(res, out);
      };
      const run = () => {
        Promise.resolve()
          .then(() => handler({ method, path, query, headers, body: Buffer.concat(chunks) }))
          .then(respond, (err: unknown) => {
            log.error({ err, path }, 'http handler failed');
            respond(httpError(500, 'internal', 'internal error'));
          });
      };
      if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') {
        run();
        return;
      }
      res.onData((ab, isLast) => {
        if (aborted) return;
        size += ab.byteLength;
        if (size > maxBody) {
          aborted = true;
          writeHttp(res, httpError(413, 'bad_request', `request body larger than ${maxBody} bytes`));
          return;
        }
        chunks.push(Buffer.from(ab.slice(0)));
        if (isLast) run();
      });
    });
  }

  opts.mountRaw?.(app);

  // Anything no route above takes (uWS prefers every more specific pattern): a 404 with the
  // error body, not an empty reply.
  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    writeHttp(res, httpError(404, 'not_found', `no route for ${method} ${path}`.slice(0, 300)));
  });

  // The idle sweep: a quiet socket gets a ping at half the limit; one with nothing inbound
  // (no frame, no pong) for the whole limit is closed with the idle close code.
  const idleMs = limits.idleTimeoutS * 1000;
  const sweep =
    idleMs > 0
      ? setInterval(
          guard('idle sweep', () => {
            const now = performance.now();
            for (const c of live) {
              if (c.heard) {
                // Quiet periods are measured from the sweep that last saw traffic: off by
                // at most one sweep interval, which is a quarter of the limit or less.
                c.heard = false;
                c.quietSince = now;
                c.probed = false;
                continue;
              }
              const quiet = now - c.quietSince;
              if (quiet >= idleMs) c.close(limits.idleCloseCode, 'idle timeout');
              else if (quiet >= idleMs / 2 && !c.probed) c.probe();
            }
          }),
          Math.min(1000, Math.max(50, idleMs / 4)),
        )
      : undefined;
  sweep?.unref();

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (token: us_listen_socket | false) => {
      if (!token) {
        if (sweep) clearInterval(sweep);
        reject(new Error(`could not listen on ${opts.host}:${opts.port}`));
        return;
      }
      const port = uWS.us_socket_local_port(token);
      resolve({
        port,
        connectionCount: () => live.size,
        close(code = 1001, reason = 'server shutting down') {
          if (sweep) clearInterval(sweep);
          uWS.us_listen_socket_close(token);
          for (const c of [...live]) c.close(code, reason);
          // Forced close of anything still half-open, so the event loop can exit.
          setImmediate(() => (app as TemplatedApp & { close(): void }).close());
        },
      });
    });
  });
}
