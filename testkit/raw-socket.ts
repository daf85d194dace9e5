/**
 * A raw device socket for end-to-end tests of hostile or unusual clients: frames in arrival
 * order, awaited by predicate with a timeout (no sleeps), and the close code. The SDK hides
 * exactly what these tests look at (ordering, unanswered ids, close frames), so they use `ws`.
 */
import WebSocket from 'ws';
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import type { ClientFrame, ServerFrame } from '../protocol/messages.ts';

export interface RawSocket {
  ws: WebSocket;
  frames: ServerFrame[];
  opened: Promise<void>;
  /** Close code and reason, once the socket closed. */
  closed: Promise<{ code: number; reason: string }>;
  /** The first frame (already received or still to come) that matches. */
  frame(pred: (f: ServerFrame) => boolean, timeoutMs?: number): Promise<ServerFrame>;
  send(frame: ClientFrame): void;
}

export function rawSocket(url: string, options: WebSocket.ClientOptions = {}): RawSocket {
  const ws = new WebSocket(url, options);
  const frames: ServerFrame[] = [];
  const waiters: (() => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const r = decodeServerFrame(new Uint8Array(data));
    if (r.ok) frames.push(r.frame);
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.on('open', () => resolve());
    ws.on('error', reject);
  });
  const frame = (pred: (f: ServerFrame) => boolean, timeoutMs = 5000) =>
    new Promise<ServerFrame>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      const check = () => {
        const f = frames.find(pred);
        if (f) {
          clearTimeout(timer);
          resolve(f);
        } else waiters.push(check);
      };
      check();
    });
  return { ws, frames, opened, closed, frame, send: (f) => ws.send(encodeFrame(f)) };
}

/** `p`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(p: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
