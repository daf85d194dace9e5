/**
 * Typed client SDK for the playback session server, for Node (pass `ws`'s WebSocket) and
 * browsers (the global WebSocket).
 *
 * - `connect()` says hello with a token and resolves with the `welcome`.
 * - Command methods return promises: resolved by the `ack`, rejected with a
 *   `SessionRequestError` carrying the server's code/reason, `ConnectionClosedError` (its
 *   subclasses `ClientClosedError` after close() and `SessionEndedError` once reconnecting
 *   gave up), `RequestTimeoutError` or `CommandQueueFullError`.
 * - Commands are sent only on a welcomed connection. Issued while (re)connecting they are
 *   held (at most MAX_HELD_COMMANDS) and sent after the welcome, in order; the request
 *   timeout counts from the call.
 * - Events: welcome, state, playback, prefetch, warning, error (frames without a request id),
 *   close, reconnecting, ended.
 * - Reconnect: a lost connection or a failed attempt of any kind (token provider throws,
 *   socket fails, hello times out or is refused) is followed by the next attempt with
 *   backoff, resuming from the last `{version, epoch}`, up to `maxAttempts` in a row. The
 *   close code decides (protocol/close-codes.ts): "reconnect" retries (after a flood close no
 *   sooner than `floodDelayMs`); "reauth" retries once with a fresh token from the provider
 *   (with a fixed token it ends); "terminal" and a normal close end. Ending emits `ended`. Commands are never replayed (at-most-once): a
 *   command sent on a connection that drops rejects with ConnectionClosedError.
 * - An optional prefetch cache fetches the chunks every `prefetch` frame names and verifies
 *   them against the chunk table (refetching once on a mismatch).
 */
import { CLOSE_CODES, closeAction, type CloseAction } from '../protocol/close-codes.ts';
import { ERROR_CODES } from '../protocol/errors.ts';
import type {
  ClientFrame,
  DeviceHello,
  ErrorFrame,
  PlaybackFrame,
  PlayOffset,
  PrefetchFrame,
  Quality,
  RepeatMode,
  ServerFrame,
  SessionState,
  WarningFrame,
  WelcomeFrame,
} from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { TypedEmitter } from './emitter.ts';
import {
  ClientClosedError,
  CommandQueueFullError,
  ConnectionClosedError,
  RequestTimeoutError,
  SessionEndedError,
  SessionRequestError,
  type SessionEndReason,
} from './errors.ts';
import type { PrefetchCache } from './prefetch-cache.ts';
import { clientWire, type ClientWire } from './wire.ts';

/** The subset of the WebSocket API the client uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array | ArrayBuffer | string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface SessionClientOptions {
  /** ws://host:port/v1/ws */
  url: string;
  /** A token, or a provider called on every (re)connect, so "reauth" can fetch a fresh one. */
  token: string | (() => string | Promise<string>);
  device: DeviceHello;
  /** WebSocket constructor; defaults to globalThis.WebSocket. In Node pass `ws`'s. */
  WebSocket?: WebSocketCtor;
  requestTimeoutMs?: number;
  reconnect?: {
    enabled?: boolean;
    minDelayMs?: number;
    maxDelayMs?: number;
    maxAttempts?: number;
    /** The least wait after a `flood` close (4005: "reconnect only after several seconds"); 5000. */
    floodDelayMs?: number;
  };
  prefetchCache?: PrefetchCache;
  wire?: ClientWire;
}

export interface CloseInfo {
  code: number;
  reason: string;
  /** What the close calls for (for a refused hello closed without a code of ours: what the refusal does). */
  action: CloseAction | 'none';
  willReconnect: boolean;
}

