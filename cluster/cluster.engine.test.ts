/**
 * Three session nodes as child processes on the shared NATS and CQL node (one cluster name,
 * bucket, stream and keyspace for this file, removed after it): one actor per listener under
 * concurrent hellos, relayed commands in order, failover after `kill -9`, the SIGSTOP chaos
 * case (with the royalty ledger, written by the nodes' pipeline consumers, checked against the
 * play the devices saw), a graceful drain, and a node id clash. Every wait is on an event, with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { ServerFrame } from '../protocol/messages.ts';
import { waitFor } from '../testkit/pipeline.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import { createScyllaCatalog } from '../storage/catalog.scylla.ts';
import { createScyllaRoyalties } from '../storage/royalties.scylla.ts';
import type { CountedPlay } from '../storage/royalties.ts';
import { monthOf } from '../storage/event-codec.ts';
import { STREAM_THRESHOLD_MS } from '../pipeline/royalty-rule.ts';
import {
  ClusterDevice,
  startTestCluster,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';

let cluster: TestCluster;
let nodes: NodeProcess[] = [];
/** The nodes alive now, for devices that reconnect round-robin. */
const live = () => nodes.filter((n) => !dead.has(n)).map((n) => n.wsUrl);
const dead = new Set<NodeProcess>();
const devices: ClusterDevice[] = [];

beforeAll(async () => {
  cluster = await startTestCluster('cluster', { CLUSTER_LEASE_TTL_MS: '2000', SESSION_GRACE_MS: '60000' });
  nodes = await Promise.all(['a', 'b', 'c'].map((id) => cluster.start(id)));
}, 180_000);

afterAll(async () => {
  for (const d of devices) d.close();
  await cluster?.stop();
}, 60_000);

async function device(userId: string, deviceId: string, node: NodeProcess): Promise<ClusterDevice> {
  const d = new ClusterDevice(live, await cluster.token(userId), deviceId, live().indexOf(node.wsUrl));
  devices.push(d);
  await d.connect();
  return d;
}

/** A playable track of `durationMs` (the fixture's audio rows of demo01, renamed). */
async function longTrack(catalog: CatalogStore, id: string, durationMs: number): Promise<void> {
  const [base] = (await catalog.getTracks(['demo01'])).values();
  for (const f of await catalog.getAudioFiles('demo01')) await catalog.putAudioFile({ ...f, trackId: id });
  await catalog.putRights({ trackId: id, territory: '*', allowed: true });
  await catalog.putTrack({ ...base!, id, title: id, durationMs });
}

const stateVersions = (d: ClusterDevice) =>
  d.frames.flatMap((f) => (f.t === 'state' || f.t === 'welcome' ? [f.state.version] : []));

