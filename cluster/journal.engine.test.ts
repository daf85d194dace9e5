/**
 * The acknowledged-command journal across node processes: commands acknowledged right before
 * a `kill -9` of the owner (well inside the snapshot delay, so no snapshot holds them) are all
 * in the next owner's `welcome`, over several kills of whichever node owns the listener.
 * Every wait is on an event, with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { SessionState } from '../protocol/messages.ts';
import { jetstreamManager } from '@nats-io/jetstream';
import { journalSubject, readJournalEntry } from '../storage/journal.jetstream.ts';
import {
  ClusterDevice,
  startTestCluster,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';
import { listenerKey } from './lease-table.ts';

const KILLS = 3;
const USER = 'journal-u1';

let cluster: TestCluster;
let nc: NatsConnection;
let leases: KV;
/** The running node of each id (a killed one is started again under its id). */
const nodes = new Map<string, NodeProcess>();
const dead = new Set<string>();
const live = () => [...nodes.values()].filter((n) => !dead.has(n.nodeId)).map((n) => n.wsUrl);
const devices: ClusterDevice[] = [];

beforeAll(async () => {
  cluster = await startTestCluster('journal', {
    CLUSTER_LEASE_TTL_MS: '2000',
    SESSION_GRACE_MS: '60000',
  });
  for (const n of await Promise.all(['a', 'b', 'c'].map((id) => cluster.start(id)))) {
    nodes.set(n.nodeId, n);
  }
  nc = await connect({ servers: cluster.natsUrl });
  leases = await new Kvm(nc).open(`${cluster.name}_listeners`);
}, 180_000);

afterAll(async () => {
  for (const d of devices) d.close();
  await nc?.close();
  await cluster?.stop();
}, 60_000);

async function device(deviceId: string, index: number, user = USER): Promise<ClusterDevice> {
  const d = new ClusterDevice(live, await cluster.token(user), deviceId, index);
  devices.push(d);
  await d.connect();
  return d;
}

/** The node holding the listener's lease now. */
async function owner(user = USER): Promise<NodeProcess> {
  const e = await leases.get(listenerKey(user));
  const id = e && e.operation === 'PUT' ? (e.json() as { node: string }).node : undefined;
  const n = id === undefined ? undefined : nodes.get(id);
  if (!n || dead.has(n.nodeId)) throw new Error(`no live owner of ${user} (lease: ${id ?? 'none'})`);
  return n;
}

const lastWelcome = (d: ClusterDevice): SessionState => d.welcomes.at(-1)!.frame.state;

