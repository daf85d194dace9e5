/**
 * The session machine: one actor per listener, the only writer of that listener's
 * playback state. Built once per process and shared by every actor.
 *
 * Regions (parallel):
 * - playback: route -> idle | resolving (invoke resolveContext) | loading (check, fetch:
 *   invoke loadTracks) | playing (timer: threshold, 75 %, URL renewal) | paused. The state
 *   is derived from the context after each command (`route`), so every decision stays in
 *   the pure handlers (session-commands.ts, session-playback.ts, session-loads.ts).
 * - fetcher: loads bundles of upcoming tracks and queue adds in the background.
 * - autoplay: asks the radio port once when a context is about to run out.
 * - presence: the active device gone while playing -> grace -> pause.
 *
 * Effects are the named actions `sendToDevice`, `broadcastState`, `publishEvent` and the
 * actors `resolveContext`, `loadTracks`, `radio`, all bound by `.provide()`
 * (`createSessionMachine` does it from a ports object). `now()` and `signUrl` are pure
 * reads given at build time. No I/O, no await, no async work in actions.
 */

import { enqueueActions, fromPromise, not, raise, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { parseSessionConfig, type SessionConfig } from './config.ts';
import type { SignUrl } from './playback-output.ts';
import { noRadio, type SessionInput, type SessionPorts } from './ports.ts';
import { handleCommand } from './session-commands.ts';
import {
  initialContext,
  isConnected,
  stateView,
  upcomingIds,
  type SessionContext,
} from './session-context.ts';
import { Effects, type Emission, type LogicEnv } from './session-effects.ts';
import {
  aheadIds,
  aheadLoaded,
  aheadLoadFailed,
  autoplayLoaded,
  autoplayNeeded,
  contextResolved,
  radioSeeds,
  resolveFailed,
  targetLoaded,
  targetLoadFailed,
} from './session-loads.ts';
import { graceExpired, sendPrefetch, settleStart, tick, tickDelay } from './session-playback.ts';
import { persistContext, restoredContext, type PersistedSession } from './session-snapshot.ts';
import type {
  DeviceOutput,
  ListeningEvent,
  LoadTracksRequest,
  LoadTracksResult,
  RadioRequest,
  ResolveContextRequest,
  ResolvedContext,
  SessionCommand,
  StateOutput,
} from './types.ts';

/** Internal event: the active device stayed away for the whole grace period. */
export interface GraceExpiredEvent {
  type: 'grace.expired';
}
export type SessionEvent = SessionCommand | GraceExpiredEvent;

/** Output of the `loadTracks` actor: the ids asked for travel with the result. */
export interface LoadedTracks {
  trackIds: string[];
  result: LoadTracksResult;
}

export interface SessionLogicDeps {
  now(): number;
  signUrl: SignUrl;
  config?: Partial<SessionConfig>;
}

export type PlaybackStateName = 'idle' | 'resolving' | 'loading' | 'playing' | 'paused';

/** The playback state the context calls for. */
export function desiredPlayback(c: SessionContext): PlaybackStateName {
  if (c.pendingResolve) return 'resolving';
  if (c.pendingStart) return 'loading';
  if (c.current) return c.position.playing ? 'playing' : 'paused';
  return 'idle';
}

/** Turn collected effects into emissions, after planning prefetch and bumping the version. */
export function finishStep(d: SessionContext, now: number, env: LogicEnv, fx: Effects): Emission[] {
  if (fx.replan) sendPrefetch(d, now, env, fx);
  if (fx.changed) d.version += 1;
  const out: Emission[] = [];
  for (const e of fx.events) out.push({ kind: 'event', event: e });
  for (const m of fx.media) out.push({ kind: 'send', deviceId: m.deviceId, output: m.output });
  for (const a of fx.answers) out.push({ kind: 'send', deviceId: a.deviceId, output: a.output });
  if (fx.welcomes.length > 0 || fx.changed) {
    const state = stateView(d, now);
    for (const w of fx.welcomes) {
      const output: DeviceOutput = { type: 'welcome', resumed: w.resumed, state };
      if (w.requestId !== undefined) output.requestId = w.requestId;
      out.push({ kind: 'send', deviceId: w.deviceId, output });
    }
    if (fx.changed) out.push({ kind: 'broadcast', output: { type: 'state', state } });
  }
  return out;
}

const notProvided = (name: string) => async (): Promise<never> => {
  throw new Error(`session port ${name} is not provided`);
};

/**
 * The machine with its effects unbound (actions do nothing, actors reject): for
 * `transition()` tests and for binding with `.provide()`.
 */
export function createSessionLogic(deps: SessionLogicDeps) {
  const cfg = parseSessionConfig(deps.config);
  const env: LogicEnv = { cfg, sign: deps.signUrl };

  type Step = (d: SessionContext, event: any, now: number, fx: Effects) => void;
  /** One pure step: copy the context, run the handler, assign it, enqueue its outputs. */
  const step = (fn: Step) =>
    enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent>(({ context, event, enqueue }) => {
      const now = deps.now();
      const d: SessionContext = { ...context };
      const fx = new Effects();
      fn(d, event, now, fx);
      const out = finishStep(d, now, env, fx);
      enqueue.assign(d);
      for (const e of out) {
        if (e.kind === 'send') enqueue({ type: 'sendToDevice', params: { deviceId: e.deviceId, output: e.output } });
        else if (e.kind === 'broadcast') enqueue({ type: 'broadcastState', params: { output: e.output } });
        else enqueue({ type: 'publishEvent', params: { event: e.event } });
      }
      // `as never`: xstate cannot type an action factory built outside setup() against the
      // setup's own action map; the enqueued names are exactly the three declared below.
    }) as never;

  const wants = (state: PlaybackStateName) => ({ type: 'wants' as const, params: { state } });

  return setup({
    types: {
      context: {} as SessionContext,
      events: {} as SessionEvent,
      input: {} as SessionInput,
    },
    actors: {
      resolveContext: fromPromise<ResolvedContext | null, ResolveContextRequest>(notProvided('resolveContext')),
      loadTracks: fromPromise<LoadedTracks, LoadTracksRequest>(notProvided('loadTracks')),
      radio: fromPromise<string[], RadioRequest>(({ input }) => noRadio(input)),
    },
    actions: {
      sendToDevice: (_: unknown, _params: { deviceId: string; output: DeviceOutput }) => {},
      broadcastState: (_: unknown, _params: { output: StateOutput }) => {},
      publishEvent: (_: unknown, _params: { event: ListeningEvent }) => {},
      onCommand: step((d, e, now, fx) => handleCommand(d, e as SessionCommand, now, env, fx)),
      onGraceExpired: step((d, _e, now, fx) => graceExpired(d, now, env, fx)),
      onResolved: step((d, e, now, fx) => contextResolved(d, e.output as ResolvedContext | null, now, env, fx)),
      onResolveFailed: step((d, _e, _now, fx) => resolveFailed(d, fx)),
      onTargetKnown: step((d, _e, now, fx) => settleStart(d, now, env, fx)),
      onTargetLoaded: step((d, e, now, fx) => {
        const out = e.output as LoadedTracks;
        targetLoaded(d, out.result ?? {}, out.trackIds, now, env, fx);
      }),
      onTargetLoadFailed: step((d, _e, _now, fx) => targetLoadFailed(d, fx)),
      onAheadLoaded: step((d, e, _now, fx) => {
        const out = e.output as LoadedTracks;
        aheadLoaded(d, out.result ?? {}, out.trackIds, env, fx);
      }),
      onAheadFailed: step((d, _e, _now, fx) => aheadLoadFailed(d, aheadIds(d, env), fx)),
      onAutoplay: step((d, e, _now, fx) => autoplayLoaded(d, e.output, fx)),
      markAutoplayRequested: ({ context }) => void context,
      onTick: step((d, _e, now, fx) => tick(d, now, env, fx)),
    },
    guards: {
      wants: ({ context }, params: { state: PlaybackStateName }) => desiredPlayback(context) === params.state,
      targetKnown: ({ context }) =>
        context.pendingStart !== null && context.bundles[context.pendingStart.ref.trackId] !== undefined,
      hasPendingStart: ({ context }) => context.pendingStart !== null,
      aheadNeeded: ({ context }) => context.pendingAdds.length > 0 || aheadIds(context, env).length > 0,
      autoplayNeeded: ({ context }) => autoplayNeeded(context, env),
      activeLost: ({ context }) =>
        context.activeDeviceId !== null &&
        !isConnected(context, context.activeDeviceId) &&
        ((context.current !== null && context.position.playing) || context.pendingStart?.play === true),
    },
    delays: {
      tick: ({ context }) => tickDelay(context, deps.now(), env),
      disconnectGrace: cfg.disconnectGraceMs,
    },
  }).createMachine({
    id: 'session',
    type: 'parallel',
    context: ({ input }) =>
      input.restore
        ? restoredContext(input.restore, input, deps.now())
        : initialContext({ ...input, now: deps.now() }),
    on: {
      hello: { actions: 'onCommand' },
      disconnect: { actions: 'onCommand' },
      shuffle: { actions: 'onCommand' },
      repeat: { actions: 'onCommand' },
      'queue.add': { actions: 'onCommand' },
      quality: { actions: 'onCommand' },
      volume: { actions: 'onCommand' },
      progress: { actions: 'onCommand' },
    },
    states: {
      playback: {
        initial: 'route',
        on: {
          play: { target: '.route', actions: 'onCommand' },
          pause: { target: '.route', actions: 'onCommand' },
          resume: { target: '.route', actions: 'onCommand' },
          seek: { target: '.route', actions: 'onCommand' },
          next: { target: '.route', actions: 'onCommand' },
          previous: { target: '.route', actions: 'onCommand' },
          ended: { target: '.route', actions: 'onCommand' },
          transfer: { target: '.route', actions: 'onCommand' },
          logout: { target: '.route', actions: 'onCommand' },
          'grace.expired': { target: '.route', actions: 'onGraceExpired' },
        },
        states: {
          route: {
            always: [
              { guard: wants('resolving'), target: 'resolving' },
              { guard: wants('loading'), target: 'loading' },
              { guard: wants('playing'), target: 'playing' },
              { guard: wants('paused'), target: 'paused' },
              { target: 'idle' },
            ],
          },
          idle: {},
          resolving: {
            invoke: {
              id: 'resolveContext',
              src: 'resolveContext',
              input: ({ context }) => {
                const r = context.pendingResolve!;
                return { userId: context.userId, contextUri: r.contextUri, trackIds: r.trackIds };
              },
              onDone: { target: 'route', actions: 'onResolved' },
              onError: { target: 'route', actions: 'onResolveFailed' },
            },
          },
          loading: {
            initial: 'check',
            states: {
              check: {
                always: [
                  { guard: 'targetKnown', target: '#session.playback.route', actions: 'onTargetKnown' },
                  { guard: 'hasPendingStart', target: 'fetch' },
                  { target: '#session.playback.route' },
                ],
              },
              fetch: {
                invoke: {
                  id: 'loadTarget',
                  src: 'loadTracks',
                  input: ({ context }) => {
                    // The pending track and what follows it, in one batch: playback and prefetch go out together.
                    const target = context.pendingStart!.ref.trackId;
                    const ids = [target];
                    for (const id of upcomingIds(context, cfg.prefetchAhead)) {
                      if (!ids.includes(id) && context.bundles[id] === undefined) ids.push(id);
                    }
                    return { trackIds: ids, country: context.country };
                  },
                  onDone: { target: 'check', actions: 'onTargetLoaded' },
                  onError: { target: '#session.playback.route', actions: 'onTargetLoadFailed' },
                },
              },
            },
          },
          playing: {
            after: { tick: { target: 'route', actions: 'onTick' } },
          },
          paused: {},
        },
      },
      fetcher: {
        initial: 'idle',
        states: {
          idle: { always: { guard: 'aheadNeeded', target: 'loading' } },
          loading: {
            invoke: {
              id: 'loadAhead',
              src: 'loadTracks',
              input: ({ context }) => ({ trackIds: aheadIds(context, env), country: context.country }),
              onDone: { target: 'idle', actions: 'onAheadLoaded' },
              onError: { target: 'idle', actions: 'onAheadFailed' },
            },
          },
        },
      },
      autoplay: {
        initial: 'idle',
        states: {
          idle: { always: { guard: 'autoplayNeeded', target: 'fetching' } },
          fetching: {
            entry: enqueueActions(({ enqueue }) => enqueue.assign({ autoplayRequested: true })),
            invoke: {
              id: 'radio',
              src: 'radio',
              input: ({ context }) => ({ userId: context.userId, ...radioSeeds(context), count: cfg.autoplayCount }),
              onDone: { target: 'idle', actions: 'onAutoplay' },
              onError: { target: 'idle' },
            },
          },
        },
      },
      presence: {
        initial: 'steady',
        states: {
          steady: { always: { guard: 'activeLost', target: 'grace' } },
          grace: {
            always: { guard: not('activeLost'), target: 'steady' },
            after: { disconnectGrace: { target: 'expired' } },
          },
          expired: {
            entry: raise({ type: 'grace.expired' }),
            always: { guard: not('activeLost'), target: 'steady' },
          },
        },
      },
    },
  });
}

export type SessionLogic = ReturnType<typeof createSessionLogic>;
export type SessionActor = ActorRefFrom<SessionLogic>;
export type SessionSnapshot = SnapshotFrom<SessionLogic>;

/**
 * The machine session/ runs: `createSessionLogic` with every effect bound to the ports
 * through `.provide()`. Call once per process; `createActor(machine, { input })` per user.
 */
export function createSessionMachine(ports: SessionPorts, config?: Partial<SessionConfig>): SessionLogic {
  const logic = createSessionLogic({ now: ports.now, signUrl: ports.signUrl, ...(config ? { config } : {}) });
  const radio = ports.radio ?? noRadio;
  return logic.provide({
    actions: {
      sendToDevice: ({ context }, p) => ports.sendToDevice(context.userId, p.deviceId, p.output),
      broadcastState: ({ context }, p) => ports.broadcastState(context.userId, p.output),
      publishEvent: (_, p) => ports.publishEvent(p.event),
    },
    actors: {
      resolveContext: fromPromise<ResolvedContext | null, ResolveContextRequest>(({ input }) => ports.resolveContext(input)),
      loadTracks: fromPromise<LoadedTracks, LoadTracksRequest>(async ({ input }) => ({
        trackIds: input.trackIds,
        result: await ports.loadTracks(input),
      })),
      radio: fromPromise<string[], RadioRequest>(({ input }) => radio(input)),
    },
  });
}

/** The session's state to save in the snapshot store (JSON-serialisable). */
export function persistSession(snapshot: { context: SessionContext }, now: number): PersistedSession {
  return persistContext(snapshot.context, now);
}

/** The versioned state view of a running session (what a `welcome` carries). */
export function sessionState(snapshot: { context: SessionContext }, now: number) {
  return stateView(snapshot.context, now);
}