export interface SessionClientEvents extends Record<string, unknown> {
  welcome: WelcomeFrame;
  state: SessionState;
  playback: PlaybackFrame;
  prefetch: PrefetchFrame;
  warning: WarningFrame;
  /** An `error` frame that answers no request (e.g. rate_limited, text_frame). */
  error: ErrorFrame;
  /** A socket closed (the connection's, or an attempt's before its welcome). */
  close: CloseInfo;
  /** A connection was lost or an attempt failed (`cause` says how); the next starts in `delayMs`. */
  reconnecting: { attempt: number; delayMs: number; cause: Error };
  /** The client stopped for good without `close()` being called (see SessionEndedError.reason). */
  ended: SessionEndedError;
}

/** Commands issued while (re)connecting wait for the welcome, at most this many. */
export const MAX_HELD_COMMANDS = 64;

/** A request from its call to its answer: held until there is a welcomed connection, then sent. */
interface Request {
  readonly id: number;
  readonly frame: ClientFrame;
  readonly resolve: (frame: ServerFrame) => void;
  readonly reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
  sent: boolean;
}

/** One connection attempt: token, socket, hello, up to its welcome or its failure. */
interface Attempt {
  done: boolean;
  /** Token, socket open and hello answered must all happen before it. */
  deadline: ReturnType<typeof setTimeout> | undefined;
  ws?: WebSocketLike;
  helloId?: number;
  /** The `error` frame that refused the hello; the socket is closing, its close code decides. */
  refusal?: SessionRequestError;
}

/**
 * idle: never connected; connecting: an attempt in flight or the next one scheduled (commands
 * are held); ready: welcomed (commands are sent); ended: closed by the caller or given up.
 */
type Phase = 'idle' | 'connecting' | 'ready' | 'ended';

const OPEN = 1;

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * What a refused hello calls for when the socket's close carries no code of ours (the server
 * left it open, or the close seen is our own echoed): an unauthorized hello is a token problem
 * (reauth), a retryable refusal is worth another attempt, any other will not change.
 */
function refusalAction(refusal: SessionRequestError): CloseAction {
  if (refusal.code === 'unauthorized') return 'reauth';
  const info = (ERROR_CODES as Record<string, { retryable: boolean } | undefined>)[refusal.code];
  return info && !info.retryable ? 'terminal' : 'reconnect';
}

export class SessionClient extends TypedEmitter<SessionClientEvents> {
  private ws: WebSocketLike | undefined;
  private phase: Phase = 'idle';
  private attempt: Attempt | undefined;
  /** Callers of connect() waiting for the attempt in flight. */
  private waiters: { resolve: (w: WelcomeFrame) => void; reject: (err: Error) => void }[] = [];
  /** Requests issued while not ready, in order; sent after the next welcome. */
  private held: Request[] = [];
  /** Requests sent on the current connection, by id, until answered. */
  private readonly pending = new Map<number, Request>();
  /**
   * Request ids start at a random point per client: the session remembers recent
   * `device:id` pairs to ack retried frames without applying them twice, so a new client
   * (a new process for the same device) counting from 1 again would have its first commands
   * taken for retries of the previous connection's and silently not applied.
   */
  private nextId = 1 + Math.floor(Math.random() * 0x7fff_ffff);
  private lastState: SessionState | undefined;
  private lastWelcome: WelcomeFrame | undefined;
  /** Why requests are refused once ended (the caller's close or the end of reconnecting). */
  private endError: ConnectionClosedError | undefined;
  /** Reconnect attempts since the last welcome. */
  private attempts = 0;
  /** Reauth closes (or unauthorized hellos) since the last welcome. */
  private reauths = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** The next hello goes without a resume point (renewUrls). */
  private freshHello = false;
  private readonly wire: ClientWire;
  private readonly Ctor: WebSocketCtor;

  constructor(private readonly opts: SessionClientOptions) {
    super((err) => console.error('session client listener failed', err));
    const ctor = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
    if (!ctor)
      throw new Error('no WebSocket implementation: pass options.WebSocket (e.g. from the ws package)');
    this.Ctor = ctor;
    this.wire = opts.wire ?? clientWire;
  }

  /** The newest state seen (welcome or state frame). */
  get state(): SessionState | undefined {
    return this.lastState;
  }

