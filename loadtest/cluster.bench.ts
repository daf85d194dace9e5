/**
 * `npm run bench -- cluster [--kills 20] [--listeners 3] [--round-trips 300] [--k6-vus 30]
 * [--k6-duration 20] [--leases 10000] [--rolling-listeners 6] [--relay-only] [--leases-only]`:
 * four session nodes as child processes on the shared NATS and CQL node (the launcher's), devices as raw
 * sockets. Measured in one run:
 *
 * - relay: the command round trip (a `volume`, answered at once by the actor) of a device on
 *   the owner node and of one on another node, alternated; overhead = cross p99 - same p99;
 *   throughput with 32 commands in flight, cross over same (relay_ratio).
 * - k6 on three of the nodes (loadtest/k6/cluster-k6.ts): the share of relayed commands and
 *   their round trip against local ones (k6_relayed_share, k6_relayed_p99_ms, k6_local_p99_ms).
 * - leases of `--leases` listeners on one node: node lease renewals per second against needed,
 *   listeners lost, beside the compare-and-set writes/s NATS takes (the baseline).
 * - failover: `--kills` times, a node owning `--listeners` listeners (each with a device on it
 *   and one on another node) is killed with SIGKILL; kill to the last welcome of each
 *   listener's devices (they reconnect round-robin at once). The killed node is restarted in
 *   the background while the next kill hits another one.
 * - drain (SIGTERM), a rolling restart of every node under load (testkit/rolling-restart.ts,
 *   `--rolling-listeners 6`, 0: none) and chaos (SIGSTOP past the lease, commands through
 *   another node, SIGCONT): acknowledged commands missing afterwards (lost_acked_commands)
 *   and listeners with a second live actor (double_activations: the stopped owner still
 *   sending frames after it lost them; after the rolling restart, a listener without one
 *   live owner); the rolling restart's own figures and its lost / duplicate listening events
 *   beside them (rolling_restart_*).
 *
 * - journal (`--journal-only`: this part alone, no results file): server-side play latency at
 *   1 000 plays/s on a cluster node with the acknowledged-command journal on and off
 *   (journal-plays.ts).
 *
 * Writes bench-results/cluster.json. Targets (issue 15): failover p99 <= 2000 ms, p50 <= 1000 ms,
 * relay overhead p99 <= 2 ms, 0 lost, 0 double.
 */
import { loadavg } from 'node:os';
import {
  ClusterDevice,
  startTestCluster,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';
import { percentile, printTable, writeResults } from './report.ts';
import { requireNats } from '../testkit/pipeline.ts';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import pino from 'pino';
import { LeaseTable, listenerKey } from '../cluster/lease-table.ts';
import { jsonBytes, nodeSubject } from '../cluster/link-messages.ts';
import { runClusterK6, type ClusterK6Result } from './k6/cluster-k6.ts';
import { journaledPlayLatency, type JournalPlayFigures } from './journal-plays.ts';
import { requireEngine } from '../testkit/engines.ts';
import { rollingRestart, type RollingNodes, type RollingReport } from '../testkit/rolling-restart.ts';

function arg(args: string[], name: string, fallback: number, min = 1): number {
  const i = args.indexOf(name);
  const v = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < min) throw new Error(`${name} needs an integer >= ${min}`);
  return v;
}

class Nodes {
  private readonly byId = new Map<string, NodeProcess>();
  private readonly restarting = new Map<string, Promise<void>>();
  private readonly down = new Set<string>();
  private turn = 0;
  constructor(private readonly cluster: TestCluster) {}

  async start(ids: string[]): Promise<void> {
    await Promise.all(ids.map(async (id) => this.byId.set(id, await this.cluster.start(id))));
  }

  /** WebSocket URLs of the nodes up now (devices reconnect round-robin over them). */
  readonly urls = (): string[] =>
    [...this.byId.entries()].filter(([id]) => !this.down.has(id)).map(([, n]) => n.wsUrl);

