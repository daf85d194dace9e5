/**
 * Start-up of a cluster node against the shared NATS (in this process, no server): NATS
 * unreachable, a lease bucket missing (created) or made for another lease time (refused), a
 * node id in use, and the leases themselves (create-if-absent, compare-and-set renewal, take
 * over of a dead holder's key with the revision read).
 */
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, requireNats, silentLogger } from '../testkit/pipeline.ts';
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
  for (const name of names) await jsm.streams.delete(`KV_${name}_leases`).catch(() => undefined);
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

  it('cluster start - a missing lease bucket is created; one made for another lease time is refused', async () => {
    const cfg = config();
    await node(cfg);
    const status = await (await new Kvm(nc).open(`${cfg.name}_leases`)).status();
    expect(status.ttl).toBe(2_000);
    const err = await startClusterNode({ ...cfg, nodeId: 'n2', leaseTtlMs: 5_000 }, silentLogger).catch(
      (e: unknown) => e,
    );
    expect(String(err)).toMatch(/TTL of 2000 ms, this node is configured for 5000 ms/);
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

  it('cluster start - leases: create-if-absent, renewal by revision, take over only at the revision read', async () => {
    const cfg = config();
    const kv = await new Kvm(nc).create(`${cfg.name}_leases`, { ttl: 2_000, history: 1 });
    const lost: string[] = [];
    const a = new LeaseTable(kv, 'a', 2_000, silentLogger, (k) => lost.push(k));
    const b = new LeaseTable(kv, 'b', 2_000, silentLogger, () => undefined);
    const key = listenerKey('user with spaces/é');
    const first = await a.acquire(key);
    expect(first.ok).toBe(true);
    const second = await b.acquire(key);
    expect(second).toMatchObject({ ok: false, holder: 'a' });
    const rev = (second as { revision: number }).revision;
    // a renews (compare-and-set): b's take over at the old revision is refused.
    await kv.update(key, new TextEncoder().encode(JSON.stringify({ node: 'a', at: 0 })), rev);
    expect(await b.takeOver(key, rev)).toBe(false);
    const now = await b.revisionOf(key);
    expect(await b.takeOver(key, now)).toBe(true);
    const mine = await b.acquire(key);
    expect(mine.ok).toBe(true);
    // The fencing token grows with every holder.
    expect((mine as { fence: number }).fence).toBeGreaterThan((first as { fence: number }).fence);
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
