import { createHash } from 'node:crypto';
/**
 * In-memory ports for tests and demos: a small catalog of tracks with chunk tables and
 * rights, contexts, a deterministic signer, and recorders of everything the session sends.
 * Real behaviour (lookups, nulls for unknown ids), no canned answers.
 */

import { createActor, SimulatedClock } from 'xstate';
import type { SessionConfig } from '../actors/config.ts';
import type { SessionInput, SessionPorts } from '../actors/ports.ts';
import type { SessionActor } from '../actors/session-machine.ts';
import { createSessionMachine } from '../app/session-actor.ts';
import type { PersistedSession } from '../actors/session-snapshot.ts';
import type {
  AudioFileRow,
  ContextTrack,
  ResolvedContext,
  DeviceOutput,
  HelloCommand,
  ListeningEvent,
  Plan,
  RightsRow,
  SessionCommand,
  StateOutput,
  TrackBundle,
  TrackRow,
} from '../actors/types.ts';

export interface FakeTrackSpec {
  id: string;
  artistId?: string;
  durationMs?: number;
  rights?: RightsRow[];
  bitrates?: number[];
  chunkMs?: number;
}

export const DEFAULT_RIGHTS: RightsRow[] = [{ territory: '*', allowed: true }];

export function fakeBundle(spec: FakeTrackSpec): TrackBundle {
  const durationMs = spec.durationMs ?? 200_000;
  const chunkMs = spec.chunkMs ?? 10_000;
  const artistId = spec.artistId ?? `artist-of-${spec.id}`;
  const track: TrackRow = {
    id: spec.id,
    title: `Title ${spec.id}`,
    artistId,
    artistName: `Artist ${artistId}`,
    albumId: `album-of-${spec.id}`,
    albumName: `Album of ${spec.id}`,
    durationMs,
  };
  const count = Math.ceil(durationMs / chunkMs);
  const files: AudioFileRow[] = (spec.bitrates ?? [24, 96, 160, 320]).map((kbps) => ({
    bitrateKbps: kbps,
    codec: 'opus',
    container: 'webm',
    mimeType: 'audio/webm; codecs="opus"',
    init: { key: `init-${spec.id}-${kbps}`, bytes: 300 },
    chunkDurationMs: chunkMs,
    chunks: Array.from({ length: count }, (_, i) => ({
      index: i,
      key: `${spec.id}-${kbps}-${i}`,
      bytes: Math.round((kbps * 1000 * chunkMs) / 8000),
      durationMs: Math.min(chunkMs, durationMs - i * chunkMs),
    })),
    encoderDelaySamples: 312,
    paddingSamples: 100,
    sampleRate: 48_000,
    loudness: { integratedLufs: -14, replayGainDb: 0 },
  }));
  return { track, files, rights: spec.rights ?? DEFAULT_RIGHTS };
}

export interface FakeWorld {
  tracks: Map<string, TrackBundle>;
  contexts: Map<string, string[]>;
  radioTracks: string[];
  /** Make the next loads reject (store unavailable). */
  failLoads: boolean;
  /** While set, `loadTracks` answers only once it settles (a load held in flight). */
  holdLoads: Promise<void> | null;
  /**
   * Offer the synchronous `peekTracks` port, answering from the bundles `loadTracks`
   * returned before (like session/'s cache); off by default.
   */
  peek: boolean;
  cached: Set<string>;
  /**
   * Offer the synchronous `peekContext` port, answering the contexts `resolveContext`
   * answered before (like session/'s version-checked cache: the fake's contexts are its
   * current version); off by default.
   */
  peekContexts: boolean;
  known: Set<string>;
}

export function fakeWorld(specs: FakeTrackSpec[], contexts: Record<string, string[]> = {}): FakeWorld {
  return {
    tracks: new Map(specs.map((s) => [s.id, fakeBundle(s)])),
    contexts: new Map(Object.entries(contexts)),
    radioTracks: [],
    failLoads: false,
    holdLoads: null,
    peek: false,
    cached: new Set(),
    peekContexts: false,
    known: new Set(),
  };
}

export interface Recorder {
  sent: Array<{ userId: string; deviceId: string; output: DeviceOutput }>;
  states: Array<{ userId: string; output: StateOutput }>;
  events: ListeningEvent[];
  loads: string[][];
  /** Contexts asked of `resolveContext` (uri, or the explicit ids joined by commas). */
  resolves: string[];
  /** Batches answered by `peekTracks` (misses not recorded). */
  peeks: string[][];
  /** Contexts answered by `peekContext` (misses not recorded). */
  contextPeeks: string[];
  /** Outputs sent to one device, of one type. */
  to<T extends DeviceOutput['type']>(deviceId: string, type: T): Extract<DeviceOutput, { type: T }>[];
  clear(): void;
}

/** Deterministic signer shaped like session/url-signer.ts (path?exp=..&sig=..). */
export const fakeSignUrl = (path: string, expiresAtMs: number): string =>
  `${path}?exp=${Math.floor(expiresAtMs / 1000)}&sig=${createHash('sha256').update(`${path}|${expiresAtMs}`).digest('base64url').slice(0, 16)}`;