describe('cluster', () => {
  it('cluster - a second node with an id in use is refused with a clear error', async () => {
    const clash = cluster.start('a');
    await expect(clash).rejects.toThrow(/node id a is already in use/);
  });

  it('cluster - concurrent hellos on three nodes: one actor, every device sees the same session', async () => {
    const [a, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const ds = await Promise.all([device('u1', 'x-a', a), device('u1', 'x-b', b), device('u1', 'x-c', c)]);
    const epochs = new Set(ds.map((d) => d.welcomes[0]!.frame.state.epoch));
    expect(epochs.size).toBe(1);
    // One actor: a change made through any node reaches all three devices with one version.
    const ack = await ds[1]!.request({ t: 'shuffle', on: true });
    expect(ack.t).toBe('ack');
    for (const d of ds)
      await d.until(
        () => d.frames.some((f) => f.t === 'state' && f.state.shuffle),
        10_000,
        'the shuffle state',
      );
    const versions = ds.map((d) => [...d.frames].reverse().find((f) => f.t === 'state')!);
    expect(new Set(versions.map((f) => (f as Extract<ServerFrame, { t: 'state' }>).state.version)).size).toBe(
      1,
    );
  });

  it('cluster - relayed commands are answered in order, with the same frames as on one node', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    await device('u2', 'o-a', a); // owner: a
    const relayed = await device('u2', 'o-b', b);
    // A play is answered after its playback and prefetch, as on one node.
    expect((await relayed.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    const order = relayed.frames.map((f) => f.t);
    expect(order.indexOf('playback')).toBeLessThan(order.lastIndexOf('ack'));
    expect(order.indexOf('prefetch')).toBeLessThan(order.lastIndexOf('ack'));
    // Pipelined commands the machine answers at once (no catalog read): answered in the order
    // sent, and their states in version order.
    const ids = [
      relayed.send({ t: 'repeat', mode: 'context' }),
      relayed.send({ t: 'volume', percent: 40 }),
      relayed.send({ t: 'shuffle', on: true }),
      relayed.send({ t: 'seek', position_ms: 1_000 }),
      relayed.send({ t: 'repeat', mode: 'off' }),
      relayed.send({ t: 'volume', percent: 60 }),
      relayed.send({ t: 'shuffle', on: false }),
    ];
    await relayed.until(
      () => relayed.frames.some((f) => f.t === 'ack' && f.id === ids.at(-1)),
      30_000,
      'the last ack',
    );
    const answers = relayed.frames.flatMap((f) => (f.t === 'ack' || f.t === 'error' ? [f.id] : []));
    expect(answers.filter((id) => ids.includes(id!))).toEqual(ids);
    const versions = stateVersions(relayed);
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
  });

  it('cluster - transfer between devices on different nodes keeps the position within 250 ms', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const onA = await device('u6', 't-a', a); // owner: a
    const onB = await device('u6', 't-b', b);
    expect((await onB.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    expect((await onB.request({ t: 'seek', position_ms: 5_000 })).t).toBe('ack');
    const before = [...onB.frames].reverse().find((f) => f.t === 'state')! as Extract<
      ServerFrame,
      { t: 'state' }
    >;
    expect((await onB.request({ t: 'transfer', device_id: 't-a', play: true })).t).toBe('ack');
    const playback = (await onA.until(
      () => onA.frames.some((f) => f.t === 'playback'),
      15_000,
      'the playback on the target',
    ),
    onA.frames.find((f) => f.t === 'playback')!) as Extract<ServerFrame, { t: 'playback' }>;
    expect(playback.play_id).toBe(before.state.play_id);
    const after = [...onA.frames].reverse().find((f) => f.t === 'state')! as Extract<
      ServerFrame,
      { t: 'state' }
    >;
    expect(after.state.active_device_id).toBe('t-a');
    // Server-side continuity: the anchor after the transfer is the one before, moved on by the
    // time between them.
    const expected = before.state.position.position_ms + (after.state.position.at - before.state.position.at);
    expect(Math.abs(after.state.position.position_ms - expected)).toBeLessThanOrEqual(250);
  });

  it('cluster - kill -9 of the owner: devices reconnect elsewhere and get the acknowledged state', async () => {
    const [a, b] = nodes as [NodeProcess, NodeProcess];
    const owner = await device('u3', 'k-a', a);
    const other = await device('u3', 'k-b', b);
    expect((await owner.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    expect((await other.request({ t: 'queue.add', uri: 'spotify:track:demo07' })).t).toBe('ack');
    expect((await other.request({ t: 'repeat', mode: 'track' })).t).toBe('ack');
    // Acknowledged and saved (a snapshot at most a second after a change): what must survive.
    const last = stateVersions(other).at(-1)!;
    await waitFor(
      'the snapshot of the last change',
      async () => (await cluster.saved('u3')).version >= last,
      15_000,
    );
    // The play as the devices last saw it before the kill: its anchor moves with wall time.
    const before = [...other.frames].reverse().find((f) => f.t === 'state' || f.t === 'welcome')!.state;
    expect(before.is_playing).toBe(true);
    const killedAt = performance.now();
    dead.add(a);
    a.signal('SIGKILL');
    await Promise.all(
      [owner, other].map((d) => d.until(() => d.welcomes.length >= 2, 10_000, 'a welcome after the kill')),
    );
    const failoverMs = Math.max(owner.welcomes[1]!.at, other.welcomes[1]!.at) - killedAt;
    const state = other.welcomes[1]!.frame.state;
    expect(state.repeat).toBe('track');
    expect(state.context_uri).toBe('spotify:playlist:demo-mix');
    expect(state.track).not.toBeNull();
    expect(failoverMs).toBeGreaterThan(0);
    // Playback goes on by itself on the active device (owner), no resume pressed: the same
    // play, playing, where it has got to since the kill (its device played on meanwhile).
    const back = owner.frames.indexOf(owner.welcomes[1]!.frame);
    const playingAgain = () =>
      owner.frames
        .slice(back)
        .flatMap((f) =>
          (f.t === 'state' || f.t === 'welcome') && f.state.is_playing && f.state.play_id === before.play_id
            ? [f.state]
            : [],
        )[0];
    await owner.until(() => playingAgain() !== undefined, 10_000, 'playback going on after the kill');
    const resumed = playingAgain()!;
    const expected = before.position.position_ms + (resumed.position.at - before.position.at);
    expect(Math.abs(resumed.position.position_ms - expected)).toBeLessThanOrEqual(1_000);
    await owner.until(
      () =>
        owner.frames
          .slice(back)
          .some((f) => f.t === 'playback' && f.play_id === before.play_id && f.is_playing),
      10_000,
      'the playback handed back to the active device',
    );
    // One actor again: a command through either device reaches both.
    expect((await owner.request({ t: 'repeat', mode: 'off' })).t).toBe('ack');
    await other.until(
      () => other.frames.some((f) => f.t === 'state' && f.state.repeat === 'off'),
      10_000,
      'the new owner’s state',
    );
  });

  it('cluster - SIGSTOP of the owner past its lease: another node takes over; after SIGCONT the old owner sends nothing; the ledger counts the play once', async () => {
    const [, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const catalog = createScyllaCatalog(cluster.keyspace.client, cluster.keyspace.name);
    // A play must reach 30 s to count (the fixture's tracks last 20 s): one track long enough
    // that the play started on the paused owner crosses 30 s on the new one.
    await longTrack(catalog, 'chaos-long', 120_000);
    const onOwner = await device('u4', 's-b', b); // owner: b
    const other = await device('u4', 's-c', c);
    const playedAt = Date.now();
    expect((await other.request({ t: 'play', uris: ['spotify:track:chaos-long'] })).t).toBe('ack');
    const fenceBefore = await waitFor('the first snapshot', async () => {
      const s = await cluster.saved('u4');
      return s.version > 0 && s.fence;
    });
    const framesBefore = onOwner.frames.length;
    b.signal('SIGSTOP');
    dead.add(b);
    try {
      // c stops hearing from b, sends its device elsewhere; the lease runs out (2 s) and c
      // (the only node left) takes the listener over.
      await other.until(() => other.welcomes.length >= 2, 20_000, 'a welcome from the new owner');
      expect((await other.request({ t: 'repeat', mode: 'track' })).t).toBe('ack');
      // The new owner restores the session from the last snapshot and, its active device (this
      // one) back, the same play goes on by itself (its ms_played kept), reaching 30 s to count.
      await waitFor(
        'a snapshot fenced by the new owner',
        async () => (await cluster.saved('u4')).fence > fenceBefore,
      );
    } finally {
      b.signal('SIGCONT');
    }
    // b wakes up: its lease is gone, so the device still on it gets no frame of the session and
    // is closed with `moved`; the snapshot keeps the new owner's state.
    await onOwner.until(() => onOwner.closes.length >= 1, 20_000, 'the old owner closing its device');
    expect(onOwner.closes[0]!.code).toBe(CLOSE_CODES.moved.code);
    dead.delete(b);
    await onOwner.until(() => onOwner.welcomes.length >= 2, 20_000, 'the device back on the session');
    // Nothing on the old owner's socket between the pause and the reconnect.
    expect(onOwner.frames.slice(framesBefore, onOwner.frames.indexOf(onOwner.welcomes[1]!.frame))).toEqual(
      [],
    );
    const saved = await cluster.saved('u4');
    expect(saved.fence).toBeGreaterThan(fenceBefore);
    expect(onOwner.welcomes.at(-1)!.frame.state.repeat).toBe('track');

    // The royalty ledger, as the nodes' pipeline consumers wrote it, equals the ground truth:
    // the one play the listener's devices were shown, counted once, from its 30 s event.
    const shown = new Set(
      [...onOwner.frames, ...other.frames].flatMap((f) =>
        f.t === 'playback'
          ? [f.play_id]
          : f.t === 'state' || f.t === 'welcome'
            ? [f.state.play_id ?? []].flat()
            : [],
      ),
    );
    expect(shown.size).toBe(1);
    const [playId] = [...shown] as [string];
    const royalties = createScyllaRoyalties(cluster.keyspace.client, cluster.keyspace.name);
    const ledger = async () => {
      const rows: CountedPlay[] = [];
      for (const month of new Set([monthOf(playedAt), monthOf(Date.now())]))
        for await (const row of royalties.scanLedger(month)) if (row.userId === 'u4') rows.push(row);
      return rows;
    };
    const rows = await waitFor(
      'the play in the ledger',
      async () => {
        const r = await ledger();
        return r.length > 0 && r;
      },
      90_000,
    );
    expect(rows.map((r) => [r.playId, r.trackId, r.territory, r.product, r.eventId])).toEqual([
      [playId, 'chaos-long', 'SE', 'premium', `${playId}:play.progress`],
    ]);
    expect(rows[0]!.msPlayed).toBeGreaterThanOrEqual(STREAM_THRESHOLD_MS);
  }, 150_000);

  it('cluster - SIGTERM drains a node: its devices reconnect elsewhere at once and lose nothing acknowledged', async () => {
    const [, b, c] = nodes as [NodeProcess, NodeProcess, NodeProcess];
    const owner = await device('u5', 'd-c', c); // owner: c
    const relayed = await device('u5', 'd-b', b);
    expect((await relayed.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    expect((await owner.request({ t: 'queue.add', uri: 'spotify:track:demo08' })).t).toBe('ack');
    expect((await relayed.request({ t: 'repeat', mode: 'context' })).t).toBe('ack');
    c.signal('SIGTERM');
    dead.add(c);
    expect(await c.exited).toEqual({ code: 0, signal: null });
    for (const d of [owner, relayed]) {
      await d.until(() => d.welcomes.length >= 2, 20_000, 'a welcome after the drain');
      expect(d.closes[0]!.code).toBe(CLOSE_CODES.moved.code);
      const state = d.welcomes.at(-1)!.frame.state;
      expect(state.repeat).toBe('context');
      expect(state.context_uri).toBe('spotify:playlist:demo-mix');
    }
  });
});
