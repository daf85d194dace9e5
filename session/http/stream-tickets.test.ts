import { describe, expect, it } from 'vitest';
import { SealedStreamTickets, StreamTickets } from './stream-tickets.ts';

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

describe('sealed stream tickets', () => {
  // The spent ids as a set: the cluster keeps them in a JetStream KV bucket (sse-relay.engine.test.ts).
  const book = (now: () => number, secret = 'shared-secret') => {
    const spent = new Set<string>();
    return new SealedStreamTickets(
      secret,
      async (id) => !spent.has(id) && Boolean(spent.add(id)),
      30_000,
      now,
    );
  };

  it('sealed stream tickets - a ticket from one node opens once on another that shares the secret and the spends', async () => {
    const spent = new Set<string>();
    const spend = async (id: string) => !spent.has(id) && Boolean(spent.add(id));
    const a = new SealedStreamTickets('s', spend, 30_000, () => 0);
    const b = new SealedStreamTickets('s', spend, 30_000, () => 0);
    const t = a.issue('user:1');
    expect(t).not.toContain('user');
    expect(await b.redeem(t)).toEqual({ ok: true, userId: 'user:1' });
    expect(await a.redeem(t)).toEqual({ ok: false, reason: 'ticket_invalid' });
  });

  it('sealed stream tickets - expired, altered, foreign and malformed tickets are refused', async () => {
    let now = 0;
    const tickets = book(() => now);
    const t = tickets.issue('u1');
    const altered = (t[5] === 'A' ? 'B' : 'A') + t.slice(1);
    expect(await tickets.redeem(altered)).toEqual({ ok: false, reason: 'ticket_invalid' });
    expect(await book(() => 0, 'another-secret').redeem(t)).toEqual({ ok: false, reason: 'ticket_invalid' });
    for (const bad of ['', 'x', 'A'.repeat(43), 'A'.repeat(600), 'a.b.c'])
      expect(await tickets.redeem(bad)).toEqual({ ok: false, reason: 'ticket_invalid' });
    now = 30_000;
    expect(await tickets.redeem(t)).toEqual({ ok: false, reason: 'ticket_expired' });
  });
});
