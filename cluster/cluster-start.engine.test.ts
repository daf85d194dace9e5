/**
 * Start-up of a cluster node against the shared NATS (in this process, no server): NATS
 * unreachable, a lease bucket missing (created) or made for another lease time (refused), a
 * node id in use, and the leases themselves (a node lease renewed at one epoch; listener
 * leases naming it, live while it is, taken over at the revision read once it is gone).
 */
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, requireNats, silentLogger, waitFor } from '../testkit/pipeline.ts';
import { testNamespace } from '../testkit/engines.ts';
import { ClusterStartError, startClusterNode, type ClusterNode } from './cluster-node.ts';
import type { ClusterConfig } from './cluster-config.ts';
import { LeaseTable, listenerKey } from './lease-table.ts';
import { OwnedElsewhere } from '../session/placement.ts';

let natsUrl: string;
let nc: NatsConnection;
const names: string[] = [];
const nodes: ClusterNode[] = [];

beforeAll(async () => {
  natsUrl = await requireNats();
  nc = await connect({ servers: natsUrl });
});

afterAll(async () => {
  for (const n of nodes) await n.close().catch(() => undefined);
  const jsm = await jetstreamManager(nc);
  for (const name of names)
    for (const bucket of ['leases', 'listeners'])
      await jsm.streams.delete(`KV_${name}_${bucket}`).catch(() => undefined);
  await nc.close();
});

function config(over: Partial<ClusterConfig> = {}): ClusterConfig {
  const name = `c_${testNamespace('start').id}`.slice(0, 32);
  names.push(name);
  return { natsUrl, nodeId: 'n1', name, leaseTtlMs: 2_000, journal: false, ...over };
}

async function node(cfg: ClusterConfig): Promise<ClusterNode> {
  const n = await startClusterNode(cfg, silentLogger);
  nodes.push(n);
  return n;
}

