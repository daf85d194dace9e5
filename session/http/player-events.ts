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
 * - Auth: the Bearer header, or, for a browser's `EventSource` (which cannot set headers),
 *   `?ticket=` with a single-use, 30-second stream ticket got with the Bearer token from
 *   `POST /v1/me/player/events/ticket` (stream-tickets.ts): the token never goes in a URL.
 *
 * - Cluster mode: the states come from the listener's owner, on whichever node the stream is
 *   (the feed is cluster/state-relay.ts instead of the door), and a ticket from any node opens
 *   a stream on any node, once (`SealedStreamTickets`).
 *
 * Mounted on the raw uWS app (a stream does not fit the request/answer route table); the
 * route is documented in the table (player-api.ts) all the same.
 */
import type { HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { Type } from 'typebox';
import type { Authenticator } from '../auth.ts';
import { bearerToken } from '../auth.ts';
import { route, type ApiRoute } from './api-router.ts';
import type { PlayerDoor, StateEvent } from './player-door.ts';
import { playbackState } from './player-objects.ts';
import type { TicketBook } from './stream-tickets.ts';

export const PLAYER_EVENTS_PATH = '/v1/me/player/events';
export const DEFAULT_HEARTBEAT_MS = 5_000;

export const STREAM_TICKET_PATH = `${PLAYER_EVENTS_PATH}/ticket`;

/** Where a stream's states come from: the door, or in cluster mode the owner's (state-relay.ts). */
export type StateFeed = Pick<PlayerDoor, 'subscribe'>;

export interface PlayerEventsDeps {
  door: StateFeed;
  auth: Authenticator;
  /** The stream tickets `POST /v1/me/player/events/ticket` issues (streamTicketRoute). */
  tickets: TicketBook;
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
  // One state goes to every subscriber of the listener: built, serialised and UTF-8 encoded
  // once (uWS would encode a string again for each of them).
  const frames = new WeakMap<StateEvent, Buffer>();
  const frame = (e: StateEvent): Buffer => {
    let bytes = frames.get(e);
    if (bytes === undefined) {
      const json = JSON.stringify(playbackState(e.view, deps.baseUrl(), now()));
      bytes = Buffer.from(`id: ${e.id}\nevent: state\ndata: ${json}\n\n`);
      frames.set(e, bytes);
    }
    return bytes;
  };

  app.get(PLAYER_EVENTS_PATH, (res, req) => {
    // Headers and query are readable only now, before the first await.
    const token = bearerToken(req.getHeader('authorization'));
    const ticket = req.getQuery('ticket');
    const lastId = LAST_EVENT_ID.exec(req.getHeader('last-event-id'));
    let closed = false;
    let cleanup = () => {};
    res.onAborted(() => {
      closed = true;
      cleanup();
    });
    let who: Promise<
      { ok: true; userId: string } | { ok: false; status?: string; message: string; reason: string }
    >;
    if (token) {
      who = deps.auth.verify(token).then((r) =>
        r.ok
          ? { ok: true, userId: r.principal.userId }
          : {
              ok: false,
              message: r.message,
              reason: r.reason === 'expired' ? 'token_expired' : 'token_invalid',
            },
      );
    } else if (ticket) {
      // Spent here, before the stream opens: a ticket opens one stream, once.
      who = Promise.resolve()
        .then(() => deps.tickets.redeem(ticket))
        .then(
          (r) =>
            r.ok
              ? r
              : { ok: false, message: 'the stream ticket is unknown, spent or expired', reason: r.reason },
          // The spent tickets cannot be checked now (cluster mode, NATS away): refused, not let in.
          () => ({
            ok: false,
            status: '503 Service Unavailable',
            message: 'stream tickets cannot be checked now; try again',
            reason: 'store_unavailable',
          }),
        );
    } else {
      return refuse(
        res,
        '401 Unauthorized',
        'unauthorized',
        `Bearer token or ?ticket= (POST ${STREAM_TICKET_PATH}) required`,
        'token_missing',
      );
    }

    void who.then((r) => {
      if (closed) return;
      if (!r.ok)
        return r.status
          ? refuse(res, r.status, 'unavailable', r.message, r.reason)
          : refuse(res, '401 Unauthorized', 'unauthorized', r.message, r.reason);
      const userId = r.userId;
      let choked = false;
      let waiting: StateEvent | undefined;

      const write = (text: string | Buffer): void => {
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

/** `POST /v1/me/player/events/ticket`: a single-use stream ticket for a browser's EventSource. */
export function streamTicketRoute(tickets: TicketBook): ApiRoute {
  return route({
    method: 'POST',
    path: STREAM_TICKET_PATH,
    operationId: 'playerEventsTicket',
    tag: 'player',
    summary: 'A ticket to open the event stream without a header (an extension)',
    description:
      'For `EventSource`, which cannot send an Authorization header: open ' +
      `\`${PLAYER_EVENTS_PATH}?ticket=<ticket>\`. The ticket opens one stream of the caller, once, ` +
      `within \`expires_in\` seconds; it is no token, so a logged URL gives nothing away. Ask for ` +
      'a new one before each reconnect.',
    ok: {
      200: {
        description: 'the ticket',
        schema: Type.Object({
          ticket: Type.String({ description: 'opaque, URL-safe' }),
          expires_in: Type.Integer({ description: 'seconds it stays valid if unused' }),
        }),
      },
    },
    errors: {},
    handle: async ({ userId }) => ({
      status: 200,
      json: { ticket: tickets.issue(userId), expires_in: Math.round(tickets.ttlMs / 1000) },
      // A ticket is a credential for a moment: never cached.
      headers: { 'cache-control': 'no-store' },
    }),
  });
}