  get deviceId(): string {
    return this.opts.device.id;
  }

  get prefetchCache(): PrefetchCache | undefined {
    return this.opts.prefetchCache;
  }

  /**
   * Opens the socket and says hello (resuming when a state is known); settles with this
   * attempt: resolves with its welcome, or rejects with its failure (ConnectionClosedError,
   * RequestTimeoutError, SessionRequestError, the token provider's error, ClientClosedError
   * after close()). A failure that calls for it still schedules the next attempt: close()
   * stops that. Already connected: resolves with the current welcome.
   */
  connect(): Promise<WelcomeFrame> {
    if (this.phase === 'ready' && this.lastWelcome) return Promise.resolve(this.lastWelcome);
    const welcome = new Promise<WelcomeFrame>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.attempt) {
      if (this.phase !== 'connecting') {
        this.attempts = 0;
        this.reauths = 0;
        this.endError = undefined;
      }
      clearTimeout(this.reconnectTimer);
      this.reconnectTimer = undefined;
      this.startAttempt();
    }
    return welcome;
  }

  /**
   * Closes for good (no reconnect): an attempt in flight is cancelled (no socket is opened
   * after this), and connect(), held and pending requests reject with ClientClosedError.
   */
  close(code = 1000, reason = 'client closed'): void {
    const err = new ClientClosedError(code, reason);
    this.phase = 'ended';
    this.endError = err;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (this.attempt) this.finishAttempt(this.attempt, err);
    const ws = this.ws;
    this.ws = undefined;
    if (ws) {
      // Its close is still reported, and nothing else from it.
      ws.onmessage = null;
      ws.onclose = (ev) =>
        this.emit('close', {
          code: ev.code,
          reason: ev.reason,
          action: closeAction(ev.code),
          willReconnect: false,
        });
      ws.close(code, reason);
    }
    this.failRequests(err);
  }

  /**
   * Gets the current play's URLs signed afresh, for a device whose chunk fetch was refused
   * (403: expired, or a key rotated) before the server's own renewal came: reconnects with a
   * fresh hello (no resume point), which the server answers, for the active device, with the
   * play's `playback` again (same `play_id`, new URLs, the position of now). Requests in
   * flight on the old connection reject with ConnectionClosedError, as on any lost
   * connection. Resolves with the new welcome.
   */
  renewUrls(): Promise<WelcomeFrame> {
    const ws = this.ws;
    if (this.phase !== 'ready' || !ws) return this.connect();
    this.ws = undefined;
    ws.onmessage = null;
    ws.onclose = null;
    ws.close(1000, 'renewing urls');
    this.failPending(new ConnectionClosedError(1000, 'renewing urls'));
    this.freshHello = true;
    this.phase = 'connecting';
    return this.connect();
  }

  // ---- commands ---------------------------------------------------------------------

  play(args: {
    context?: string;
    uris?: string[];
    offset?: PlayOffset;
    position_ms?: number;
  }): Promise<void> {
    return this.command({ t: 'play', id: 0, ...args });
  }
  pause(): Promise<void> {
    return this.command({ t: 'pause', id: 0 });
  }
  resume(): Promise<void> {
    return this.command({ t: 'resume', id: 0 });
  }
  seek(positionMs: number): Promise<void> {
    return this.command({ t: 'seek', id: 0, position_ms: positionMs });
  }
  next(): Promise<void> {
    return this.command({ t: 'next', id: 0 });
  }
  previous(): Promise<void> {
    return this.command({ t: 'previous', id: 0 });
  }
  shuffle(on: boolean): Promise<void> {
    return this.command({ t: 'shuffle', id: 0, on });
  }
  repeat(mode: RepeatMode): Promise<void> {
    return this.command({ t: 'repeat', id: 0, mode });
  }
  queueAdd(uri: string): Promise<void> {
    return this.command({ t: 'queue.add', id: 0, uri });
  }
  quality(quality: Quality): Promise<void> {
    return this.command({ t: 'quality', id: 0, quality });
  }
  volume(percent: number, deviceId?: string): Promise<void> {
    return this.command({ t: 'volume', id: 0, percent, ...(deviceId ? { device_id: deviceId } : {}) });
  }
  transfer(deviceId: string, play?: boolean): Promise<void> {
    return this.command({
      t: 'transfer',
      id: 0,
      device_id: deviceId,
      ...(play === undefined ? {} : { play }),
    });
  }
  progress(args: {
    play_id: string;
    position_ms: number;
    buffered_ms: number;
    bandwidth_kbps: number;
  }): Promise<void> {
    return this.command({ t: 'progress', id: 0, ...args });
  }
  ended(playId: string): Promise<void> {
    return this.command({ t: 'ended', id: 0, play_id: playId });
  }
  /**
   * This device logs out: its play ends (reason `logout`) and, after the ack, the server
   * closes the socket with 4503 (terminal): the client then emits `ended` and stays closed.
   */
  logout(): Promise<void> {
    return this.command({ t: 'logout', id: 0 });
  }
  /** Round trip; resolves with the server time of the pong. */
  async ping(): Promise<number> {
    const pong = await this.request({ t: 'ping', id: 0 });
    return pong.t === 'pong' ? pong.server_time : NaN;
  }

  /** Sends raw bytes (tests of hostile input). */
  sendRaw(data: Uint8Array | string): void {
    this.ws?.send(data);
  }

  // ---- internals --------------------------------------------------------------------

  private async command(frame: ClientFrame): Promise<void> {
    await this.request(frame);
  }

  private takeId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    return id;
  }

  /**
   * Sends on a welcomed connection, or holds the request until the next welcome (never
   * before: the server refuses commands ahead of a hello). The timeout counts from the call.
   */
  private request(frame: ClientFrame): Promise<ServerFrame> {
    if (this.phase === 'idle' || this.phase === 'ended')
      return Promise.reject(this.endError ?? new ConnectionClosedError(1006, 'not connected'));
    const sendNow = this.phase === 'ready' && this.ws?.readyState === OPEN;
    if (!sendNow && this.held.length >= MAX_HELD_COMMANDS)
      return Promise.reject(new CommandQueueFullError(frame.t, MAX_HELD_COMMANDS));
    const id = this.takeId();
    const timeoutMs = this.opts.requestTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const req: Request = {
        id,
        frame: { ...frame, id } as ClientFrame,
        resolve,
        reject,
        sent: false,
        timer: setTimeout(() => {
          if (req.sent) this.pending.delete(id);
          else this.held.splice(this.held.indexOf(req), 1);
          reject(new RequestTimeoutError(frame.t, timeoutMs));
        }, timeoutMs),
      };
      if (sendNow) this.send(req);
      else this.held.push(req);
    });
  }

  private send(req: Request): void {
    req.sent = true;
    this.pending.set(req.id, req);
    this.ws!.send(this.wire.encode(req.frame));
  }

  private startAttempt(): void {
    const timeoutMs = this.opts.requestTimeoutMs ?? 10_000;
    const attempt: Attempt = { done: false, deadline: undefined };
    attempt.deadline = setTimeout(
      () => this.attemptFailed(attempt, attempt.refusal ?? new RequestTimeoutError('hello', timeoutMs)),
      timeoutMs,
    );
    this.attempt = attempt;
    this.phase = 'connecting';
    const { token } = this.opts;
    Promise.resolve()
      .then(() => (typeof token === 'function' ? token() : token))
      .then(
        (t) => {
          if (!attempt.done) this.openSocket(attempt, t);
        },
        (err: unknown) => this.attemptFailed(attempt, asError(err)),
      );
  }

  private openSocket(attempt: Attempt, token: string): void {
    let ws: WebSocketLike;
    try {
      ws = new this.Ctor(this.opts.url);
    } catch (err) {
      this.attemptFailed(attempt, asError(err));
      return;
    }
    ws.binaryType = 'arraybuffer';
    attempt.ws = ws;
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws || attempt.done) return;
      const resume =
        this.lastState && !this.freshHello
          ? { version: this.lastState.version, epoch: this.lastState.epoch }
          : undefined;
      this.freshHello = false;
      attempt.helloId = this.takeId();
      ws.send(
        this.wire.encode({
          t: 'hello',
          id: attempt.helloId,
          token,
          device: this.opts.device,
          protocol: PROTOCOL_VERSION,
          ...(resume ? { resume } : {}),
        }),
      );
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws) this.onFrame(ev.data);
    };
    ws.onerror = () => {
      // The close event follows with the code; errors are reported there.
    };
    ws.onclose = (ev) => this.onSocketClose(ws, ev.code, ev.reason);
  }

  /** Marks the attempt over and settles connect() callers with its outcome. */
  private finishAttempt(attempt: Attempt, outcome: WelcomeFrame | Error): void {
    attempt.done = true;
    clearTimeout(attempt.deadline);
    if (this.attempt === attempt) this.attempt = undefined;
    for (const w of this.waiters.splice(0)) {
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome);
    }
  }

  /** An attempt failed without its socket closing first: token, constructor, hello deadline. */
  private attemptFailed(attempt: Attempt, err: Error): void {
    if (attempt.done) return;
    this.finishAttempt(attempt, err);
    const ws = attempt.ws;
    if (ws && this.ws === ws) {
      this.ws = undefined;
      ws.close(1000, attempt.refusal ? 'hello refused' : 'hello timeout');
    }
    this.afterFailure(attempt.refusal ? refusalAction(attempt.refusal) : 'reconnect', err);
  }

  private onSocketClose(ws: WebSocketLike, code: number, reason: string): void {
    if (this.ws !== ws) return;
    this.ws = undefined;
    const attempt = this.attempt?.ws === ws ? this.attempt : undefined;
    const refusal = attempt?.refusal;
    const err = new ConnectionClosedError(code, reason, refusal);
    // Sent and unanswered: never re-sent (at-most-once). Held ones wait for the next welcome.
    this.failPending(err);
    // A refused hello's own close says what to do; without one of ours, the refusal does.
    const ours = code >= 4000 && code <= 4999;
    const action = refusal && !ours ? refusalAction(refusal) : closeAction(code);
    if (attempt) this.finishAttempt(attempt, refusal && !ours ? refusal : err);
    this.afterFailure(action, err, { code, reason });
  }

  /**
   * After a lost connection or a failed attempt: schedules the next attempt with backoff, or
   * ends (terminal close, token refused, reconnect disabled, attempts used up).
   */
  private afterFailure(
    action: CloseAction | 'none',
    cause: Error,
    closed?: { code: number; reason: string },
  ): void {
    const end = this.endReason(action);
    if (closed) {
      this.phase = 'connecting';
      this.emit('close', { ...closed, action, willReconnect: end === undefined });
      // A listener may have called close() or connect().
      if (this.phase !== 'connecting' || this.attempt) return;
    }
    if (end) this.end(end, cause, closed);
    else this.scheduleReconnect(cause, closed?.code === CLOSE_CODES.flood.code);
  }

  private endReason(action: CloseAction | 'none'): SessionEndReason | undefined {
    if (action === 'terminal') return 'terminal_close';
    if (action === 'none') return 'normal_close';
    // With a fixed token a fresh one cannot be had; with a provider, once.
    if (action === 'reauth' && (typeof this.opts.token === 'string' || ++this.reauths > 1))
      return 'token_rejected';
    const r = this.opts.reconnect ?? {};
    if (!(r.enabled ?? true)) return 'reconnect_disabled';
    if (this.attempts >= (r.maxAttempts ?? Infinity)) return 'max_attempts';
    return undefined;
  }

  private scheduleReconnect(cause: Error, flooded: boolean): void {
    const r = this.opts.reconnect ?? {};
    const min = r.minDelayMs ?? 250;
    const max = r.maxDelayMs ?? 10_000;
    // Full jitter backoff so a server restart is not met by every client at once.
    const delayMs =
      (flooded ? (r.floodDelayMs ?? 5000) : 0) +
      Math.round(Math.random() * Math.min(max, min * 2 ** this.attempts));
    this.attempts++;
    this.phase = 'connecting';
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.startAttempt();
    }, delayMs);
    this.emit('reconnecting', { attempt: this.attempts, delayMs, cause });
  }

  private end(reason: SessionEndReason, cause: Error, closed?: { code: number; reason: string }): void {
    const err = new SessionEndedError(reason, closed?.code ?? 1006, closed?.reason ?? '', cause);
    this.phase = 'ended';
    this.endError = err;
    this.failRequests(err);
    this.emit('ended', err);
  }

  private welcomed(attempt: Attempt, frame: WelcomeFrame): void {
    this.finishAttempt(attempt, frame);
    this.phase = 'ready';
    this.attempts = 0;
    this.reauths = 0;
    this.lastWelcome = frame;
    this.lastState = frame.state;
    // Held commands go out in the order they were issued, once each.
    for (const req of this.held.splice(0)) this.send(req);
    this.emit('welcome', frame);
    this.emit('state', frame.state);
  }

  private onFrame(data: unknown): void {
    let frame: ServerFrame;
    try {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : (data as Uint8Array);
      frame = this.wire.decode(bytes);
    } catch (err) {
      this.emit('error', {
        t: 'error',
        code: 'bad_request',
        reason: 'malformed',
        message: `undecodable server frame: ${String(err)}`,
      });
      return;
    }
    switch (frame.t) {
      case 'welcome': {
        // Only the answer to this attempt's hello counts.
        const attempt = this.attempt;
        if (attempt && !attempt.refusal && frame.id === attempt.helloId) this.welcomed(attempt, frame);
        return;
      }
      case 'state':
        if (this.isNewer(frame.state)) {
          this.lastState = frame.state;
          this.emit('state', frame.state);
        }
        return;
      case 'playback':
        // Its chunk table lets the cache size-check the chunks of this track too.
        this.opts.prefetchCache?.learn(frame);
        this.emit('playback', frame);
        return;
      case 'prefetch':
        this.opts.prefetchCache?.apply(frame);
        this.emit('prefetch', frame);
        return;
      case 'warning':
        this.emit('warning', frame);
        return;
      case 'ack':
      case 'pong':
        this.settle(frame.id, frame);
        return;
      case 'error': {
        const attempt = this.attempt;
        if (attempt && !attempt.refusal && frame.id !== undefined && frame.id === attempt.helloId) {
          // Hello refused: close, and let the close (the server's code, if it sent one) decide.
          attempt.refusal = new SessionRequestError(frame);
          this.ws?.close(1000, 'hello refused');
        } else if (frame.id === undefined || !this.settle(frame.id, new SessionRequestError(frame))) {
          this.emit('error', frame);
        }
        return;
      }
    }
  }

  /** Applies a state only if newer in the same epoch, or from another epoch. */
  private isNewer(s: SessionState): boolean {
    const cur = this.lastState;
    return !cur || cur.epoch !== s.epoch || s.version > cur.version;
  }

  /** Answers a pending request; false if none has this id. */
  private settle(id: number, answer: ServerFrame | Error): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (answer instanceof Error) p.reject(answer);
    else p.resolve(answer);
    return true;
  }

  private failPending(err: Error): void {
    const sent = [...this.pending.values()];
    this.pending.clear();
    for (const req of sent) {
      clearTimeout(req.timer);
      req.reject(err);
    }
  }

  /** Rejects every pending and held request. */
  private failRequests(err: Error): void {
    this.failPending(err);
    for (const req of this.held.splice(0)) {
      clearTimeout(req.timer);
      req.reject(err);
    }
  }
}