describe('cluster journal', () => {
  it('cluster journal - commands acknowledged right before kill -9 of the owner all survive on the next owner, over several kills', async () => {
    const one = await device('j-1', 0);
    const two = await device('j-2', 1);
    const ok = async (d: ClusterDevice, frame: Parameters<ClusterDevice['request']>[0]) => {
      const answer = await d.request(frame);
      expect(answer.t, `${frame.t} acknowledged: ${JSON.stringify(answer)}`).toBe('ack');
    };
    await ok(one, { t: 'play', context: 'spotify:playlist:demo-mix' });
    for (let kill = 1; kill <= KILLS; kill++) {
      const from = kill % 2 === 1 ? one : two;
      const to = from === one ? two : one;
      const expected = {
        shuffle: kill % 2 === 1,
        repeat: (['track', 'context', 'off', 'track'] as const)[kill - 1]!,
        quality: (['low', 'high', 'normal', 'very_high'] as const)[kill - 1]!,
        volume: 10 + kill * 7,
        queued: ['demo01', 'demo02', 'demo05', 'demo06'][kill - 1]!,
        active: to.deviceId,
      };
      const victim = await owner();
      const welcomes = [one.welcomes.length, two.welcomes.length];
      // Each acknowledged, the last one just before the kill: none is in a snapshot yet (the
      // owner saves at most once a second), so only the journal can bring them back.
      await ok(from, { t: 'queue.add', uri: `spotify:track:${expected.queued}` });
      await ok(to, { t: 'shuffle', on: expected.shuffle });
      await ok(from, { t: 'repeat', mode: expected.repeat });
      await ok(to, { t: 'quality', quality: expected.quality });
      await ok(from, { t: 'volume', percent: expected.volume, device_id: from.deviceId });
      await ok(from, { t: 'transfer', device_id: to.deviceId, play: true });
      dead.add(victim.nodeId);
      victim.signal('SIGKILL');
      await Promise.all(
        [one, two].map((d, i) =>
          d.until(() => d.welcomes.length > welcomes[i]!, 20_000, `a welcome after kill ${kill}`),
        ),
      );
      for (const d of [one, two]) {
        const s = lastWelcome(d);
        expect(s.context_uri).toBe('spotify:playlist:demo-mix');
        expect(s.shuffle, `shuffle after kill ${kill}`).toBe(expected.shuffle);
        expect(s.repeat, `repeat after kill ${kill}`).toBe(expected.repeat);
        expect(s.quality, `quality after kill ${kill}`).toBe(expected.quality);
        expect(s.active_device_id, `active device after kill ${kill}`).toBe(expected.active);
        expect(s.devices.find((v) => v.id === from.deviceId)?.volume_percent).toBe(expected.volume);
      }
      // The queue: a restored session names upcoming tracks once their rights are loaded
      // again (a state right after the welcome); the queue was empty before this round.
      for (const d of [one, two]) {
        const since = d.frames.indexOf(d.welcomes.at(-1)!.frame);
        await d.until(
          () =>
            d.frames
              .slice(since)
              .some(
                (f) =>
                  (f.t === 'state' || f.t === 'welcome') &&
                  f.state.next_tracks.some((u) => u.source === 'queue' && u.track.id === expected.queued),
              ),
          10_000,
          `${expected.queued} in the queue after kill ${kill}`,
        );
      }
      // Played, so the queue is empty again for the next round.
      await ok(to, { t: 'next' });
      // The killed node comes back under its id for the next round.
      await victim.exited;
      const back = await cluster.start(victim.nodeId);
      nodes.set(victim.nodeId, back);
      dead.delete(victim.nodeId);
    }
    // One actor after all that: a change through either device reaches the other.
    await ok(one, { t: 'repeat', mode: 'off' });
    await two.until(
      () => two.frames.some((f) => f.t === 'state' && f.state.repeat === 'off'),
      10_000,
      'the last change on the other device',
    );
  }, 240_000);

  it('cluster journal - an owner paused past its lease appends nothing after waking; the new owner’s entries stand', async () => {
    const user = 'journal-u2';
    const first = await device('p-1', 0, user);
    const victim = await owner(user);
    const elsewhere = live().findIndex((u) => u !== victim.wsUrl);
    const second = await device('p-2', elsewhere, user);
    expect((await first.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    const before = second.welcomes.length;
    victim.signal('SIGSTOP');
    dead.add(victim.nodeId);
    let fence: number;
    try {
      await second.until(() => second.welcomes.length > before, 20_000, 'the new owner');
      expect((await second.request({ t: 'repeat', mode: 'context' })).t).toBe('ack');
      // The fence the new owner claimed with (recorded on the snapshot row before it read it).
      fence = (await cluster.saved(user)).fence;
    } finally {
      victim.signal('SIGCONT');
    }
    // The paused owner wakes, finds its lease gone and closes its device, which comes back.
    await first.until(() => first.welcomes.length >= 2, 20_000, 'the first device back');
    dead.delete(victim.nodeId);
    expect(first.welcomes.at(-1)!.frame.state.repeat).toBe('context');
    // The journal's last entry is the new owner's (its fence), not one the old owner wrote on waking.
    const jsm = await jetstreamManager(nc);
    const last = await jsm.streams.getMessage(`${cluster.name}_journal`, {
      last_by_subj: journalSubject(`${cluster.name}.journal`, user),
    });
    const entry = readJournalEntry(last!.data);
    expect(entry?.fence).toBe(fence!);
    expect(entry?.snapshot?.version).toBeGreaterThanOrEqual(first.welcomes.at(-1)!.frame.state.version);
  });
});
