/**
 * Cluster mode: the stream tickets spent on any node (session/http/stream-tickets.ts,
 * `SealedStreamTickets`), as create-only keys of a JetStream KV bucket, `<name>_tickets`.
 * A key is created once: a second node (or a second try) redeeming the same ticket is
 * refused by the server's compare-and-set, so a ticket opens one stream in the whole cluster.
 * The bucket's TTL is twice a ticket's lifetime, so a key outlives its ticket (with room for
 * clocks that differ between nodes) and nothing is left once tickets expire.
 */
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { SpendTicket } from '../session/http/stream-tickets.ts';
import { isWrongRevision } from './lease-table.ts';

export const ticketBucket = (name: string): string => `${name}_tickets`;

export async function openSpentTickets(
  link: { nc: NatsConnection; name: string },
  ticketTtlMs: number,
): Promise<SpendTicket> {
  const ttl = ticketTtlMs * 2;
  const kv = await new Kvm(link.nc).create(ticketBucket(link.name), { ttl, history: 1 });
  const status = await kv.status();
  if (status.ttl !== ttl)
    throw new Error(
      `the ticket bucket ${ticketBucket(link.name)} has a TTL of ${status.ttl} ms, this node needs ${ttl} ms; ` +
        'delete it to have it made again',
    );
  return async (id) => {
    try {
      await kv.create(`t.${id}`, new Uint8Array(0));
      return true;
    } catch (err) {
      if (isWrongRevision(err)) return false;
      throw err;
    }
  };
}
