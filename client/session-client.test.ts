/**
 * SessionClient's connection life against a fake WebSocket driven by the test: reconnect
 * after every kind of failed attempt, close() cancelling an attempt in flight, commands held
 * until the welcome, hello timeout/refusal, reauth, and what every close code does.
 * Events are awaited with timeouts; no sleeps (`settled` only lets queued callbacks run).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { closeAction, CLOSE_CODES } from '../protocol/close-codes.ts';
import { decodeClientFrame, encodeFrame } from '../protocol/codec.ts';
import type { ClientFrame, ServerFrame, SessionState } from '../protocol/messages.ts';
import {
  ClientClosedError,
  CommandQueueFullError,
  ConnectionClosedError,
  RequestTimeoutError,
  SessionEndedError,
  SessionRequestError,
} from './errors.ts';
import {
  MAX_HELD_COMMANDS,
  SessionClient,
  type SessionClientOptions,
  type WebSocketLike,
} from './session-client.ts';

/** Sockets the client created, in order; `socket(n)` awaits the n-th. */
let sockets: FakeWs[] = [];
let onSocket: (() => void)[] = [];

class FakeWs implements WebSocketLike {
  binaryType = 'blob';
  readyState = 0;
  sent: ClientFrame[] = [];
  closedBy: { code: number; reason: string } | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    sockets.push(this);
    for (const w of onSocket.splice(0)) w();
  }
  send(data: Uint8Array | ArrayBuffer | string) {
    const r = decodeClientFrame(data as Uint8Array);
    if (!r.ok) throw new Error(`client sent an undecodable frame: ${r.error.message}`);
    this.sent.push(r.frame);
  }
  /** The client's close; the peer echoes its code, as a server does. */
  close(code = 1000, reason = '') {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedBy = { code, reason };
    queueMicrotask(() => this.onclose?.({ code, reason }));
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  deliver(frame: ServerFrame) {
    this.onmessage?.({ data: encodeFrame(frame).slice().buffer });
  }
  /** The server or the network closes it. */
  drop(code: number, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  sentTypes() {
    return this.sent.map((f) => f.t);
  }
  hello() {
    const h = this.sent.find((f) => f.t === 'hello');
    if (!h || h.t !== 'hello') throw new Error('no hello sent');
    return h;
  }
  /** Opens (if not yet) and answers the hello with a welcome. */
  welcome(version = 1) {
    if (this.readyState === 0) this.open();
    this.deliver({
      t: 'welcome',
      id: this.hello().id,
      protocol: 1,
      server_time: 1,
      resumed: false,
      state: state(version),
    });
  }
  /** Answers the request of type `t` with an ack. */
  ack(t: ClientFrame['t']) {
    const f = this.sent.find((x) => x.t === t);
    if (!f) throw new Error(`no ${t} sent`);
    this.deliver({ t: 'ack', id: f.id });
  }
}

const state = (version: number): SessionState => ({
  version,
  epoch: 'e1',
  devices: [],
  active_device_id: null,
  is_playing: false,
  track: null,
  play_id: null,
  position: { position_ms: 0, at: 0 },
  shuffle: false,
  repeat: 'off',
  quality: 'normal',
  context_uri: null,
  next_tracks: [],
});

function socket(n: number, timeoutMs = 1000): Promise<FakeWs> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no socket #${n} within ${timeoutMs} ms`)), timeoutMs);
    const check = () => {
      const ws = sockets[n];
      if (!ws) return void onSocket.push(check);
      clearTimeout(timer);
      resolve(ws);
    };
    check();
  });
}

/** Welcomes the client's n-th socket and awaits the welcome event. */
async function welcomeOn(c: SessionClient, n: number): Promise<FakeWs> {
  const ws = await socket(n);
  const welcomed = c.waitFor('welcome', { timeoutMs: 1000 });
  ws.welcome(4);
  await welcomed;
  return ws;
}

/** Lets every queued microtask and due zero-delay callback run (not a timed wait). */
const settled = () => new Promise<void>((r) => setImmediate(r));

/** How a promise came out, without waiting on one still pending. */
async function outcome<T>(p: Promise<T>): Promise<T | Error | 'pending'> {
  const marker = Symbol('pending');
  const r = await Promise.race([p.catch((e: Error) => e), settled().then(() => marker)]);
  return r === marker ? 'pending' : (r as T | Error);
}

function client(opts: Partial<SessionClientOptions> = {}): SessionClient {
  return new SessionClient({
    url: 'ws://fake/v1/ws',
    token: 'tok',
    device: { id: 'd1', name: 'Device 1', type: 'computer' },
    WebSocket: FakeWs,
    requestTimeoutMs: 2000,
    ...opts,
    reconnect: { minDelayMs: 0, maxDelayMs: 0, floodDelayMs: 0, ...opts.reconnect },
  });
}