  /** Two distinct live nodes (waits for a restart when fewer are up). */
  async pair(): Promise<[NodeProcess, NodeProcess]> {
    for (;;) {
      const up = [...this.byId.entries()].filter(([id]) => !this.down.has(id)).map(([, n]) => n);
      if (up.length >= 2) {
        const i = this.turn++ % up.length;
        return [up[i]!, up[(i + 1) % up.length]!];
      }
      await Promise.race(this.restarting.values());
    }
  }

  markDown(n: NodeProcess): void {
    this.down.add(n.nodeId);
  }

  restart(n: NodeProcess): void {
    this.down.add(n.nodeId);
    const p = n.exited.then(async () => {
      // A start can fail on a busy machine (a CQL migration timing out): try again.
      for (let attempt = 1; ; attempt++) {
        try {
          this.byId.set(n.nodeId, await this.cluster.start(n.nodeId));
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          console.log(`restart of ${n.nodeId} failed (${String(err).split('\n')[0]}); again`);
        }
      }
      this.down.delete(n.nodeId);
      this.restarting.delete(n.nodeId);
    });
    this.restarting.set(n.nodeId, p);
  }

  async settle(): Promise<void> {
    await Promise.all(this.restarting.values());
  }

  /** The nodes for a rolling restart (testkit/rolling-restart.ts): each sent SIGTERM, then started again. */
  rolling(): RollingNodes {
    return {
      ids: [...this.byId.keys()],
      urls: this.urls,
      running: (id) => this.byId.has(id) && !this.down.has(id),
      restart: async (id) => {
        const n = this.byId.get(id)!;
        this.markDown(n);
        n.signal('SIGTERM');
        const exit = await n.exited;
        this.restart(n);
        await this.settle();
        return exit;
      },
    };
  }
}

/**
 * Leases of `count` listeners on one node (cluster/lease-table.ts), in buckets of their own
 * with the nodes' TTL: the node joins (one node lease), places `count` listeners (one create
 * each), then renews for `ms`. Only the node lease is renewed, every TTL/4, so it needs
 * 1 / (TTL/4) renewals per second whatever `count` is; a listener counts as lost when the
 * table no longer holds it at the end. The baseline, measured in the same run: the
 * compare-and-set writes per second this NATS takes (`count` keys rewritten by revision with
 * 500 in flight for 3 s), against the count / (TTL/4) that renewing every listener's key
 * (the design before) would need.
 */
async function leaseRenewals(
  natsUrl: string,
  bucket: string,
  count: number,
  ttlMs: number,
  ms: number,
): Promise<{
  perS: number;
  neededPerS: number;
  lost: number;
  acquireMs: number;
  casPerS: number;
  perListenerNeededPerS: number;
}> {
  const nc = await connect({ servers: natsUrl });
  const kvm = new Kvm(nc);
  try {
    const nodeKv = await kvm.create(`${bucket}_leases`, { ttl: ttlMs, history: 1 });
    const listenerKv = await kvm.create(`${bucket}_listeners`, { history: 1 });
    const table = new LeaseTable(
      nodeKv,
      listenerKv,
      'bench',
      ttlMs,
      pino({ level: 'silent' }),
      () => undefined,
    );
    const joined = await table.join();
    if (!joined.ok) throw new Error('the bench node lease is taken');
    table.start();
    const keys = Array.from({ length: count }, (_, i) => listenerKey(`bench${i}`));
    const t0 = performance.now();
    for (let i = 0; i < count; i += 500)
      await Promise.all(
        keys.slice(i, i + 500).map(async (k) => {
          if (!(await table.acquire(k)).ok) throw new Error(`${k} taken`);
        }),
      );
    const acquireMs = performance.now() - t0;
    const from = table.renewed;
    const t1 = performance.now();
    await new Promise((r) => setTimeout(r, ms));
    const perS = (table.renewed - from) / ((performance.now() - t1) / 1000);
    const lost = keys.filter((k) => !table.holds(k)).length;
    table.stop();

    // Baseline: compare-and-set writes per second on this NATS, the keys' revisions in hand.
    const casKv = await kvm.create(`${bucket}_cas`, { history: 1 });
    const revs = new Map<string, number>();
    for (let i = 0; i < count; i += 500)
      await Promise.all(
        keys.slice(i, i + 500).map(async (k) => revs.set(k, await casKv.create(k, new Uint8Array(8)))),
      );
    let writes = 0;
    const until = performance.now() + 3_000;
    const t2 = performance.now();
    await Promise.all(
      Array.from({ length: 500 }, async (_, w) => {
        for (let i = w; performance.now() < until; i += 500) {
          const k = keys[i % count]!;
          revs.set(k, await casKv.update(k, new Uint8Array(8), revs.get(k)!));
          writes++;
        }
      }),
    );
    const casPerS = writes / ((performance.now() - t2) / 1000);
    return {
      perS,
      neededPerS: 1 / (ttlMs / 4 / 1000),
      lost,
      acquireMs,
      casPerS,
      perListenerNeededPerS: count / (ttlMs / 4 / 1000),
    };
  } finally {
    const jsm = await jetstreamManager(nc);
    for (const b of ['leases', 'listeners', 'cas'])
      await jsm.streams.delete(`KV_${bucket}_${b}`).catch(() => undefined);
    await nc.close();
  }
}

