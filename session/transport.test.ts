/**
 * The transport's server closes, over a real socket to a real uWS listener: a reader that
 * stops reading is cut as a slow consumer, and the close frame with 4001 and its reason still
 * reaches it once it reads again, even after pausing longer than uWS keeps an ended socket
 * that still buffers (about 4 s), or when the last write took uWS's buffer far past the
 * limit. Before, both ended in 1006 (the close frame lost with uWS's buffer, or dropped). The
 * session layer hears of the close once, with its code, at the cut (not when the peer reads).
 */
import type { Socket } from 'node:net';
import pino from 'pino';
import WebSocket from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { withTimeout } from '../testkit/raw-socket.ts';
import { startTransport, type Connection, type Transport, type TransportLimits } from './transport.ts';

const SLOW = 4001;
const LIMITS: TransportLimits = {
  maxFrameBytes: 1024,
  maxBackpressureBytes: 4096,
  maxSendQueue: 64,
  idleTimeoutS: 0,
  slowConsumerCloseCode: SLOW,
  idleCloseCode: 4004,
};
/** Far past the limits above: one frame fills uWS's buffer past them at once. */
const FRAME = new Uint8Array(64 * 1024).fill(7);
/** Bound on the frames sent to a stalled reader: far more than loopback buffers hold. */
const MAX_FRAMES = 2_000;

let transport: Transport | undefined;

afterEach(() => {
  transport?.close();
  transport = undefined;
});

/**
 * A listener that, on any frame, sends FRAME every macrotask until the socket is closed;
 * `cut` resolves with the code the session layer was told, `releases` counts those calls.
 */
async function floodingServer() {
  let releases = 0;
  let told!: (code: number) => void;
  const cut = new Promise<number>((resolve) => (told = resolve));
  transport = await startTransport<object>({
    host: '127.0.0.1',
    port: 0,
    wsPath: '/ws',
    limits: LIMITS,
    log: pino({ level: 'silent' }),
    handlers: {
      open: () => ({}),
      message: (conn: Connection<object>) => {
        let sent = 0;
        const more = () => {
          if (conn.closed || sent++ >= MAX_FRAMES) return;
          conn.send(FRAME);
          setImmediate(more);
        };
        more();
      },
      close: (_conn, code) => {
        releases++;
        told(code);
      },
    },
  });
  return { port: transport.port, cut, releases: () => releases };
}

/** A client that asks for the flood and stops reading at once. */
async function stalledReader(port: number) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    }),
    'open',
  );
  const socket = (ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  ws.send(new Uint8Array([1]));
  return { ws, closed, resume: () => socket.resume() };
}

describe('transport', () => {
  it('transport - a slow reader cut far past the limit still gets 4001 and the reason when it reads again', async () => {
    const server = await floodingServer();
    const reader = await stalledReader(server.port);
    expect(await withTimeout(server.cut, 'the cut', 20_000)).toBe(SLOW);
    reader.resume();
    expect(await withTimeout(reader.closed, 'the close frame')).toEqual({
      code: SLOW,
      reason: 'slow consumer',
    });
    expect(server.releases()).toBe(1);
  });

  it('transport - a slow reader that pauses past uWS keeping an ended socket still gets 4001', async () => {
    const server = await floodingServer();
    const reader = await stalledReader(server.port);
    expect(await withTimeout(server.cut, 'the cut', 20_000)).toBe(SLOW);
    // The reader's own pause, longer than the ~4 s uWS keeps an ended socket that still
    // buffers (the scenario, not a wait for an event).
    await new Promise((resolve) => setTimeout(resolve, 5_000));
    reader.resume();
    expect(await withTimeout(reader.closed, 'the close frame')).toEqual({
      code: SLOW,
      reason: 'slow consumer',
    });
    expect(server.releases()).toBe(1);
  }, 20_000);
});