/** A client welcomed on its first socket. */
async function connected(opts: Partial<SessionClientOptions> = {}) {
  const c = client(opts);
  const welcome = c.connect();
  const ws = await socket(0);
  ws.welcome(3);
  await welcome;
  return { c, ws };
}

beforeEach(() => {
  sockets = [];
  onSocket = [];
});

describe('SessionClient reconnect', () => {
  it('reconnect - a token provider that rejects once is followed by the next attempt', async () => {
    let calls = 0;
    const { c } = await connected({
      token: async () => {
        if (++calls === 2) throw new Error('token service down');
        return `tok${calls}`;
      },
    });
    const failed = c.waitFor('reconnecting', { timeoutMs: 1000, filter: (r) => r.attempt === 2 });
    const resumed = c.waitFor('welcome', { timeoutMs: 1000 });
    sockets[0]!.drop(1006);
    expect((await failed).cause.message).toBe('token service down');
    const ws = await socket(1);
    ws.open();
    expect(ws.hello().token).toBe('tok3');
    expect(ws.hello().resume).toEqual({ version: 3, epoch: 'e1' });
    ws.welcome(4);
    expect((await resumed).state.version).toBe(4);
    expect(calls).toBe(3);
    c.close();
  });

  it('reconnect - a socket that fails before it opens is followed by the next attempt', async () => {
    const { c, ws } = await connected();
    ws.drop(1006);
    (await socket(1)).drop(1006);
    await welcomeOn(c, 2);
    c.close();
  });

  it('reconnect - a hello that times out closes its socket and the next attempt follows', async () => {
    const { c, ws } = await connected({ requestTimeoutMs: 30 });
    const retry = c.waitFor('reconnecting', { timeoutMs: 1000, filter: (r) => r.attempt === 2 });
    ws.drop(1006);
    const silent = await socket(1);
    silent.open();
    const r = await retry;
    expect(r.cause).toBeInstanceOf(RequestTimeoutError);
    expect(silent.closedBy).toBeDefined();
    await welcomeOn(c, 2);
    c.close();
  });

  it('reconnect - a hello refused with a retryable error and no close code of ours is retried', async () => {
    const { c, ws } = await connected();
    ws.drop(CLOSE_CODES.server_shutdown.code);
    const refused = await socket(1);
    refused.open();
    refused.deliver({
      t: 'error',
      id: refused.hello().id,
      code: 'unavailable',
      reason: 'store_unavailable',
      message: 'retry',
    });
    await settled();
    expect(refused.closedBy).toBeDefined();
    await welcomeOn(c, 2);
    c.close();
  });

  it('reconnect - the first connect() rejects with its attempt, the next attempt still follows', async () => {
    const c = client();
    const first = c.connect();
    (await socket(0)).drop(1006);
    await expect(first).rejects.toMatchObject({ name: 'ConnectionClosedError', closeCode: 1006 });
    const ws = await socket(1);
    const again = c.connect(); // joins the attempt in flight, opens no other socket
    ws.welcome();
    await again;
    expect(sockets).toHaveLength(2);
    c.close();
  });

  it('reconnect - maxAttempts failures in a row end it: ended max_attempts, held commands reject', async () => {
    let calls = 0;
    const { c } = await connected({
      reconnect: { maxAttempts: 2 },
      token: () => (++calls === 1 ? 'tok' : Promise.reject(new Error('token service down'))),
    });
    const ended = c.waitFor('ended', { timeoutMs: 1000 });
    sockets[0]!.drop(1006);
    const held = c.pause();
    const err = await ended;
    expect(err).toBeInstanceOf(SessionEndedError);
    expect(err.reason).toBe('max_attempts');
    expect((err.cause as Error).message).toBe('token service down');
    expect(calls).toBe(3);
    await expect(held).rejects.toBe(err);
    await expect(c.play({ context: 'x' })).rejects.toBe(err);
    expect(sockets).toHaveLength(1);
  });

  it('reconnect - after a flood close (4005) the next attempt waits at least floodDelayMs', async () => {
    const { c, ws } = await connected({ reconnect: { floodDelayMs: 3000 } });
    const retry = c.waitFor('reconnecting', { timeoutMs: 1000 });
    ws.drop(CLOSE_CODES.flood.code);
    expect((await retry).delayMs).toBeGreaterThanOrEqual(3000);
    await settled();
    expect(sockets).toHaveLength(1);
    c.close();
  });
});

