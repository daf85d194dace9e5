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
 *
 * In cluster mode a ticket issued by one node must open a stream on any node (a load balancer
 * picks one per request): `SealedStreamTickets`. The ticket carries its listener and expiry
 * sealed with AES-256-GCM under a key derived from the secret every node shares (the token
 * secret): any node can open and check it, no node stores anything to issue one, and the URL
 * still tells nothing (sealed, not only signed: the user id is not readable in a log). Single
 * use across nodes is a `spend` port (cluster/spent-tickets.ts: a create-only key in a JetStream
 * KV bucket whose TTL outlives the ticket), written only when a ticket is redeemed. Chosen over
 * storing tickets in the bucket because issuing then costs no round trip and an unused ticket
 * leaves nothing behind.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

export const DEFAULT_TICKET_TTL_MS = 30_000;
/** Tickets outstanding at most: a flood of requests must not grow the map without end. */
const MAX_TICKETS = 100_000;
const TICKET = /^[A-Za-z0-9_-]{43}$/;

export type Redeemed =
  { ok: true; userId: string } | { ok: false; reason: 'ticket_invalid' | 'ticket_expired' };

/** What the stream and the ticket route need of a ticket book, in one process or a cluster. */
export interface TicketBook {
  readonly ttlMs: number;
  issue(userId: string): string;
  /** Spends the ticket; rejects when it cannot be checked now (the store is unreachable). */
  redeem(ticket: string): Redeemed | Promise<Redeemed>;
}

export class StreamTickets implements TicketBook {
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
  redeem(ticket: string): Redeemed {
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

/** Marks a ticket id spent: true the first time, false once spent (on any node). */
export type SpendTicket = (id: string) => Promise<boolean>;

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** A sealed ticket's size at most, base64url: an overlong `?ticket=` is refused unread. */
const MAX_SEALED = 512;
const SEALED = /^[A-Za-z0-9_-]+$/;

export class SealedStreamTickets implements TicketBook {
  private readonly key: Buffer;

  constructor(
    secret: string,
    private readonly spend: SpendTicket,
    readonly ttlMs = DEFAULT_TICKET_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {
    // A key of its own, so a ticket is never mistaken for anything else made with the secret.
    this.key = createHmac('sha256', secret).update('stream-ticket/v1').digest();
  }

  issue(userId: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([
      cipher.update(JSON.stringify({ u: userId, e: this.now() + this.ttlMs })),
      cipher.final(),
    ]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  async redeem(ticket: string): Promise<Redeemed> {
    if (ticket.length > MAX_SEALED || !SEALED.test(ticket)) return { ok: false, reason: 'ticket_invalid' };
    const bytes = Buffer.from(ticket, 'base64url');
    if (bytes.length <= IV_BYTES + TAG_BYTES) return { ok: false, reason: 'ticket_invalid' };
    const iv = bytes.subarray(0, IV_BYTES);
    let claims: { u?: unknown; e?: unknown };
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv);
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)),
        decipher.final(),
      ]);
      claims = JSON.parse(plain.toString('utf8')) as typeof claims;
    } catch {
      // Not sealed with our key, or altered.
      return { ok: false, reason: 'ticket_invalid' };
    }
    if (typeof claims.u !== 'string' || typeof claims.e !== 'number')
      return { ok: false, reason: 'ticket_invalid' };
    if (claims.e <= this.now()) return { ok: false, reason: 'ticket_expired' };
    // The random IV is the ticket's id: spent once, on whichever node sees it first.
    if (!(await this.spend(iv.toString('base64url')))) return { ok: false, reason: 'ticket_invalid' };
    return { ok: true, userId: claims.u };
  }
}
