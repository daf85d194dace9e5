/**
 * A rolling restart of every node of a test cluster under load, and what it broke (issue 15,
 * point 5), for cluster/rolling-restart.engine.test.ts and the cluster benchmark: listeners
 * with two devices each, on different nodes, send a steady stream of commands (plays, queue
 * adds, settings) and record every answer, while each node in turn is sent SIGTERM, exits and
 * comes back under its id. Then it checks, and counts what fails:
 * - lost acknowledged commands: a setting that is not the last acknowledged value (or one sent
 *   after it and never answered), an acknowledged queue add that does not play (`next` through
 *   the queue), in order;
 * - double activations: a listener whose lease does not name one running node at that node's
 *   epoch, or whose two devices do not settle on one state;
 * - listening events (the cluster's JetStream stream): a play a device saw with no play.start,
 *   or, ended, no play.end (lost); a play with two of either, or a play.start of a play no
 *   device saw (duplicate).
 * Every wait is on an event, with a timeout.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ClientFrame, SessionState } from '../protocol/messages.ts';
import type { ListeningEvent } from '../actors/types.ts';
import { createScyllaCatalog } from '../storage/catalog.scylla.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import { decodeEvent } from '../storage/event-codec.ts';
import { listenerKey, nodeKey } from '../cluster/lease-table.ts';
import { ClusterDevice, type TestCluster } from './cluster-nodes.ts';
import { waitFor } from './pipeline.ts';

/** The cluster's nodes as the caller runs them. */
export interface RollingNodes {
  /** Node ids, restarted in this order. */
  readonly ids: readonly string[];
  /** WebSocket URLs of the nodes up now (devices reconnect round-robin over them). */
  urls(): string[];
  /** Whether the node of this id is up now. */
  running(id: string): boolean;
  /** Sends SIGTERM, waits for the exit, starts the node again under its id; the exit status. */
  restart(id: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface RollingOptions {
  listeners: number;
  /** User id prefix (unique per run on one cluster). */
  prefix: string;
  /** The gap between one device's commands: a steady load, not a flood of the machine. */
  paceMs: number;
}

export interface RollingReport {
  acked: number;
  /** Queue adds acknowledged (each checked to play, in order). */
  queueAddsAcked: number;
  /** Commands whose socket closed before the answer (not acknowledged). */
  unanswered: number;
  errors: string[];
  /** Per node: its exit status on SIGTERM. */
  exits: Record<string, { code: number | null; signal: NodeJS.Signals | null }>;
  /** Devices welcomed again after a restart (each was on a node that restarted). */
  reconnectedDevices: number;
  devices: number;
  plays: number;
  events: number;
  lostAckedCommands: number;
  doubleActivations: number;
  lostEvents: number;
  duplicateEvents: number;
  /** Every failure, described. */
  problems: string[];
}

/** Long enough that no play ends by itself during a run: every play starts by a command. */
const TRACK_MS = 600_000;
const PLAY_TRACKS = ['roll-p0', 'roll-p1', 'roll-p2', 'roll-p3'];
/** Queue adds per listener, each a track of its own, so the queue's order is checkable. */
const QUEUE_TRACKS = Array.from({ length: 10 }, (_, i) => `roll-q${i}`);
const REPEATS = ['off', 'context', 'track'] as const;
const QUALITIES = ['low', 'normal', 'high'] as const;

type Outcome = 'ack' | 'error' | 'lost';
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<ClientFrame, 'id'>;

/** A playable track of TRACK_MS (the fixture's audio rows of demo01, renamed). */
async function longTrack(catalog: CatalogStore, id: string): Promise<void> {
  const [base] = (await catalog.getTracks(['demo01'])).values();
  for (const f of await catalog.getAudioFiles('demo01')) await catalog.putAudioFile({ ...f, trackId: id });
  await catalog.putRights({ trackId: id, territory: '*', allowed: true });
  await catalog.putTrack({ ...base!, id, title: id, durationMs: TRACK_MS });
}

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

  private record(key: string, value: string | number, outcome: Outcome): void {
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

  get unanswered(): number {
    return [...this.sent.values()].flat().filter((e) => e.outcome === 'lost').length;
  }

  /** Plays, queue adds and settings, alternating devices, until `stopped()`. */
  async load(stopped: () => boolean, paceMs: number): Promise<void> {
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
            value = QUEUE_TRACKS[q]!;
            frame = { t: 'queue.add', uri: `spotify:track:${value}` };
            key = 'queue';
            break;
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
      if (key === 'queue') this.queued.push({ track: String(value), outcome });
      this.record(key, value, outcome);
      await delay(paceMs);
    }
  }
}

/** The last sequence of `stream` now (0: empty or not made yet). */
async function lastSeq(natsUrl: string, stream: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    return (await jsm.streams.info(stream).catch(() => undefined))?.state.last_seq ?? 0;
  } finally {
    await nc.close();
  }
}