/** A listener with a device on its owner and one on another node. */
async function listener(
  cluster: TestCluster,
  nodes: Nodes,
  userId: string,
  owner: NodeProcess,
  other: NodeProcess,
): Promise<[ClusterDevice, ClusterDevice]> {
  const token = await cluster.token(userId);
  const onOwner = new ClusterDevice(nodes.urls, token, `${userId}-o`, nodes.urls().indexOf(owner.wsUrl));
  await onOwner.connect();
  const onOther = new ClusterDevice(nodes.urls, token, `${userId}-x`, nodes.urls().indexOf(other.wsUrl));
  await onOther.connect();
  return [onOwner, onOther];
}

async function roundTrips(d: ClusterDevice, n: number, out: number[]): Promise<void> {
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const a = await d.request({ t: 'volume', percent: i % 100 });
    if (a.t !== 'ack') throw new Error(`volume refused: ${JSON.stringify(a)}`);
    out.push(performance.now() - t0);
  }
}

/** Commands per second with `window` in flight for `ms`. */
async function throughput(d: ClusterDevice, ms: number, window = 32): Promise<number> {
  let done = 0;
  const until = performance.now() + ms;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: window }, async (_, w) => {
      while (performance.now() < until) {
        await d.request({ t: 'volume', percent: (w + done) % 100 });
        done++;
      }
    }),
  );
  return done / ((performance.now() - start) / 1000);
}

const volumeOf = (d: ClusterDevice) =>
  d.welcomes.at(-1)!.frame.state.devices.find((x) => x.id === d.deviceId)?.volume_percent;

/** `--leases-only`: the lease phase alone, no nodes (writes bench-results/cluster-leases.json). */
async function leasesOnly(count: number): Promise<void> {
  const load0 = loadavg()[0]!;
  const leases = await leaseRenewals(await requireNats(), `bench_${process.pid}`, count, 2_000, 10_000);
  const load1 = loadavg()[0]!;
  printTable(leaseRows(leases, count));
  writeResults('cluster-leases', {
    ...leaseFigures(leases, count),
    load_average_1m: [+load0.toFixed(1), +load1.toFixed(1)],
  });
}

type LeaseFigures = Awaited<ReturnType<typeof leaseRenewals>>;

const leaseFigures = (l: LeaseFigures, count: number) => ({
  lease_listeners: count,
  lease_renewals_per_s: +l.perS.toFixed(2),
  lease_renewals_needed_per_s: +l.neededPerS.toFixed(2),
  leases_lost: l.lost,
  lease_place_ms: Math.round(l.acquireMs),
  lease_cas_writes_per_s: Math.round(l.casPerS),
  lease_per_listener_renewals_needed_per_s: Math.round(l.perListenerNeededPerS),
});

const leaseRows = (l: LeaseFigures, count: number) => [
  { measure: `leases: ${count} listeners placed`, value: Math.round(l.acquireMs), unit: 'ms' },
  {
    measure: 'node lease renewals done / needed',
    value: `${l.perS.toFixed(2)} / ${l.neededPerS.toFixed(2)}`,
    unit: '/s',
  },
  { measure: 'listener leases lost (target 0)', value: l.lost, unit: '' },
  {
    measure: 'baseline: CAS writes NATS takes / renewing every listener needs',
    value: `${Math.round(l.casPerS)} / ${Math.round(l.perListenerNeededPerS)}`,
    unit: '/s',
  },
];

