/**
 * A rolling restart of every node of a 3-node cluster under load (issue 15, point 5): listeners
 * with two devices each on different nodes send a steady stream of commands (plays, queue
 * adds, settings) and record every answer, while each node in turn is sent SIGTERM, exits, and
 * comes back under its id. Afterwards: every acknowledged command's effect is in the state the
 * devices see; every listener has one live owner; every play the devices saw has exactly one
 * play.start (and one play.end once it ended) in the cluster's events stream, and the stream
 * holds no play nobody saw. Every wait is on an event, with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ClientFrame, ServerFrame, SessionState } from '../protocol/messages.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import { createScyllaCatalog } from '../storage/catalog.scylla.ts';
import { decodeEvent } from '../storage/event-codec.ts';
import type { ListeningEvent } from '../actors/types.ts';
import { waitFor } from '../testkit/pipeline.ts';
import {
  ClusterDevice,
  startTestCluster,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';
import { listenerKey, nodeKey } from './lease-table.ts';

const LISTENERS = 6;
const NODE_IDS = ['a', 'b', 'c'] as const;
/** Long enough that no play ends by itself during the test: every play starts by a command. */
const TRACK_MS = 600_000;
const PLAY_TRACKS = ['roll-p0', 'roll-p1', 'roll-p2', 'roll-p3'];
/** Queue adds per listener, each a track of its own, so the queue's order is checkable. */
const QUEUE_TRACKS = Array.from({ length: 10 }, (_, i) => `roll-q${i}`);
const REPEATS = ['off', 'context', 'track'] as const;
const QUALITIES = ['low', 'normal', 'high'] as const;
/** The gap between one device's commands: a steady load, not a flood of the two cores. */
const PACE_MS = 150;

let cluster: TestCluster;
let nc: NatsConnection;
let listenerLeases: KV;
let nodeLeases: KV;
const nodes = new Map<string, NodeProcess>();
const dead = new Set<string>();
const live = () => NODE_IDS.flatMap((id) => (nodes.has(id) && !dead.has(id) ? [nodes.get(id)!.wsUrl] : []));
const devices: ClusterDevice[] = [];

beforeAll(async () => {
  cluster = await startTestCluster('rolling', { CLUSTER_LEASE_TTL_MS: '2000', SESSION_GRACE_MS: '60000' });
  for (const n of await Promise.all(NODE_IDS.map((id) => cluster.start(id)))) nodes.set(n.nodeId, n);
  nc = await connect({ servers: cluster.natsUrl });
  listenerLeases = await new Kvm(nc).open(`${cluster.name}_listeners`);
  nodeLeases = await new Kvm(nc).open(`${cluster.name}_leases`);
}, 180_000);

afterAll(async () => {
  for (const d of devices) d.close();
  await nc?.close();
  await cluster?.stop();
}, 60_000);

/** A playable track of TRACK_MS (the fixture's audio rows of demo01, renamed). */
async function longTrack(catalog: CatalogStore, id: string): Promise<void> {
  const [base] = (await catalog.getTracks(['demo01'])).values();
  for (const f of await catalog.getAudioFiles('demo01')) await catalog.putAudioFile({ ...f, trackId: id });
  await catalog.putRights({ trackId: id, territory: '*', allowed: true });
  await catalog.putTrack({ ...base!, id, title: id, durationMs: TRACK_MS });
}

type Outcome = 'ack' | 'error' | 'lost';
type Request = DistributiveOmit<ClientFrame, 'id'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The socket of `d` once its session is welcomed on it. */
const ready = (d: ClusterDevice) => d.socket !== undefined && d.socket.frames.some((f) => f.t === 'welcome');

/**
 * Sends `frame` once the device is on a session; `lost` when its socket closed before the
 * answer (the node drained): the command may or may not have been applied, and was not acked.
 */
