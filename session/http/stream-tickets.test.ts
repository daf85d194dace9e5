import { describe, expect, it } from 'vitest';
import { StreamTickets } from './stream-tickets.ts';

describe('stream tickets', () => {
  it('stream tickets - a ticket names its listener once, then is spent', () => {
    const tickets = new StreamTickets(30_000, () => 1_000);
    const t = tickets.issue('u1');
    expect(t).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tickets.issue('u1')).not.toBe(t);
    expect(tickets.redeem(t)).toEqual({ ok: true, userId: 'u1' });
    expect(tickets.redeem(t)).toEqual({ ok: false, reason: 'ticket_invalid' });
  });

  it('stream tickets - past its lifetime a ticket is expired, and spent all the same', () => {
    let now = 0;
    const tickets = new StreamTickets(30_000, () => now);
    const t = tickets.issue('u1');
    now = 30_000;
    expect(tickets.redeem(t)).toEqual({ ok: false, reason: 'ticket_expired' });
    expect(tickets.redeem(t)).toEqual({ ok: false, reason: 'ticket_invalid' });
  });

  it('stream tickets - malformed and unknown tickets are refused', () => {
    const tickets = new StreamTickets();
    for (const bad of ['', 'x', 'A'.repeat(43), 'A'.repeat(42) + '=', 'a.b.c'])
      expect(tickets.redeem(bad)).toEqual({ ok: false, reason: 'ticket_invalid' });
  });
});