export function fakePorts(world: FakeWorld, now: () => number): { ports: SessionPorts; rec: Recorder } {
  const resolveNow = (contextUri: string | null, trackIds: string[]): ResolvedContext | null => {
    const ids = contextUri ? world.contexts.get(contextUri) : trackIds;
    if (!ids) return null;
    const tracks: ContextTrack[] = [];
    for (const id of ids) {
      const b = world.tracks.get(id);
      if (b) tracks.push({ id, artistId: b.track.artistId });
    }
    return { uri: contextUri, tracks };
  };
  const rec: Recorder = {
    sent: [],
    states: [],
    events: [],
    loads: [],
    resolves: [],
    peeks: [],
    contextPeeks: [],
    to(deviceId, type) {
      return this.sent
        .filter((s) => s.deviceId === deviceId && s.output.type === type)
        .map((s) => s.output) as never;
    },
    clear() {
      this.sent.length = 0;
      this.states.length = 0;
      this.events.length = 0;
      this.loads.length = 0;
      this.resolves.length = 0;
      this.peeks.length = 0;
      this.contextPeeks.length = 0;
    },
  };
  const ports: SessionPorts = {
    now,
    signUrl: fakeSignUrl,
    sendToDevice: (userId, deviceId, output) => void rec.sent.push({ userId, deviceId, output }),
    broadcastState: (userId, output) => void rec.states.push({ userId, output }),
    publishEvent: (e) => void rec.events.push(e),
    loadTracks: async ({ trackIds }) => {
      rec.loads.push(trackIds);
      if (world.holdLoads) await world.holdLoads;
      if (world.failLoads) throw new Error('store unavailable');
      const out: Record<string, TrackBundle | null> = {};
      for (const id of trackIds) {
        out[id] = world.tracks.get(id) ?? null;
        if (out[id]) world.cached.add(id);
      }
      return out;
    },
    resolveContext: async ({ contextUri, trackIds }) => {
      rec.resolves.push(contextUri ?? trackIds.join(','));
      if (world.failLoads) throw new Error('store unavailable');
      const resolved = resolveNow(contextUri, trackIds);
      if (resolved && contextUri) world.known.add(contextUri);
      return resolved;
    },
    radio: async ({ exclude, count }) =>
      world.radioTracks.filter((id) => !exclude.includes(id)).slice(0, count),
  };
  if (world.peek) {
    ports.peekTracks = ({ trackIds }) => {
      if (!trackIds.every((id) => world.cached.has(id))) return undefined;
      rec.peeks.push(trackIds);
      return Object.fromEntries(trackIds.map((id) => [id, world.tracks.get(id)!]));
    };
  }
  if (world.peekContexts) {
    ports.peekContext = ({ contextUri, trackIds }) => {
      if (contextUri === null || !world.known.has(contextUri)) return undefined;
      rec.contextPeeks.push(contextUri);
      return resolveNow(contextUri, trackIds) ?? undefined;
    };
  }
  return { ports, rec };
}

/** A running session on fake ports and a simulated clock, for scenario tests. */
export interface FakeSession {
  clock: SimulatedClock;
  world: FakeWorld;
  rec: Recorder;
  actor: SessionActor;
  send(command: SessionCommand): void;
  /** Let the fake ports' promises settle (no timers involved). */
  flush(): Promise<void>;
  hello(deviceId: string, extra?: Partial<HelloCommand>): void;
  /** Calls of the `now` port so far: each step reads it once, so this counts the steps. */
  nowCalls(): number;
}

export const T0 = 1_700_000_000_000;

export function startFakeSession(opts: {
  world: FakeWorld;
  plan?: Plan;
  country?: string;
  config?: Partial<SessionConfig>;
  restore?: PersistedSession;
  epoch?: number;
}): FakeSession {
  const clock = new SimulatedClock();
  clock.set(T0);
  let nowCalls = 0;
  const { ports, rec } = fakePorts(opts.world, () => {
    nowCalls++;
    return clock.now();
  });
  const machine = createSessionMachine(ports, opts.config);
  const plan = opts.plan ?? 'premium';
  const country = opts.country ?? 'SE';
  const input: SessionInput = { userId: 'u1', plan, country, epoch: opts.epoch ?? 1 };
  if (opts.restore) input.restore = opts.restore;
  const actor = createActor(machine, { input, clock });
  actor.start();
  let n = 0;
  return {
    clock,
    world: opts.world,
    rec,
    actor,
    send: (command) => actor.send(command),
    flush: async () => {
      for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    },
    hello: (deviceId, extra) =>
      actor.send({
        type: 'hello',
        deviceId,
        requestId: `h${++n}`,
        name: deviceId,
        deviceType: 'phone',
        plan,
        country,
        ...extra,
      }),
    nowCalls: () => nowCalls,
  };
}