describe('cluster start', () => {
  it('cluster start - NATS unreachable is a clear error naming the URL', async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const err = await startClusterNode(config({ natsUrl: url }), silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterStartError);
    expect(String(err)).toMatch(new RegExp(`NATS is unreachable at ${url}`));
  });

  it('cluster start - missing lease buckets are created; one made for another lease time is refused', async () => {
    const cfg = config();
    await node(cfg);
    const status = await (await new Kvm(nc).open(`${cfg.name}_leases`)).status();
    expect(status.ttl).toBe(2_000);
    // Listener leases live as long as their node's: their bucket has no TTL.
    expect((await (await new Kvm(nc).open(`${cfg.name}_listeners`)).status()).ttl).toBe(0);
    const err = await startClusterNode({ ...cfg, nodeId: 'n2', leaseTtlMs: 5_000 }, silentLogger).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ClusterStartError);
    expect(String(err)).toMatch(/TTL of 2000 ms, this node is configured for 5000 ms/);
  });

  it('cluster start - a listener lease bucket made with a TTL is refused', async () => {
    const cfg = config();
    await new Kvm(nc).create(`${cfg.name}_listeners`, { ttl: 2_000, history: 1 });
    const err = await startClusterNode(cfg, silentLogger).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterStartError);
    expect(String(err)).toMatch(/_listeners has a TTL of 2000 ms and must have none/);
  });

  it('cluster start - a node id held by a live node is refused; a second id joins', async () => {
    const cfg = config();
    await node(cfg);
    await expect(startClusterNode(cfg, silentLogger)).rejects.toThrow(/node id n1 is already in use/);
    await node({ ...cfg, nodeId: 'n2' });
  });

  it('cluster start - one owner per listener: the second node is told where it runs', async () => {
    const cfg = config();
    const [a, b] = [await node(cfg), await node({ ...cfg, nodeId: 'n2' })];
    const claims = await Promise.allSettled([a.claim('u1'), b.claim('u1')]);
    const won = claims.filter((c) => c.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const lost = claims.find((c) => c.status === 'rejected') as PromiseRejectedResult;
    expect(lost.reason).toBeInstanceOf(OwnedElsewhere);
    const [owner, other] = claims[0]!.status === 'fulfilled' ? [a, b] : [b, a];
    expect((lost.reason as OwnedElsewhere).owner).toBe(owner.nodeId);
    expect(owner.holds('u1')).toBe(true);
    expect(other.holds('u1')).toBe(false);
    // Released: the other node may own it now.
    owner.release('u1');
    await expect(waitClaim(other, 'u1')).resolves.toBeUndefined();
  });

  it('cluster start - leases: a listener lease lives with its node lease; taken over only at the revision read', async () => {
    const cfg = config();
    const kvm = new Kvm(nc);
    const nodeKv = await kvm.create(`${cfg.name}_leases`, { ttl: 2_000, history: 1 });
    const listenerKv = await kvm.create(`${cfg.name}_listeners`, { history: 1 });
    const lostByA: string[][] = [];
    const table = (id: string, lost: (keys: string[]) => void = () => undefined) =>
      new LeaseTable(nodeKv, listenerKv, id, 2_000, silentLogger, lost);
    const [a, b, c] = [table('a', (keys) => lostByA.push(keys)), table('b'), table('c')];
    for (const t of [a, b, c]) expect(await t.join()).toMatchObject({ ok: true });
    // A second table of the same node id: the node lease is taken.
    expect(await table('a').join()).toMatchObject({ ok: false, holder: 'a' });
    // Placing a listener without a node lease is refused.
    await expect(table('d').acquire(listenerKey('x'))).rejects.toThrow(/holds no node lease/);

    const key = listenerKey('user with spaces/é');
    const first = await a.acquire(key);
    expect(first.ok).toBe(true);
    expect(a.holds(key)).toBe(true);
    const seen = await b.acquire(key);
    expect(seen).toMatchObject({ ok: false, holder: 'a', epoch: a.epoch() });
    const rev = (seen as { revision: number }).revision;
    // Renewals rewrite the node key, its epoch stays: the listener lease stays live.
    a.start();
    await waitFor('a renewal of the node lease', () => a.renewed >= 2);
    expect((await b.nodeLease('a'))?.epoch).toBe(a.epoch());
    expect(a.holds(key)).toBe(true);

    // a's NATS connection closed (say): its node lease is revoked at the revision read, once.
    const nodeA = (await b.nodeLease('a'))!;
    a.stop();
    expect(await b.revokeNode('a', nodeA.revision - 1)).toBe(false);
    expect(await b.revokeNode('a', nodeA.revision)).toBe(true);
    expect(await b.nodeLease('a')).toBeUndefined();
    // Two nodes take the listener over at the revision read: exactly one wins.
    const takes = await Promise.all([b.takeOver(key, rev), c.takeOver(key, rev)]);
    const won = takes.filter((t) => t && t.ok);
    expect(won).toHaveLength(1);
    const [winner, loser] = takes[0] && takes[0].ok ? [b, c] : [c, b];
    expect(winner.holds(key)).toBe(true);
    expect(loser.holds(key)).toBe(false);
    // The fencing token grows with every holder.
    expect(winner.fenceOf(key)).toBeGreaterThan((first as { fence: number }).fence);
    // a learns at its next renewal (refused): every listener it held, lost at once.
    a.start();
    await waitFor('a losing its node lease', () => lostByA.length > 0);
    a.stop();
    expect(lostByA).toEqual([[key]]);
    expect(a.holds(key)).toBe(false);
    // a joins again at a new epoch; its old listener key names a dead epoch.
    expect(await a.join()).toMatchObject({ ok: true });

    // Drain: the node lease and the listener keys are deleted; the listener is free.
    await winner.releaseAll();
    expect(await loser.nodeLease(winner === b ? 'b' : 'c')).toBeUndefined();
    expect(await loser.revisionOf(key)).toBe(0);
    expect(await loser.acquire(key)).toMatchObject({ ok: true });
  });
});

/** Claims until the released key is gone (the release is asynchronous). */
async function waitClaim(n: ClusterNode, userId: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      return await n.claim(userId);
    } catch (e) {
      if (!(e instanceof OwnedElsewhere)) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('never released');
}
