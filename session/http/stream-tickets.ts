/**
 * Stream tickets: how a browser opens the Server-Sent Events stream, since `EventSource`
 * cannot set an Authorization header. The client asks for a ticket with its Bearer token
 * (`POST /v1/me/player/events/ticket`), then opens `GET /v1/me/player/events?ticket=...`.
 *
 * A ticket is not the token: 32 random bytes, good for one stream of one listener, once,
 * within `ttlMs` (30 s). A URL that ends up in an access log or a browser history therefore
 * carries nothing an attacker can use; the long-lived token never goes into a URL. Kept in
 * this process's memory (a reconnecting EventSource reuses its URL, so a client asks for a
 * fresh ticket on `error` before reconnecting).
 */
import { randomBytes } from 'node:crypto';

export const DEFAULT_TICKET_TTL_MS = 30_000;
/** Tickets outstanding at most: a flood of requests must not grow the map without end. */
const MAX_TICKETS = 100_000;
const TICKET = /^[A-Za-z0-9_-]{43}$/;

export class StreamTickets {
  private readonly tickets = new Map<string, { userId: string; expires: number }>();

  constructor(
    readonly ttlMs = DEFAULT_TICKET_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new ticket for `userId`'s stream. */
  issue(userId: string): string {
    if (this.tickets.size >= MAX_TICKETS) this.sweep();
    // Still full of live tickets: the oldest go (a flood costs its own tickets, not memory).
    for (const key of this.tickets.keys()) {
      if (this.tickets.size < MAX_TICKETS) break;
      this.tickets.delete(key);
    }
    const ticket = randomBytes(32).toString('base64url');
    this.tickets.set(ticket, { userId, expires: this.now() + this.ttlMs });
    return ticket;
  }

  /** The listener a ticket was issued to, once: the ticket is spent either way. */
  redeem(
    ticket: string,
  ): { ok: true; userId: string } | { ok: false; reason: 'ticket_invalid' | 'ticket_expired' } {
    if (!TICKET.test(ticket)) return { ok: false, reason: 'ticket_invalid' };
    const t = this.tickets.get(ticket);
    if (!t) return { ok: false, reason: 'ticket_invalid' };
    this.tickets.delete(ticket);
    if (t.expires <= this.now()) return { ok: false, reason: 'ticket_expired' };
    return { ok: true, userId: t.userId };
  }

  private sweep(): void {
    const now = this.now();
    for (const [key, t] of this.tickets) if (t.expires <= now) this.tickets.delete(key);
  }
}