/** The listening events of `stream` after sequence `after`, in stream order. */
async function streamEvents(natsUrl: string, stream: string, after: number): Promise<ListeningEvent[]> {
  const nc = await connect({ servers: natsUrl });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: ListeningEvent[] = [];
    // 64 at a time: one request per message, in parallel.
    for (let from = Math.max(after + 1, info.state.first_seq); from <= info.state.last_seq; from += 64) {
      const seqs = Array.from({ length: Math.min(64, info.state.last_seq - from + 1) }, (_, i) => from + i);
      const got = await Promise.all(
        seqs.map((seq) => jsm.streams.getMessage(stream, { seq }).catch(() => undefined)),
      );
      for (const m of got) if (m) out.push(decodeEvent(m.data));
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Runs the load, restarts every node in turn, stops the load and checks; `devices` get closed by the caller. */
export async function rollingRestart(
  cluster: TestCluster,
  nodes: RollingNodes,
  opts: RollingOptions,
  devices: ClusterDevice[] = [],
): Promise<RollingReport> {
  const catalog = createScyllaCatalog(cluster.keyspace.client, cluster.keyspace.name);
  for (const id of [...PLAY_TRACKS, ...QUEUE_TRACKS]) await longTrack(catalog, id);
  const listeners: Listener[] = [];
  for (let l = 0; l < opts.listeners; l++) {
    const user = `${opts.prefix}-u${l}`;
    const token = await cluster.token(user);
    const pair = [0, 1].map((i) => {
      const d = new ClusterDevice(() => nodes.urls(), token, `${opts.prefix}${l}-${i}`, l + i);
      devices.push(d);
      return d;
    }) as [ClusterDevice, ClusterDevice];
    for (const d of pair) await d.connect();
    listeners.push(new Listener(user, pair));
  }
  // Events of this run only (a bench's stream holds earlier phases' too).
  const streamStart = await lastSeq(cluster.natsUrl, cluster.stream);
  const problems: string[] = [];
  let stop = false;
  const loads = listeners.map((l) => l.load(() => stop, opts.paceMs));
  const exits: RollingReport['exits'] = {};
  try {
    await Promise.all(listeners.map((l) => l.moreAcks(5, 30_000)));
    for (const id of nodes.ids) {
      exits[id] = await nodes.restart(id);
      // Load goes on through the restart: every listener gets commands acked again.
      await Promise.all(listeners.map((l) => l.moreAcks(3, 30_000)));
    }
  } finally {
    stop = true;
    await Promise.all(loads);
  }

  let lostAckedCommands = 0;
  let doubleActivations = 0;
  const nc = await connect({ servers: cluster.natsUrl });
  try {
    const listenerLeases = await new Kvm(nc).open(`${cluster.name}_listeners`);
    const nodeLeases = await new Kvm(nc).open(`${cluster.name}_leases`);
    for (const l of listeners) {
      const [one, two] = l.devices;
      // Both devices on the same, last, state: one actor.
      const settled = await waitFor(`${l.userId}: both devices on one state`, () => {
        const [s1, s2] = [latestState(one), latestState(two)];
        return ready(one) && ready(two) && s1 !== undefined && s1.version === s2?.version;
      }).catch(() => false);
      if (!settled) {
        doubleActivations++;
        problems.push(
          `${l.userId}: devices on versions ${latestState(one)?.version} and ${latestState(two)?.version}`,
        );
      }
      const s = latestState(one)!;
      const check = (key: string, actual: string | number | undefined) => {
        const allowed = l.allowed(key);
        if (allowed && !allowed.includes(actual!)) {
          lostAckedCommands++;
          problems.push(`${l.userId}: ${key} is ${actual}, acknowledged ${JSON.stringify(allowed)}`);
        }
      };
      if (!l.allowed('play')) problems.push(`${l.userId}: no play acknowledged`);
      check('play', s.track?.id);
      check('repeat', s.repeat);
      check('quality', s.quality);
      for (const d of l.devices)
        check(`volume:${d.deviceId}`, s.devices.find((v) => v.id === d.deviceId)?.volume_percent);

      // One live owner: the lease names a running node at its current epoch.
      const e = await listenerLeases.get(listenerKey(l.userId));
      const lease = e?.operation === 'PUT' ? (e.json() as { node: string; epoch: number }) : undefined;
      const n = lease && (await nodeLeases.get(nodeKey(lease.node)));
      const epoch =
        n?.operation === 'PUT' ? ((n.json() as { epoch?: number }).epoch ?? n.revision) : undefined;
      if (!lease || !nodes.running(lease.node) || epoch !== lease.epoch) {
        doubleActivations++;
        problems.push(
          `${l.userId}: lease ${JSON.stringify(lease)}, its node's epoch ${epoch}, running ${lease && nodes.running(lease.node)}`,
        );
      }
    }
  } finally {
    await nc.close();
  }

  // The queue: played through with `next`, it holds every acknowledged add, in order.
  await Promise.all(
    listeners.map(async (l) => {
      const d = l.devices[0];
      if ((await command(d, { t: 'repeat', mode: 'off' })) !== 'ack')
        return void problems.push(`${l.userId}: repeat off not acknowledged`);
      const acked = l.queued.filter((q) => q.outcome === 'ack').map((q) => q.track);
      const maybe = l.queued.filter((q) => q.outcome !== 'error').map((q) => q.track);
      const played: string[] = [];
      try {
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
          if ((await command(d, { t: 'next' })) !== 'ack') throw new Error(`next #${i} not acknowledged`);
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
      } catch (err) {
        problems.push(`${l.userId}: playing the queue through: ${String(err)}`);
      }
      const inOrder = played.filter((t) => acked.includes(t));
      const missing = acked.filter((t) => !inOrder.includes(t)).length;
      if (missing > 0 || inOrder.join() !== acked.filter((t) => inOrder.includes(t)).join()) {
        lostAckedCommands += Math.max(1, missing);
        problems.push(`${l.userId}: acknowledged queue ${acked.join()}, played ${played.join()}`);
      }
      if (!played.every((t) => maybe.includes(t))) problems.push(`${l.userId}: played ${played.join()}`);
    }),
  );

  // Listening events: every play a device saw started once, ended once (all but the current
  // one), and no play nobody saw.
  const seen = new Map<string, Set<string>>();
  for (const l of listeners) {
    const ids = new Set<string>();
    for (const d of l.devices)
      for (const f of d.frames) {
        if (f.t === 'playback') ids.add(f.play_id);
        else if ((f.t === 'state' || f.t === 'welcome') && f.state.play_id) ids.add(f.state.play_id);
      }
    seen.set(l.userId, ids);
  }
  const users = new Set(listeners.map((l) => l.userId));
  const read = async () =>
    (await streamEvents(cluster.natsUrl, cluster.stream, streamStart)).filter((e) => users.has(e.user));
  // Published from each node's outbox, so they may land after the run: wait until every seen
  // play's start is in, and the end of every seen play that is no longer playing (bounded: what
  // is still missing then is counted lost below).
  const events = await waitFor(
    'every seen play’s start and every ended play’s end in the events stream',
    async () => {
      const all = await read();
      const started = new Set(all.filter((e) => e.type === 'play.start').map((e) => e.play_id));
      const ended = new Set(all.filter((e) => e.type === 'play.end').map((e) => e.play_id));
      const complete = listeners.every((l) => {
        const current = latestState(l.devices[0])?.play_id;
        return [...seen.get(l.userId)!].every((p) => started.has(p) && (p === current || ended.has(p)));
      });
      return complete && all;
    },
    60_000,
  ).catch(read);
  let lostEvents = 0;
  let duplicateEvents = 0;
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
    const current = latestState(l.devices[0])?.play_id;
    for (const p of ids) {
      const [s, e] = [starts.get(p) ?? 0, ends.get(p) ?? 0];
      const wantEnd = p === current ? 0 : 1;
      if (s < 1 || e < wantEnd) {
        lostEvents += Math.max(0, 1 - s) + Math.max(0, wantEnd - e);
        problems.push(`${l.userId}: play ${p} seen, ${s} play.start and ${e} play.end in the stream`);
      }
      if (s > 1 || e > wantEnd) {
        duplicateEvents += Math.max(0, s - 1) + Math.max(0, e - wantEnd);
        problems.push(`${l.userId}: play ${p}: ${s} play.start and ${e} play.end in the stream`);
      }
    }
    for (const [p, n] of starts)
      if (!ids.has(p)) {
        duplicateEvents += n;
        problems.push(`${l.userId}: play.start of ${p}, a play no device saw`);
      }
  }

  return {
    acked: listeners.reduce((n, l) => n + l.acks, 0),
    queueAddsAcked: listeners.flatMap((l) => l.queued).filter((q) => q.outcome === 'ack').length,
    unanswered: listeners.reduce((n, l) => n + l.unanswered, 0),
    errors: listeners.flatMap((l) => l.errors),
    exits,
    reconnectedDevices: listeners.flatMap((l) => l.devices).filter((d) => d.welcomes.length > 1).length,
    devices: listeners.length * 2,
    plays: [...seen.values()].reduce((n, ids) => n + ids.size, 0),
    events: events.length,
    lostAckedCommands,
    doubleActivations,
    lostEvents,
    duplicateEvents,
    problems,
  };
}
