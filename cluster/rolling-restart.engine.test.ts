/**
 * A rolling restart of every node of a 3-node cluster under load (issue 15, point 5; the
 * scenario and its checks in testkit/rolling-restart.ts): listeners with two devices each on
 * different nodes send a steady stream of commands while each node in turn is sent SIGTERM,
 * exits, and comes back under its id. Afterwards every acknowledged command's effect is in the
 * state the devices see, every listener has one live owner, and every play the devices saw has
 * exactly one play.start (and one play.end once it ended) in the cluster's events stream.
 * Every wait is on an event, with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTestCluster,
  type ClusterDevice,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';
import { rollingRestart } from '../testkit/rolling-restart.ts';

const NODE_IDS = ['a', 'b', 'c'] as const;

let cluster: TestCluster;
const nodes = new Map<string, NodeProcess>();
const down = new Set<string>();
const devices: ClusterDevice[] = [];

beforeAll(async () => {
  cluster = await startTestCluster('rolling', { CLUSTER_LEASE_TTL_MS: '2000', SESSION_GRACE_MS: '60000' });
  for (const n of await Promise.all(NODE_IDS.map((id) => cluster.start(id)))) nodes.set(n.nodeId, n);
}, 180_000);

afterAll(async () => {
  for (const d of devices) d.close();
  await cluster?.stop();
}, 60_000);

describe('cluster rolling restart', () => {
  it('cluster rolling restart - SIGTERM and restart of every node in turn under load: nothing acknowledged lost, one owner per listener, each play’s events once', async () => {
    const report = await rollingRestart(
      cluster,
      {
        ids: NODE_IDS,
        urls: () => NODE_IDS.flatMap((id) => (down.has(id) ? [] : [nodes.get(id)!.wsUrl])),
        running: (id) => nodes.has(id) && !down.has(id),
        async restart(id) {
          const victim = nodes.get(id)!;
          down.add(id);
          victim.signal('SIGTERM');
          const exit = await victim.exited;
          nodes.set(id, await cluster.start(id));
          down.delete(id);
          return exit;
        },
      },
      { listeners: 6, prefix: 'roll', paceMs: 150 },
      devices,
    );
    expect(report.problems).toEqual([]);
    expect(report.exits).toEqual(Object.fromEntries(NODE_IDS.map((id) => [id, { code: 0, signal: null }])));
    // Every device was on a node that restarted (its own or its listener's owner).
    expect(report.reconnectedDevices).toBe(report.devices);
    expect(report.errors).toEqual([]);
    expect(report.acked).toBeGreaterThan(6 * 20);
    expect(report.plays).toBeGreaterThan(6 * 5);
    expect(report.queueAddsAcked).toBeGreaterThan(6 * 3);
    expect([
      report.lostAckedCommands,
      report.doubleActivations,
      report.lostEvents,
      report.duplicateEvents,
    ]).toEqual([0, 0, 0, 0]);
  }, 300_000);
});
