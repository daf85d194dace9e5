/**
 * `GET /v1/me/player/events`: the listener's player state as Server-Sent Events, for clients
 * that do not speak the binary protocol (instead of polling `GET /v1/me/player`).
 *
 * - Each state goes out once, as `event: state`, `id: <epoch>.<version>`, `data:` the same
 *   object `GET /v1/me/player` answers. On connect the current state is sent (when a session
 *   is live); a client reconnecting with `Last-Event-ID` gets the states it missed, in order,
 *   from the last few kept (player-door.ts), or the current one alone when they are no longer
 *   kept or came from another epoch: states are whole, so the current one stands for them.
 * - A comment line every `heartbeatMs` keeps proxies and uWS's idle timer (10 s on a pending
 *   response) from cutting a quiet stream.
 * - A slow reader is never buffered without bound: while the socket is backed up only the
 *   newest state waits, and it goes out when uWS says the socket drained.
 *
 * Mounted on the raw uWS app (a stream does not fit the request/answer route table); the
 * route is documented in the table (player-api.ts) all the same.
 */
import type { HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import type { Authenticator } from '../auth.ts';
import { bearerToken } from '../auth.ts';
import type { PlayerDoor, StateEvent } from './player-door.ts';
import { playbackState } from './player-objects.ts';

export const PLAYER_EVENTS_PATH = '/v1/me/player/events';
export const DEFAULT_HEARTBEAT_MS = 5_000;

export interface PlayerEventsDeps {
  door: PlayerDoor;
  auth: Authenticator;
  /** Absolute base of the links in the states (PUBLIC_BASE_URL), read when a state goes out. */
  baseUrl: () => string;
  now?: () => number;
  heartbeatMs?: number;
}

const LAST_EVENT_ID = /^(\d{1,15})\.(\d{1,15})$/;

function refuse(res: HttpResponse, status: string, code: string, message: string, reason?: string): void {
  res.cork(() => {
    res.writeStatus(status);
    res.writeHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        error: { status: Number(status.slice(0, 3)), code, message, ...(reason ? { reason } : {}) },
      }),
    );
  });
}

export function registerPlayerEvents(app: TemplatedApp, deps: PlayerEventsDeps): void {
  const now = deps.now ?? Date.now;
  const heartbeatMs = deps.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  // One state goes to every subscriber of the listener: built and serialised once.
  const frames = new WeakMap<StateEvent, string>();
  const frame = (e: StateEvent): string => {
    let text = frames.get(e);
    if (text === undefined) {
      text = `id: ${e.id}\nevent: state\ndata: ${JSON.stringify(playbackState(e.view, deps.baseUrl(), now()))}\n\n`;
      frames.set(e, text);
    }
    return text;
  };

  app.get(PLAYER_EVENTS_PATH, (res, req) => {
    // Headers are readable only now, before the first await.
    const token = bearerToken(req.getHeader('authorization'));
    const lastId = LAST_EVENT_ID.exec(req.getHeader('last-event-id'));
    let closed = false;
    let cleanup = () => {};
    res.onAborted(() => {
      closed = true;
      cleanup();
    });
    if (!token)
      return refuse(res, '401 Unauthorized', 'unauthorized', 'Bearer token required', 'token_missing');

    void deps.auth.verify(token).then((r) => {
      if (closed) return;
      if (!r.ok) {
        const reason = r.reason === 'expired' ? 'token_expired' : 'token_invalid';
        return refuse(res, '401 Unauthorized', 'unauthorized', r.message, reason);
      }
      const userId = r.principal.userId;
      let choked = false;
      let waiting: StateEvent | undefined;

      const write = (text: string): void => {
        if (closed) return;
        res.cork(() => {
          if (!res.write(text)) choked = true;
        });
      };
      const deliver = (e: StateEvent): void => {
        if (closed) return;
        if (choked) {
          waiting = e;
          return;
        }
        write(frame(e));
      };
      res.onWritable(() => {
        choked = false;
        const w = waiting;
        waiting = undefined;
        if (w) write(frame(w));
        return !choked;
      });

      res.cork(() => {
        res.writeStatus('200 OK');
        res.writeHeader('content-type', 'text/event-stream');
        res.writeHeader('cache-control', 'no-store');
        res.writeHeader('x-accel-buffering', 'no');
        // The retry hint: how long a client waits before reconnecting.
        res.write('retry: 1000\n\n');
      });
      const sub = deps.door.subscribe(
        userId,
        deliver,
        lastId ? { epoch: Number(lastId[1]), version: Number(lastId[2]) } : undefined,
      );
      for (const e of sub.backlog) deliver(e);
      const beat = setInterval(() => {
        if (!choked) write(': keep-alive\n\n');
      }, heartbeatMs);
      beat.unref();
      cleanup = () => {
        clearInterval(beat);
        sub.unsubscribe();
      };
    });
  });
}