describe('SessionClient close', () => {
  it('close - while the token is awaited cancels the attempt: connect() rejects, no socket opens', async () => {
    let release!: (t: string) => void;
    const c = client({ token: () => new Promise<string>((r) => (release = r)) });
    const p = c.connect();
    await settled();
    c.close();
    await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    release('tok');
    await settled();
    expect(sockets).toHaveLength(0);
  });

  it('close - during a hello in flight or a scheduled reconnect: held commands reject, nothing more opens', async () => {
    const { c, ws } = await connected({ reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    ws.drop(1006);
    const held = c.next();
    c.close();
    await expect(held).rejects.toBeInstanceOf(ClientClosedError);
    await expect(c.next()).rejects.toBeInstanceOf(ClientClosedError);

    const d = client();
    const p = d.connect();
    const opening = await socket(1);
    opening.open();
    const heldToo = d.seek(10);
    const closeEvent = d.waitFor('close', { timeoutMs: 1000 });
    d.close();
    await expect(p).rejects.toBeInstanceOf(ClientClosedError);
    await expect(heldToo).rejects.toBeInstanceOf(ClientClosedError);
    expect(await closeEvent).toMatchObject({ code: 1000, willReconnect: false });
    expect(opening.sentTypes()).toEqual(['hello']);
    await settled();
    expect(sockets).toHaveLength(2);
  });

  it('close - then connect() again: the old socket reports only its own close, the new one welcomes', async () => {
    const { c, ws } = await connected();
    const closes: boolean[] = [];
    c.on('close', (e) => closes.push(e.willReconnect));
    c.close();
    const again = c.connect();
    await welcomeOn(c, 1);
    await again;
    expect(ws.closedBy).toEqual({ code: 1000, reason: 'client closed' });
    expect(closes).toEqual([false]);
    expect(sockets).toHaveLength(2);
    c.close();
  });
});

describe('SessionClient commands while connecting', () => {
  it('commands - issued before the welcome are held, then sent once in order', async () => {
    const c = client();
    const welcome = c.connect();
    const play = c.play({ context: 'spotify:playlist:p' });
    const ws = await socket(0);
    const shuffle = c.shuffle(true);
    ws.open();
    expect(ws.sentTypes()).toEqual(['hello']);
    ws.welcome();
    await welcome;
    expect(ws.sentTypes()).toEqual(['hello', 'play', 'shuffle']);
    ws.ack('play');
    ws.ack('shuffle');
    await Promise.all([play, shuffle]);
    c.close();
  });

  it('commands - during a reconnect: the cut one rejects and is not re-sent, held ones (also during the hello) go after the welcome', async () => {
    const { c, ws } = await connected();
    const cut = c.pause();
    expect(ws.sentTypes()).toEqual(['hello', 'pause']);
    ws.drop(1006);
    await expect(cut).rejects.toBeInstanceOf(ConnectionClosedError);
    const held = c.resume();
    const next = await socket(1);
    next.open();
    const duringHello = c.next();
    expect(next.sentTypes()).toEqual(['hello']);
    next.welcome(4);
    expect(next.sentTypes()).toEqual(['hello', 'resume', 'next']);
    expect(next.sent[1]!.id).not.toBe(ws.sent[1]!.id);
    next.ack('resume');
    next.ack('next');
    await Promise.all([held, duringHello]);
    c.close();
  });

  it('commands - the hold is bounded: past MAX_HELD_COMMANDS a command rejects unsent', async () => {
    const c = client();
    void c.connect().catch(() => {});
    const held = Array.from({ length: MAX_HELD_COMMANDS }, () => c.next());
    await expect(c.previous()).rejects.toBeInstanceOf(CommandQueueFullError);
    const ws = await socket(0);
    ws.welcome();
    expect(ws.sentTypes().filter((t) => t === 'next')).toHaveLength(MAX_HELD_COMMANDS);
    expect(ws.sentTypes()).not.toContain('previous');
    c.close();
    await Promise.allSettled(held);
  });

  it('commands - a held command times out from its call and is never sent', async () => {
    const c = client({ requestTimeoutMs: 40, reconnect: { minDelayMs: 60_000, maxDelayMs: 60_000 } });
    const first = c.connect();
    (await socket(0)).drop(1006);
    await expect(first).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(c.pause()).rejects.toBeInstanceOf(RequestTimeoutError);
    c.close();
  });

  it('commands - before connect() or after close() reject at once', async () => {
    const c = client();
    expect(await outcome(c.pause())).toMatchObject({ name: 'ConnectionClosedError', closeCode: 1006 });
    c.close();
    expect(await outcome(c.pause())).toBeInstanceOf(ClientClosedError);
  });
});

describe('SessionClient hello refused and reauth', () => {
  it('hello - refused with an error frame then closed 4500: connect() rejects carrying both, no reconnect', async () => {
    const c = client();
    const p = c.connect();
    const ended = c.waitFor('ended', { timeoutMs: 1000 });
    const ws = await socket(0);
    ws.open();
    ws.deliver({
      t: 'error',
      id: ws.hello().id,
      code: 'unauthorized',
      reason: 'token_invalid',
      message: 'bad',
    });
    ws.drop(CLOSE_CODES.bad_token.code, CLOSE_CODES.bad_token.reason);
    const err = (await outcome(p)) as ConnectionClosedError;
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect(err.closeCode).toBe(4500);
    expect(err.refusal).toBeInstanceOf(SessionRequestError);
    expect(err.refusal?.reason).toBe('token_invalid');
    expect((await ended).reason).toBe('terminal_close');
    await settled();
    expect(sockets).toHaveLength(1);
  });

  it('hello - refused as unauthorized and left open: the client closes it; a fixed token ends', async () => {
    const c = client();
    const p = c.connect();
    const ws = await socket(0);
    ws.open();
    ws.deliver({
      t: 'error',
      id: ws.hello().id,
      code: 'unauthorized',
      reason: 'token_expired',
      message: 'old',
    });
    const err = await outcome(p);
    expect(err).toBeInstanceOf(SessionRequestError);
    expect(ws.closedBy).toBeDefined();
    expect(await outcome(c.pause())).toMatchObject({ name: 'SessionEndedError', reason: 'token_rejected' });
  });

  it('reauth - a token_expired close with a fixed token ends with token_rejected', async () => {
    const { c, ws } = await connected();
    const closed = c.waitFor('close', { timeoutMs: 1000 });
    const ended = c.waitFor('ended', { timeoutMs: 1000 });
    ws.drop(CLOSE_CODES.token_expired.code, CLOSE_CODES.token_expired.reason);
    expect(await closed).toMatchObject({ code: 4400, action: 'reauth', willReconnect: false });
    expect(await ended).toMatchObject({ reason: 'token_rejected', closeCode: 4400 });
    await settled();
    expect(sockets).toHaveLength(1);
  });

  it('reauth - with a provider: one reconnect with a fresh token; refused again, it ends', async () => {
    let calls = 0;
    const { c, ws } = await connected({ token: () => `tok${++calls}` });
    ws.drop(CLOSE_CODES.token_expired.code);
    const fresh = await socket(1);
    fresh.open();
    expect(fresh.hello().token).toBe('tok2');
    await welcomeOn(c, 1);

    // After a welcome the next expiry gets its fresh token again; a refused fresh one ends it.
    const ended = c.waitFor('ended', { timeoutMs: 1000 });
    fresh.drop(CLOSE_CODES.token_expired.code);
    const again = await socket(2);
    again.open();
    expect(again.hello().token).toBe('tok3');
    again.drop(CLOSE_CODES.token_expired.code);
    expect((await ended).reason).toBe('token_rejected');
    await settled();
    expect(sockets).toHaveLength(3);
  });
});

/** Standard codes with what the protocol README says of them. */
const STANDARD = [
  [1000, 'none'],
  [1001, 'reconnect'],
  [1002, 'terminal'],
  [1003, 'terminal'],
  [1006, 'reconnect'],
  [1007, 'terminal'],
  [1008, 'terminal'],
  [1011, 'reconnect'],
] as const;
const CASES = [
  ...Object.entries(CLOSE_CODES).map(([name, info]) => ({ name, code: info.code, action: info.action })),
  ...STANDARD.map(([code, action]) => ({ name: `standard ${code}`, code, action })),
];

describe('SessionClient close codes', () => {
  it.each(CASES)(
    'close codes - $code $name ($action): obeyed with a fixed token and with a token provider',
    async (k) => {
      expect(closeAction(k.code)).toBe(k.action);
      for (const token of ['tok', () => 'tok']) {
        const { c, ws } = await connected({ token });
        const willReconnect =
          k.action === 'reconnect' || (k.action === 'reauth' && typeof token === 'function');
        const closed = c.waitFor('close', { timeoutMs: 1000 });
        const ended = willReconnect ? undefined : c.waitFor('ended', { timeoutMs: 1000 });
        ws.drop(k.code);
        expect(await closed).toMatchObject({ code: k.code, action: k.action, willReconnect });
        if (ended) {
          const reason = {
            terminal: 'terminal_close',
            none: 'normal_close',
            reauth: 'token_rejected',
            reconnect: '',
          }[k.action];
          expect(await ended).toMatchObject({ reason, closeCode: k.code });
          await settled();
          expect(sockets).toHaveLength(1);
        } else {
          await welcomeOn(c, 1);
          c.close();
        }
        sockets = [];
      }
    },
  );
});