async function command(d: ClusterDevice, frame: Request): Promise<Outcome> {
  await d.until(() => ready(d), 30_000, 'a welcomed connection');
  const s = d.socket!;
  const id = d.send(frame);
  const answer = () => s.frames.find((f) => (f.t === 'ack' || f.t === 'error') && f.id === id);
  await d.until(() => answer() !== undefined || d.socket !== s, 30_000, `the answer to ${frame.t} #${id}`);
  const a = answer();
  return a === undefined ? 'lost' : a.t === 'ack' ? 'ack' : 'error';
}

const latestState = (d: ClusterDevice): SessionState | undefined => {
  for (let i = d.frames.length - 1; i >= 0; i--) {
    const f = d.frames[i]!;
    if (f.t === 'state' || f.t === 'welcome') return f.state;
  }
  return undefined;
};

/** What one listener's load sent, by setting, in order, with each answer. */
class Listener {
  readonly sent = new Map<string, { value: string | number; outcome: Outcome }[]>();
  readonly queued: { track: string; outcome: Outcome }[] = [];
  acks = 0;
  readonly errors: string[] = [];
  private waiters: (() => void)[] = [];

  constructor(
    readonly userId: string,
    readonly devices: [ClusterDevice, ClusterDevice],
  ) {}

  record(key: string, value: string | number, outcome: Outcome): void {
    const list = this.sent.get(key) ?? [];
    list.push({ value, outcome });
    this.sent.set(key, list);
    if (outcome === 'ack') this.acks++;
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `n` more commands than now were acknowledged. */
  moreAcks(n: number, ms: number): Promise<void> {
    const target = this.acks + n;
    return new Promise((resolveAcks, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(`${this.userId}: fewer than ${n} acks in ${ms} ms (errors: ${this.errors.join('; ')})`),
          ),
        ms,
      );
      const check = () => {
        if (this.acks >= target) {
          clearTimeout(timer);
          resolveAcks();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** The values the setting may have now: the last acked one, or one sent after it unanswered. */
  allowed(key: string): (string | number)[] | undefined {
    const list = this.sent.get(key) ?? [];
    const last = list.map((e) => e.outcome).lastIndexOf('ack');
    if (last < 0) return undefined;
    return list.slice(last).flatMap((e, i) => (i === 0 || e.outcome === 'lost' ? [e.value] : []));
  }

  /** Plays, queue adds and settings, alternating devices, until `stopped()`. */
  async load(stopped: () => boolean): Promise<void> {
    for (let k = 0; !stopped(); k++) {
      const d = this.devices[k % 2]!;
      let frame: Request;
      let key: string;
      let value: string | number;
      const q = this.queued.length;
      switch (k % 5) {
        case 0:
          value = PLAY_TRACKS[(k / 5) % PLAY_TRACKS.length]!;
          frame = { t: 'play', uris: [`spotify:track:${value}`] };
          key = 'play';
          break;
        case 1:
          if (q < QUEUE_TRACKS.length) {
            const track = QUEUE_TRACKS[q]!;
            const outcome = await command(d, { t: 'queue.add', uri: `spotify:track:${track}` });
            this.queued.push({ track, outcome });
            this.record('queue', track, outcome);
            continue;
          }
        // falls through: the queue tracks are all added
        case 2:
          value = REPEATS[k % REPEATS.length]!;
          frame = { t: 'repeat', mode: value as (typeof REPEATS)[number] };
          key = 'repeat';
          break;
        case 3:
          value = k % 101;
          frame = { t: 'volume', percent: value, device_id: d.deviceId };
          key = `volume:${d.deviceId}`;
          break;
        default:
          value = QUALITIES[k % QUALITIES.length]!;
          frame = { t: 'quality', quality: value as (typeof QUALITIES)[number] };
          key = 'quality';
      }
      const outcome = await command(d, frame);
      if (outcome === 'error') {
        const e = [...d.frames].reverse().find((f) => f.t === 'error');
        this.errors.push(`${frame.t}: ${JSON.stringify(e).slice(0, 200)}`);
      }
      this.record(key, value, outcome);
      await delay(PACE_MS);
    }
  }
}

/** Every listening event of the test cluster's stream, in stream order. */
async function streamEvents(): Promise<ListeningEvent[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(cluster.stream);
  const out: ListeningEvent[] = [];
  // Read 64 at a time: one request per message, in parallel.
  for (let from = info.state.first_seq; from <= info.state.last_seq; from += 64) {
    const seqs = Array.from({ length: Math.min(64, info.state.last_seq - from + 1) }, (_, i) => from + i);
    const got = await Promise.all(
      seqs.map((seq) => jsm.streams.getMessage(cluster.stream, { seq }).catch(() => undefined)),
    );
    for (const m of got) if (m) out.push(decodeEvent(m.data));
  }
  return out;
}

describe('cluster rolling restart', () => {
  it('cluster rolling restart - SIGTERM and restart of every node in turn under load: nothing acknowledged lost, one owner per listener, each play’s events once', async () => {
    const catalog = createScyllaCatalog(cluster.keyspace.client, cluster.keyspace.name);
    for (const id of [...PLAY_TRACKS, ...QUEUE_TRACKS]) await longTrack(catalog, id);
    const listeners: Listener[] = [];
    for (let l = 0; l < LISTENERS; l++) {
      const user = `roll-u${l}`;
      const token = await cluster.token(user);
      const pair = [0, 1].map((i) => {
        const d = new ClusterDevice(live, token, `r${l}-${i}`, (l + i) % NODE_IDS.length);
        devices.push(d);
        return d;
      }) as [ClusterDevice, ClusterDevice];
      for (const d of pair) await d.connect();
      listeners.push(new Listener(user, pair));
    }
    let stop = false;
    const loads = listeners.map((l) => l.load(() => stop));
    await Promise.all(listeners.map((l) => l.moreAcks(5, 30_000)));

    for (const id of NODE_IDS) {
      const victim = nodes.get(id)!;
      dead.add(id);
      victim.signal('SIGTERM');
      expect(
        await victim.exited,
        `node ${id} exits cleanly on SIGTERM:\n${victim.output().slice(-2000)}`,
      ).toEqual({
        code: 0,
        signal: null,
      });
      nodes.set(id, await cluster.start(id));
      dead.delete(id);
      // Load goes on through the restart: every listener gets commands acked again.
      await Promise.all(listeners.map((l) => l.moreAcks(3, 30_000)));
    }
    stop = true;
    await Promise.all(loads);
    // Every device was on a node that restarted (its own or its listener's owner): each was
    // sent elsewhere and welcomed again.
    for (const d of devices) expect(d.welcomes.length, `${d.deviceId} reconnected`).toBeGreaterThan(1);

    for (const l of listeners) {
      const [one, two] = l.devices;
      // Both devices on the same, last, state (one actor).
      await waitFor(`${l.userId}: both devices on one state`, () => {
        const [s1, s2] = [latestState(one), latestState(two)];
        return ready(one) && ready(two) && s1 !== undefined && s1.version === s2?.version;
      });
      const s = latestState(one)!;
      const playAllowed = l.allowed('play');
      expect(playAllowed, `${l.userId}: a play was acknowledged`).toBeDefined();
      expect(playAllowed, `${l.userId}: the last acked play`).toContain(s.track?.id);
      expect(l.allowed('repeat'), `${l.userId}: the last acked repeat`).toContain(s.repeat);
      expect(l.allowed('quality'), `${l.userId}: the last acked quality`).toContain(s.quality);
      for (const d of l.devices) {
        const volume = s.devices.find((v) => v.id === d.deviceId)?.volume_percent;
        expect(
          l.allowed(`volume:${d.deviceId}`),
          `${l.userId}: the last acked volume of ${d.deviceId}`,
        ).toContain(volume);
      }
    }

    // (b) One live owner per listener: its lease names a running node at its current epoch.
    for (const l of listeners) {
      const e = await listenerLeases.get(listenerKey(l.userId));
      expect(e?.operation, `${l.userId}: a listener lease`).toBe('PUT');
      const lease = e!.json() as { node: string; epoch: number };
      expect(nodes.has(lease.node) && !dead.has(lease.node)).toBe(true);
      const n = await nodeLeases.get(nodeKey(lease.node));
      expect(n?.operation).toBe('PUT');
      expect(
        (n!.json() as { epoch?: number }).epoch ?? n!.revision,
        `${l.userId}: lease at its node's epoch`,
      ).toBe(lease.epoch);
    }

    // (a) The queue: played through with `next`, it holds every acknowledged add, in order.
    await Promise.all(
      listeners.map(async (l) => {
        const d = l.devices[0];
        expect(await command(d, { t: 'repeat', mode: 'off' })).toBe('ack');
        const acked = l.queued.filter((q) => q.outcome === 'ack').map((q) => q.track);
        const maybe = l.queued.filter((q) => q.outcome !== 'error').map((q) => q.track);
        const played: string[] = [];
        for (let i = 0; i < maybe.length; i++) {
          const prev = latestState(d)?.play_id;
          if (played.length >= acked.length) {
            // Only unanswered adds left: one is queued only if the preview shows it.
            const more = await waitFor(
              `${l.userId}: an unanswered add in the queue`,
              () => latestState(d)?.next_tracks[0]?.source === 'queue' || undefined,
              3_000,
            ).catch(() => false);
            if (!more) break;
          }
          expect(await command(d, { t: 'next' }), `${l.userId}: next #${i}`).toBe('ack');
          await d.until(
            () => {
              const s = latestState(d);
              return s !== undefined && s.play_id !== prev && s.play_id !== null;
            },
            15_000,
            `the play after next #${i}`,
          );
          played.push(latestState(d)!.track!.id);
        }
        const inOrder = played.filter((t) => acked.includes(t));
        expect(inOrder, `${l.userId}: every acknowledged queue add played, in order`).toEqual(acked);
        expect(played.every((t) => maybe.includes(t))).toBe(true);
      }),
    );

    // (c) Listening events: every play a device saw started once, ended once (all but the
    // current one), and no play nobody saw.
    const seen = new Map<string, Set<string>>();
    for (const l of listeners) {
      const ids = new Set<string>();
      for (const d of l.devices)
        for (const f of d.frames as ServerFrame[]) {
          if (f.t === 'playback') ids.add(f.play_id);
          else if ((f.t === 'state' || f.t === 'welcome') && f.state.play_id) ids.add(f.state.play_id);
        }
      seen.set(l.userId, ids);
    }
    const users = new Set(listeners.map((l) => l.userId));
    const events = await waitFor(
      'every seen play’s start in the events stream',
      async () => {
        const all = (await streamEvents()).filter((e) => users.has(e.user));
        const started = new Set(all.filter((e) => e.type === 'play.start').map((e) => e.play_id));
        return [...seen.values()].every((ids) => [...ids].every((p) => started.has(p))) && all;
      },
      60_000,
    );
    for (const l of listeners) {
      const mine = events.filter((e) => e.user === l.userId);
      const count = (type: string) => {
        const c = new Map<string, number>();
        for (const e of mine) if (e.type === type) c.set(e.play_id, (c.get(e.play_id) ?? 0) + 1);
        return c;
      };
      const starts = count('play.start');
      const ends = count('play.end');
      const ids = seen.get(l.userId)!;
      expect([...starts.keys()].sort(), `${l.userId}: play.start of exactly the plays seen`).toEqual(
        [...ids].sort(),
      );
      expect(
        [...starts.values()].every((n) => n === 1),
        `${l.userId}: one play.start per play`,
      ).toBe(true);
      const current = latestState(l.devices[0])?.play_id;
      for (const p of ids)
        expect(ends.get(p) ?? 0, `${l.userId}: play.end of ${p}`).toBe(p === current ? 0 : 1);
    }
  }, 300_000);
});