export default async function clusterBench(args: string[]): Promise<void> {
  if (args.includes('--leases-only')) return leasesOnly(arg(args, '--leases', 10_000));
  // --relay-only: the relay, k6 and lease phases alone (no kill, drain or pause).
  const relayOnly = args.includes('--relay-only');
  const kills = relayOnly ? 0 : arg(args, '--kills', 20);
  // --k6-vus 0 leaves the k6 phase out.
  const k6Vus = arg(args, '--k6-vus', 30, 0);
  const k6Duration = arg(args, '--k6-duration', 20);
  // --leases 0 leaves the lease renewal phase out.
  const leaseCount = arg(args, '--leases', 10_000, 0);
  const perKill = arg(args, '--listeners', 3);
  const trips = arg(args, '--round-trips', 300);
  // --rolling-listeners 0 leaves the rolling restart out.
  const rollingListeners = arg(args, '--rolling-listeners', 6, 0);
  const load0 = loadavg()[0]!;
  const journalPlays = () =>
    requireEngine('nats').then((natsUrl) =>
      journaledPlayLatency({
        natsUrl,
        rate: arg(args, '--journal-rate', 1_000),
        listeners: Math.ceil(arg(args, '--journal-rate', 1_000) / 2),
        seconds: 8,
        rounds: 2,
      }),
    );
  if (args.includes('--journal-only')) {
    const j = await journalPlays();
    printTable(journalRows(j));
    console.log(
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} (start ${load0.toFixed(2)})`,
    );
    return;
  }
  const cluster = await startTestCluster('bench_cluster', {
    CLUSTER_LEASE_TTL_MS: '2000',
    LOG_LEVEL: 'error',
    SESSION_GRACE_MS: '600000',
    RATE_LIMIT: '100000/100000',
  });
  const devices: ClusterDevice[] = [];
  try {
    const nodes = new Nodes(cluster);
    console.log('starting 4 nodes...');
    await nodes.start(['n1', 'n2', 'n3', 'n4']);

    // Relay: the same listener through its owner and through another node, alternated.
    const [owner, other] = await nodes.pair();
    const [same, cross] = await listener(cluster, nodes, 'bench-relay', owner, other);
    devices.push(same, cross);
    await roundTrips(same, 30, []);
    await roundTrips(cross, 30, []);
    const sameRtt: number[] = [];
    const crossRtt: number[] = [];
    // The floor of a relayed command: one NATS request/reply between two processes (this one
    // and the owner's ping responder), which a relayed command crosses once (device's node ->
    // NATS -> owner -> NATS -> device's node), measured interleaved with the round trips.
    const natsRtt: number[] = [];
    const nc = await connect({ servers: cluster.natsUrl });
    const ping = async (n: number) => {
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await nc.request(nodeSubject(cluster.name, owner.nodeId), jsonBytes({ t: 'ping' }), {
          timeout: 5_000,
        });
        natsRtt.push(performance.now() - t0);
      }
    };
    try {
      for (let i = 0; i < trips; i += 10) {
        await roundTrips(same, 10, sameRtt);
        await roundTrips(cross, 10, crossRtt);
        await ping(10);
      }
    } finally {
      await nc.close();
    }
    const sameRate = await throughput(same, 3_000);
    const crossRate = await throughput(cross, 3_000);

    // k6 on three nodes: each listener's anchor device places it, its session device moves
    // round the nodes (loadtest/k6/cluster-k6.ts); relayed and local round trips apart.
    let k6: ClusterK6Result | undefined;
    if (k6Vus > 0) {
      const tokens = await Promise.all(
        Array.from({ length: k6Vus }, (_, i) => cluster.token(`bench-k6-${i + 1}`)),
      );
      k6 = await runClusterK6({
        wsUrls: nodes.urls().slice(0, 3),
        tokens,
        durationS: k6Duration,
        playlist: 'spotify:playlist:demo-mix',
      });
    }

    // Lease renewals at --leases listeners (one node's worth).
    const leases =
      leaseCount > 0
        ? await leaseRenewals(cluster.natsUrl, `${cluster.name}_bench`, leaseCount, 2_000, 10_000)
        : undefined;
    if (leases)
      console.log(
        `leases: ${leaseCount} placed in ${Math.round(leases.acquireMs)} ms; ${leases.perS.toFixed(1)} renewals/s of ${leases.neededPerS.toFixed(1)} needed; ${leases.lost} lost; ` +
          `NATS takes ${Math.round(leases.casPerS)} compare-and-set writes/s, renewing every listener would need ${Math.round(leases.perListenerNeededPerS)}/s`,
      );

    // Failover after kill -9.
    const failover: number[] = [];
    for (let k = 0; k < kills; k++) {
      const [victim, survivor] = await nodes.pair();
      const ls = await Promise.all(
        Array.from({ length: perKill }, (_, j) =>
          listener(cluster, nodes, `bench-f${k}-${j}`, victim, survivor),
        ),
      );
      devices.push(...ls.flat());
      // A hello refused on a busy machine (the store timing out) reconnects elsewhere: only
      // listeners really owned by the victim count.
      const owned = ls.filter(([o]) => o.welcomes.at(-1)!.url === victim.wsUrl);
      const ds = owned.flat();
      const seen = new Map(ds.map((d) => [d, d.welcomes.length]));
      nodes.markDown(victim);
      const killedAt = performance.now();
      victim.signal('SIGKILL');
      await Promise.all(
        ds.map((d) => d.until(() => d.welcomes.length > seen.get(d)!, 30_000, 'a welcome after the kill')),
      );
      for (const [a, b] of owned)
        failover.push(Math.max(a.welcomes.at(-1)!.at, b.welcomes.at(-1)!.at) - killedAt);
      console.log(
        `kill ${k + 1}/${kills} (${victim.nodeId}, ${owned.length} listeners): slowest ${
          owned.length ? percentile(failover.slice(-owned.length), 100).toFixed(0) : '-'
        } ms`,
      );
      for (const d of ls.flat()) d.close();
      nodes.restart(victim);
    }
    await nodes.settle();

    // Drain: acknowledged settings survive a SIGTERM of the owner.
    let lost = 0;
    let double = 0;
    if (!relayOnly) {
      const [victim, survivor] = await nodes.pair();
      const ls = await Promise.all(
        Array.from({ length: 4 }, (_, j) => listener(cluster, nodes, `bench-d${j}`, victim, survivor)),
      );
      devices.push(...ls.flat());
      const acked = await Promise.all(
        ls
          .flat()
          .map(async (d, i) =>
            (await d.request({ t: 'volume', percent: 10 + i })).t === 'ack' ? 10 + i : -1,
          ),
      );
      nodes.markDown(victim);
      victim.signal('SIGTERM');
      await Promise.all(
        ls.flat().map((d) => d.until(() => d.welcomes.length >= 2, 30_000, 'a welcome after the drain')),
      );
      ls.flat().forEach((d, i) => {
        if (acked[i]! >= 0 && volumeOf(d) !== acked[i]) lost++;
      });
      nodes.restart(victim);
      await nodes.settle();
    }

    // Rolling restart: every node in turn sent SIGTERM and started again, under load.
    let rolling: RollingReport | undefined;
    if (!relayOnly && rollingListeners > 0) {
      console.log(`rolling restart of ${nodes.rolling().ids.length} nodes, ${rollingListeners} listeners...`);
      rolling = await rollingRestart(
        cluster,
        nodes.rolling(),
        { listeners: rollingListeners, prefix: 'bench-r', paceMs: 100 },
        devices,
      );
      for (const p of rolling.problems) console.log(`rolling restart: ${p}`);
      lost += rolling.lostAckedCommands;
      double += rolling.doubleActivations;
    }

    // Chaos: the owner paused past its lease while the listeners act through another node.
    if (!relayOnly) {
      const [victim, survivor] = await nodes.pair();
      const ls = await Promise.all(
        Array.from({ length: 4 }, (_, j) => listener(cluster, nodes, `bench-s${j}`, victim, survivor)),
      );
      devices.push(...ls.flat());
      // Every frame of the joins delivered before the pause, so what comes after is news.
      await Promise.all(
        ls.map(([v, x]) =>
          v.until(
            () =>
              v.frames.some((f) => f.t === 'state' && f.state.version >= x.welcomes[0]!.frame.state.version),
            30_000,
            'the join state',
          ),
        ),
      );
      const framesBefore = ls.map(([onVictim]) => onVictim.frames.length);
      nodes.markDown(victim);
      victim.signal('SIGSTOP');
      const acked: number[] = [];
      try {
        await Promise.all(ls.map(([, x]) => x.until(() => x.welcomes.length >= 2, 30_000, 'the new owner')));
        for (const [i, [, x]] of ls.entries())
          acked.push((await x.request({ t: 'volume', percent: 70 + i })).t === 'ack' ? 70 + i : -1);
      } finally {
        victim.signal('SIGCONT');
      }
      await Promise.all(ls.map(([v]) => v.until(() => v.welcomes.length >= 2, 30_000, 'the device back')));
      // Frames on the paused owner's own socket after the pause: that owner acting for a
      // listener another node had taken (a second live actor).
      for (const [i, [v]] of ls.entries()) {
        const back = v.frames.indexOf(v.welcomes[1]!.frame);
        if (back > framesBefore[i]!) {
          double++;
          console.log(
            `${v.deviceId}: frames from the paused owner: ${JSON.stringify(v.frames.slice(framesBefore[i], back)).slice(0, 300)}`,
          );
        }
      }
      for (const [i, [, x]] of ls.entries()) {
        const v = ls[i]![0];
        const state = v.welcomes.at(-1)!.frame.state;
        if (acked[i]! >= 0 && state.devices.find((d) => d.id === x.deviceId)?.volume_percent !== acked[i])
          lost++;
      }
    }

    const journal = await journalPlays();
    const load1 = loadavg()[0]!;
    const figures = {
      failover_p50_ms: Math.round(percentile(failover, 50)),
      failover_p99_ms: Math.round(percentile(failover, 99)),
      failover_samples: failover.length,
      kills,
      relay_same_p50_ms: +percentile(sameRtt, 50).toFixed(2),
      relay_cross_p50_ms: +percentile(crossRtt, 50).toFixed(2),
      relay_same_p99_ms: +percentile(sameRtt, 99).toFixed(2),
      relay_cross_p99_ms: +percentile(crossRtt, 99).toFixed(2),
      relay_overhead_p50_ms: +(percentile(crossRtt, 50) - percentile(sameRtt, 50)).toFixed(2),
      relay_overhead_p99_ms: +(percentile(crossRtt, 99) - percentile(sameRtt, 99)).toFixed(2),
      nats_request_p50_ms: +percentile(natsRtt, 50).toFixed(2),
      nats_request_p99_ms: +percentile(natsRtt, 99).toFixed(2),
      relay_same_cmds_per_s: Math.round(sameRate),
      relay_cross_cmds_per_s: Math.round(crossRate),
      relay_ratio: +(crossRate / sameRate).toFixed(3),
      lost_acked_commands: relayOnly ? null : lost,
      double_activations: relayOnly ? null : double,
      ...(rolling
        ? {
            rolling_restart_acked_commands: rolling.acked,
            rolling_restart_lost_acked_commands: rolling.lostAckedCommands,
            rolling_restart_double_activations: rolling.doubleActivations,
            rolling_restart_lost_events: rolling.lostEvents,
            rolling_restart_duplicate_events: rolling.duplicateEvents,
            rolling_restart_plays: rolling.plays,
          }
        : {}),
      ...(k6 ?? {}),
      ...(leases
        ? {
            ...leaseFigures(leases, leaseCount),
          }
        : {}),
      play_p99_ms_journaled: journal.on.p99,
      play_p99_ms_unjournaled: journal.off.p99,
      play_p50_ms_journaled: journal.on.p50,
      play_p50_ms_unjournaled: journal.off.p50,
      jetstream_publish_p50_ms: journal.publish.p50,
      jetstream_publish_p99_ms: journal.publish.p99,
      load_average_1m: [+load0.toFixed(1), +load1.toFixed(1)],
    };
    printTable([
      { measure: 'failover p50 (target <= 1000)', value: figures.failover_p50_ms, unit: 'ms' },
      { measure: 'failover p99 (target <= 2000)', value: figures.failover_p99_ms, unit: 'ms' },
      { measure: 'round trip same node p99', value: figures.relay_same_p99_ms, unit: 'ms' },
      { measure: 'round trip relayed p99', value: figures.relay_cross_p99_ms, unit: 'ms' },
      { measure: 'relay overhead p99 (target <= 2)', value: figures.relay_overhead_p99_ms, unit: 'ms' },
      {
        measure: 'bare NATS request/reply p50 / p99 (the floor of a relay)',
        value: `${figures.nats_request_p50_ms} / ${figures.nats_request_p99_ms}`,
        unit: 'ms',
      },
      { measure: 'relay ratio cross/same throughput', value: figures.relay_ratio, unit: '' },
      ...(k6
        ? [
            { measure: 'k6: share of commands relayed', value: k6.k6_relayed_share, unit: '' },
            { measure: 'k6: command round trip relayed p99', value: k6.k6_relayed_p99_ms, unit: 'ms' },
            { measure: 'k6: command round trip local p99', value: k6.k6_local_p99_ms, unit: 'ms' },
            {
              measure: 'k6: play relayed / local p99',
              value: `${k6.k6_relayed_play_p99_ms} / ${k6.k6_local_play_p99_ms}`,
              unit: 'ms',
            },
          ]
        : []),
      ...(leases ? leaseRows(leases, leaseCount) : []),
      { measure: 'lost acked commands (target 0)', value: relayOnly ? '-' : lost, unit: '' },
      { measure: 'double activations (target 0)', value: relayOnly ? '-' : double, unit: '' },
      ...(rolling
        ? [
            {
              measure: `rolling restart: lost acked / double / lost events / duplicate events (of ${rolling.acked} acked, ${rolling.plays} plays; target 0)`,
              value: `${rolling.lostAckedCommands} / ${rolling.doubleActivations} / ${rolling.lostEvents} / ${rolling.duplicateEvents}`,
              unit: '',
            },
          ]
        : []),
      ...journalRows(journal),
      {
        measure: 'load average 1 min, start/end',
        value: `${load0.toFixed(1)} / ${load1.toFixed(1)}`,
        unit: '',
      },
    ]);
    writeResults('cluster', figures);
  } finally {
    for (const d of devices) d.close();
    await cluster.stop();
  }
}

function journalRows(j: JournalPlayFigures): { measure: string; value: number | string; unit: string }[] {
  return [
    { measure: `play p99 at ${j.rate}/s, journal on`, value: j.on.p99, unit: 'ms' },
    { measure: `play p99 at ${j.rate}/s, journal off`, value: j.off.p99, unit: 'ms' },
    { measure: 'play p50, journal on / off', value: `${j.on.p50} / ${j.off.p50}`, unit: 'ms' },
    {
      measure: 'device round trip p50, journal on / off',
      value: `${j.on.device.p50} / ${j.off.device.p50}`,
      unit: 'ms',
    },
    {
      measure: 'device round trip p99, journal on / off',
      value: `${j.on.device.p99} / ${j.off.device.p99}`,
      unit: 'ms',
    },
    {
      measure: 'plays acknowledged in the round, on / off',
      value: `${j.on.device.answered} / ${j.off.device.answered}`,
      unit: '',
    },
    {
      measure: 'CPU per play, journal on / off',
      value: `${j.on.cpuUsPerPlay} / ${j.off.cpuUsPerPlay}`,
      unit: 'us',
    },
    { measure: 'event loop busy, journal on / off', value: `${j.on.loopBusy} / ${j.off.loopBusy}`, unit: '' },
    { measure: 'bare JetStream publish p50 / p99', value: `${j.publish.p50} / ${j.publish.p99}`, unit: 'ms' },
  ];
}
