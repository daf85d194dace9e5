/**
 * Typed client SDK for the playback session server, for Node (pass `ws`'s WebSocket) and
 * browsers (the global WebSocket).
 *
 * - `connect()` says hello with a token and resolves with the `welcome`.
 * - Command methods return promises: resolved by the `ack`, rejected with a
 *   `SessionRequestError` carrying the server's code/reason, `ConnectionClosedError` or
 *   `RequestTimeoutError`.
 * - Events: welcome, state, playback, prefetch, warning, error (frames without a request id),
 *   close, reconnecting.
 * - Reconnect: on a close whose code says "reconnect" (protocol/close-codes.ts) or a network
 *   drop, it reconnects with backoff and resumes from the last `{version, epoch}`; on "reauth"
 *   it asks the token provider again; "terminal" stops. Commands are never replayed
 *   (at-most-once): a command cut by a drop rejects with ConnectionClosedError.
 * - An optional prefetch cache fetches the chunks every `prefetch` frame names and verifies
 *   them against the chunk table (refetching once on a mismatch).
 */
import { closeAction } from '../protocol/close-codes.ts';
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
import { ConnectionClosedError, RequestTimeoutError, SessionRequestError } from './errors.ts';
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
  reconnect?: { enabled?: boolean; minDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  prefetchCache?: PrefetchCache;
  wire?: ClientWire;
}

export interface CloseInfo {
  code: number;
  reason: string;
  action: 'reconnect' | 'reauth' | 'terminal' | 'none';
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
  close: CloseInfo;
  reconnecting: { attempt: number; delayMs: number };
}

interface Pending {
  type: string;
  resolve: (frame: ServerFrame) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const OPEN = 1;

export class SessionClient extends TypedEmitter<SessionClientEvents> {
  private ws: WebSocketLike | undefined;
  private readonly pending = new Map<number, Pending>();
  /**
   * Request ids start at a random point per client: the session remembers recent
   * `device:id` pairs to ack retried frames without applying them twice, so a new client
   * (a new process for the same device) counting from 1 again would have its first commands
   * taken for retries of the previous connection's and silently not applied.
   */
  private nextId = 1 + Math.floor(Math.random() * 0x7fff_ffff);
  private lastState: SessionState | undefined;
  private stopped = false;
  private attempts = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
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

  /** Opens the socket and says hello; resolves with the welcome (resume when a state is known). */
  connect(): Promise<WelcomeFrame> {
    this.stopped = false;
    return this.open();
  }

  /** Closes for good (no reconnect); pending requests reject. */
  close(code = 1000, reason = 'client closed'): void {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.ws?.close(code, reason);
    this.failPending(new ConnectionClosedError(code, reason));
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

  private request(frame: ClientFrame): Promise<ServerFrame> {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN)
      return Promise.reject(new ConnectionClosedError(1006, 'not connected'));
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffff_fffe ? 1 : this.nextId + 1;
    const timeoutMs = this.opts.requestTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new RequestTimeoutError(frame.t, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { type: frame.t, resolve, reject, timer });
      ws.send(this.wire.encode({ ...frame, id } as ClientFrame));
    });
  }

  private async open(): Promise<WelcomeFrame> {
    const token = typeof this.opts.token === 'function' ? await this.opts.token() : this.opts.token;
    const ws = new this.Ctor(this.opts.url);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    return new Promise<WelcomeFrame>((resolve, reject) => {
      let settled = false;
      ws.onopen = () => {
        const resume = this.lastState
          ? { version: this.lastState.version, epoch: this.lastState.epoch }
          : undefined;
        this.request({
          t: 'hello',
          id: 0,
          token,
          device: this.opts.device,
          protocol: PROTOCOL_VERSION,
          ...(resume ? { resume } : {}),
        }).then(
          (f) => {
            settled = true;
            this.attempts = 0;
            resolve(f as WelcomeFrame);
          },
          (err: Error) => {
            settled = true;
            reject(err);
          },
        );
      };
      ws.onmessage = (ev) => this.onFrame(ev.data);
      ws.onerror = () => {
        // The close event follows with the code; errors are reported there.
      };
      ws.onclose = (ev) => {
        if (this.ws !== ws) return;
        this.ws = undefined;
        const err = new ConnectionClosedError(ev.code, ev.reason);
        this.failPending(err);
        if (!settled) {
          settled = true;
          reject(err);
        }
        this.onClosed(ev.code, ev.reason);
      };
    });
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
      case 'welcome':
        this.lastState = frame.state;
        this.settle(frame.id, frame);
        this.emit('welcome', frame);
        this.emit('state', frame.state);
        return;
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
      case 'error':
        if (frame.id !== undefined && this.pending.has(frame.id)) {
          const p = this.pending.get(frame.id)!;
          this.pending.delete(frame.id);
          clearTimeout(p.timer);
          p.reject(new SessionRequestError(frame));
        } else {
          this.emit('error', frame);
        }
        return;
    }
  }

  /** Applies a state only if newer in the same epoch, or from another epoch. */
  private isNewer(s: SessionState): boolean {
    const cur = this.lastState;
    return !cur || cur.epoch !== s.epoch || s.version > cur.version;
  }

  private settle(id: number, frame: ServerFrame): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.resolve(frame);
  }

  private failPending(err: Error): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  private onClosed(code: number, reason: string): void {
    const action = closeAction(code);
    const r = this.opts.reconnect ?? {};
    const enabled = (r.enabled ?? true) && !this.stopped && (action === 'reconnect' || action === 'reauth');
    const maxAttempts = r.maxAttempts ?? Infinity;
    const willReconnect = enabled && this.attempts < maxAttempts;
    this.emit('close', { code, reason, action, willReconnect });
    if (!willReconnect) return;
    const min = r.minDelayMs ?? 250;
    const max = r.maxDelayMs ?? 10_000;
    // Full jitter backoff so a server restart is not met by every client at once.
    const delayMs = Math.round(Math.random() * Math.min(max, min * 2 ** this.attempts));
    this.attempts++;
    this.emit('reconnecting', { attempt: this.attempts, delayMs });
    this.reconnectTimer = setTimeout(() => {
      this.open().catch(() => {
        // onclose of the failed attempt schedules the next one.
      });
    }, delayMs);
  }
}
