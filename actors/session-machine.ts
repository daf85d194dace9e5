/**
 * The session machine: one actor per listener, the only writer of that listener's
 * playback state. Built once per process and shared by every actor.
 *
 * States (one compound region, `playback`): route -> idle | resolving (invoke
 *   resolveContext) | loading (check, fetch: invoke loadTracks) | playing (ticking: the one
 *   timer, see timers.ts; held: the active device is lost, no timer) | paused. The state is
 *   derived from the context after each step (`route`, `desiredPlayback`), so every
 *   decision stays in the pure handlers (session-commands.ts and the modules it names).
 * Beside it, started and stopped by each step from the context it leaves (`housekeeping`):
 * - the background fetcher (child `loadAhead`): bundles of upcoming tracks and queue adds;
 * - autoplay (child `radio`): asked once when a context is about to run out;
 * - presence: the active device gone while playing -> delayed `grace.expired` -> pause.
 *
 * `setup()` names every effect: the action `emit` (one step's sends, state broadcast and
 * listening events, in order) and the actors `resolveContext`, `loadTracks`, `radio`. They
 * are unbound here (`emit` does nothing, the loads reject, radio answers []): the
 * composition root binds them to the ports with `.provide()` (app/session-actor.ts).
 * `now()`, `signUrl`, `peekTracks` and `peekContext` are synchronous reads a step needs midway, given to
 * `createSessionLogic`. No I/O, no await, no async work in actions.
 */

import { enqueueActions, fromPromise, setup, type ActorRefFrom, type SnapshotFrom } from 'xstate';
import { parseSessionConfig, type SessionConfig } from './config.ts';
import { graceExpired } from './devices.ts';
import { fileSigner, type SignUrl } from './playback-output.ts';
import {
  autoplayFailed,
  autoplayLoaded,
  autoplayNeeded,
  contextResolved,
  radioSeeds,
  resolveFailed,
} from './play-context.ts';
import {
  settleStart,
  settleStartFromCache,
  targetBatch,
  targetLoaded,
  targetLoadFailed,
} from './play-lifecycle.ts';
import { noRadio, type SessionInput, type SessionPorts } from './ports.ts';
import { aheadIds, aheadLoaded, aheadLoadFailed, loadAheadFromCache } from './prefetch.ts';
import { applyDeferred, handleCommand, heldSkipReady, releaseHeldSkip } from './session-commands.ts';
import { activeLost, initialContext, type SessionContext } from './session-context.ts';
import { finishStep } from './finish-step.ts';
import { Effects, type Emission, type LogicEnv } from './session-effects.ts';
import { persistContext, restoredContext, type PersistedSession } from './session-snapshot.ts';
import { tick, tickDelay } from './timers.ts';
import type {
  LoadTracksRequest,
  LoadTracksResult,
  RadioRequest,
  ResolveContextRequest,
  ResolvedContext,
  SessionCommand,
} from './types.ts';

/** Internal event: the active device stayed away for the whole grace period. */
export interface GraceExpiredEvent {
  type: 'grace.expired';
}
/** Internal event: the track a held skip waits for is known; the skip applies (and the state routes). */
export interface SkipReleaseEvent {
  type: 'skip.release';
}
export type SessionEvent = SessionCommand | GraceExpiredEvent | SkipReleaseEvent;

/** Output of the `loadTracks` actor: the ids asked for travel with the result. */
export interface LoadedTracks {
  trackIds: string[];
  result: LoadTracksResult;
}

export interface SessionLogicDeps {
  now(): number;
  signUrl: SignUrl;
  /** Cached bundles, synchronously (SessionPorts.peekTracks); without it every load is invoked. */
  peekTracks?: SessionPorts['peekTracks'];
  /** A known context, synchronously (SessionPorts.peekContext); without it every play is invoked. */
  peekContext?: SessionPorts['peekContext'];
  config?: Partial<SessionConfig>;
}

export type PlaybackStateName = 'idle' | 'resolving' | 'loading' | 'playing' | 'paused';

/** The fields of `d` whose value is not the one in `before`. */
function changedFields(before: SessionContext, d: SessionContext): Partial<SessionContext> {
  const out: Record<string, unknown> = {};
  for (const key in d) {
    const value = d[key as keyof SessionContext];
    if (value !== before[key as keyof SessionContext]) out[key] = value;
  }
  return out as Partial<SessionContext>;
}

/** Playing, with the active device lost: held, no timer. */
const held = (c: SessionContext): boolean => c.activeLostAt !== null && desiredPlayback(c) === 'playing';

/** The playback state the context calls for. */
export function desiredPlayback(c: SessionContext): PlaybackStateName {
  if (c.pendingResolve) return 'resolving';
  if (c.pendingStart) return 'loading';
  if (c.current) return c.position.playing ? 'playing' : 'paused';
  return 'idle';
}

const notProvided = (name: string) => async (): Promise<never> => {
  throw new Error(`session port ${name} is not provided`);
};

/**
 * Commands after which the playback region routes (the others leave its state as it is).
 * `hello` and `disconnect` too: the active device lost or back holds or re-arms the timer
 * in `playing`.
 */
const ROUTED = [
  'play',
  'pause',
  'resume',
  'seek',
  'next',
  'previous',
  'ended',
  'transfer',
  'logout',
  'hello',
  'disconnect',
] as const;
const routed: ReadonlySet<string> = new Set(ROUTED);
/** Routed commands that never end a resolve: they wait for it or act beside it (see PendingResolve.deferred). */
const HELD_WHILE_RESOLVING = ROUTED.filter((type) => type !== 'play' && type !== 'logout');
/**
 * Routed commands that leave the pending start's track as it is (its play flag, position or
 * device may change): while that track's load is in flight, they do not restart it.
 */
const KEEP_LOADING = ['pause', 'resume', 'seek', 'transfer', 'hello', 'disconnect'] as const;
/** Routed commands that leave a load running: a device coming or going changes nothing it does. */
const BESIDE_LOADING = ['hello', 'disconnect'] as const;
const inPlace = (types: readonly string[]) =>
  Object.fromEntries(types.map((type) => [type, { actions: 'onCommand' as const }]));

/** Ids of the background children and the grace timer (one of each at a time). */
const AHEAD = 'loadAhead';
const RADIO = 'radio';
const GRACE = 'grace';

/**
 * The machine with its effects unbound (`emit` does nothing, actors reject): for
 * `transition()` tests and for binding with `.provide()`.
 *
 * Shape, chosen by measurement: one compound `playback` region. The background loads, the
 * radio call and the grace timer are children and a delayed event that each step starts or
 * cancels from the context it leaves behind (`housekeeping`), not parallel regions with
 * eventless guards: XState re-evaluates every region after every event, which cost about
 * 10 us per command (a `volume` went from ~15 us to ~5 us of actor time without them).
 */
export function createSessionLogic(deps: SessionLogicDeps) {
  const cfg = parseSessionConfig(deps.config);
  const env: LogicEnv = {
    cfg,
    sign: deps.signUrl,
    signFile: fileSigner(deps.signUrl),
    peek: deps.peekTracks,
    peekContext: deps.peekContext,
  };

  type Enqueue = Parameters<
    Parameters<typeof enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent>>[0]
  >[0]['enqueue'];
  /** What a step asks of the machine (children, timers, raised events), in order: enqueued when it is applied. */
  type Later = Array<(enqueue: Enqueue) => void>;

  /**
   * After a step: start the loads and arm or cancel the grace timer the new context calls
   * for. Flags in the context say what is running, so a step never starts a second one.
   */
  function housekeeping(d: SessionContext, now: number, later: Later): void {
    if (!d.aheadLoading) {
      const trackIds = aheadIds(d, env, now);
      if (trackIds.length > 0) {
        d.aheadLoading = true;
        const input = { trackIds, country: d.country };
        later.push((enqueue) => enqueue.spawnChild('loadTracks', { id: AHEAD, input }));
      }
    }
    if (d.radioFor === null && autoplayNeeded(d, env)) {
      d.radioFor = d.contextGen;
      d.autoplayRequested = true;
      const input = { userId: d.userId, ...radioSeeds(d), count: cfg.autoplayCount };
      later.push((enqueue) => enqueue.spawnChild('radio', { id: RADIO, input }));
    }
    const lost = activeLost(d);
    if (lost && !d.graceArmed) {
      d.graceArmed = true;
      later.push((enqueue) =>
        enqueue.raise({ type: 'grace.expired' }, { id: GRACE, delay: cfg.activeDeviceGraceMs }),
      );
    } else if (!lost && d.graceArmed) {
      d.graceArmed = false;
      later.push((enqueue) => enqueue.cancel(GRACE));
    }
  }

  type Step = (d: SessionContext, event: any, now: number, fx: Effects, later: Later) => void;
  /** A step's result: the new context, its outputs, and what it asks of the machine. */
  interface Stepped {
    d: SessionContext;
    out: Emission[];
    later: Later;
  }
  /** One pure step: copy the context, run the handler, finish (prefetch, version, outputs, loads). */
  function run(fn: Step, context: SessionContext, event: SessionEvent): Stepped {
    const now = deps.now();
    const d: SessionContext = { ...context };
    const fx = new Effects();
    const later: Later = [];
    fn(d, event, now, fx, later);
    loadAheadFromCache(d, now, env, fx);
    // A skip held for a track's load is applied in a step of its own, which routes.
    if (heldSkipReady(d)) later.push((enqueue) => enqueue.raise({ type: 'skip.release' }));
    const out = finishStep(d, now, env, fx);
    housekeeping(d, now, later);
    return { d, out, later };
  }
  /** Apply a step in one action: what it asks of the machine, the context, its outputs. */
  function apply(r: Stepped, enqueue: Enqueue): void {
    for (const ask of r.later) ask(enqueue);
    // Only the fields the step changed: xstate copies the context with `Object.assign` onto
    // an empty object, which costs per field given (~45 here); the new context is the same.
    enqueue.assign(({ context }) => changedFields(context, r.d));
    if (r.out.length > 0) enqueue({ type: 'emit', params: { out: r.out } });
  }
  const step = (fn: Step) =>
    enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent>(({ context, event, enqueue }) =>
      apply(run(fn, context, event), enqueue),
    ) as never; // xstate cannot type an action factory built outside setup() against its own action map

  const onCommand: Step = (d, e, now, fx) => {
    handleCommand(d, e as SessionCommand, now, env, fx);
    if (routed.has(e.type)) settleStartFromCache(d, now, env, fx);
  };
  /**
   * A routed command goes straight to the state its step calls for: its transitions' guards
   * ask the step's result, computed once (by the identity of the context and the event the
   * guards and the action see: the same within one transition) and applied by the action.
   * This spares the `route` microstep of every command (its eventless choice, a state
   * entered and left, a snapshot); `route` stays for the machine's own events.
   */
  let planned: { context: SessionContext; event: SessionEvent; r: Stepped } | null = null;
  const plan = (context: SessionContext, event: SessionEvent): Stepped => {
    if (planned !== null && planned.context === context && planned.event === event) return planned.r;
    const r = run(onCommand, context, event);
    planned = { context, event, r };
    return r;
  };

  /**
   * The choice of the playback state, in order (the guards: on the context, or on a routed
   * command's step). Straight to the playing sub-state: one microstep fewer on every start.
   */
  const routeBy = <G extends 'wants' | 'stepWants', H extends 'wantsHeld' | 'stepWantsHeld'>(
    wants: G,
    wantsHeld: H,
    actions?: 'onRouted',
  ) => {
    const to = (state: PlaybackStateName) => ({ type: wants, params: { state } });
    const at = (target: string) => ({
      target: actions ? `.${target}` : target,
      ...(actions ? { actions } : {}),
    });
    return [
      { guard: to('resolving'), ...at('resolving') },
      { guard: to('loading'), ...at('loading') },
      { guard: wantsHeld, ...at('playing.held') },
      { guard: to('playing'), ...at('playing.ticking') },
      { guard: to('paused'), ...at('paused') },
      at('idle'),
    ];
  };

  return setup({
    types: {
      context: {} as SessionContext,
      events: {} as SessionEvent,
      input: {} as SessionInput,
    },
    actors: {
      resolveContext: fromPromise<ResolvedContext | null, ResolveContextRequest>(
        notProvided('resolveContext'),
      ),
      loadTracks: fromPromise<LoadedTracks, LoadTracksRequest>(notProvided('loadTracks')),
      radio: fromPromise<string[], RadioRequest>(({ input }) => noRadio(input)),
    },
    actions: {
      /** Every output of one step, in order: sends, the state broadcast, listening events. */
      emit: (_: unknown, _params: { out: Emission[] }) => {},
      onStart: step(() => {}),
      onCommand: step(onCommand),
      onRouted: enqueueActions<SessionContext, SessionEvent, undefined, SessionEvent>(
        ({ context, event, enqueue }) => {
          const r = plan(context, event);
          planned = null;
          apply(r, enqueue);
        },
      ) as never,
      onGraceExpired: step((d, _e, now, fx) => {
        d.graceArmed = false;
        graceExpired(d, now, env, fx);
      }),
      onResolved: step((d, e, now, fx) => {
        const held = contextResolved(d, e.output as ResolvedContext | null, now, env, fx);
        applyDeferred(d, held, now, env, fx);
        settleStartFromCache(d, now, env, fx);
      }),
      onResolveFailed: step((d, _e, now, fx) => {
        // The play failed; what was sent after it still applies, to what plays now.
        applyDeferred(d, resolveFailed(d, fx), now, env, fx);
        settleStartFromCache(d, now, env, fx);
      }),
      onSkipRelease: step((d, _e, now, fx) => {
        releaseHeldSkip(d, now, env, fx);
        settleStartFromCache(d, now, env, fx);
      }),
      onTargetKnown: step((d, _e, now, fx) => settleStart(d, now, env, fx)),
      onTargetLoaded: step((d, e, now, fx) => {
        const out = e.output as LoadedTracks;
        targetLoaded(d, out.result ?? {}, out.trackIds, now, env, fx);
      }),
      onTargetLoadFailed: step((d, _e, _now, fx) => targetLoadFailed(d, fx)),
      onAheadLoaded: step((d, e, now, fx, later) => {
        later.push((enqueue) => enqueue.stopChild(AHEAD));
        d.aheadLoading = false;
        const out = e.output as LoadedTracks;
        aheadLoaded(d, out.result ?? {}, out.trackIds, now, fx);
      }),
      onAheadFailed: step((d, _e, now, fx, later) => {
        later.push((enqueue) => enqueue.stopChild(AHEAD));
        d.aheadLoading = false;
        aheadLoadFailed(d, aheadIds(d, env, now), fx);
      }),
      onAutoplay: step((d, e, _now, fx, later) => {
        later.push((enqueue) => enqueue.stopChild(RADIO));
        const askedFor = d.radioFor;
        d.radioFor = null;
        // Asked for an earlier context: dropped; the new one asks its own when it runs out.
        if (askedFor === d.contextGen) autoplayLoaded(d, e.output, fx);
      }),
      onAutoplayFailed: step((d, _e, _now, fx, later) => {
        // Asked once per context: a failed radio call is not retried until the next context.
        later.push((enqueue) => enqueue.stopChild(RADIO));
        const askedFor = d.radioFor;
        d.radioFor = null;
        if (askedFor === d.contextGen) autoplayFailed(d, fx);
      }),
      onTick: step((d, _e, now, fx) => tick(d, now, env, fx)),
    },
    guards: {
      wants: ({ context }, params: { state: PlaybackStateName }) => desiredPlayback(context) === params.state,
      targetKnown: ({ context }) =>
        context.pendingStart !== null && context.bundles[context.pendingStart.ref.trackId] !== undefined,
      hasPendingStart: ({ context }) => context.pendingStart !== null,
      /**
       * The load in flight is still what the pending start waits for: its bundle is neither
       * loaded nor cached (else the command's step settles the start, and the state routes).
       */
      loadStillNeeded: ({ context }) => {
        const p = context.pendingStart;
        if (!p || context.bundles[p.ref.trackId] !== undefined) return false;
        return env.peek?.({ trackIds: [p.ref.trackId], country: context.country }) === undefined;
      },
      /** Playing, with the active device lost: held, no timer (see `playing`). */
      wantsHeld: ({ context }) => held(context),
      /** A routed command's step calls for this state (see `plan`). */
      stepWants: ({ context, event }, params: { state: PlaybackStateName }) =>
        desiredPlayback(plan(context, event).d) === params.state,
      stepWantsHeld: ({ context, event }) => held(plan(context, event).d),
    },
    delays: {
      tick: ({ context }) => tickDelay(context, deps.now(), env),
    },
  }).createMachine({
    id: 'session',
    context: ({ input }) =>
      input.restore
        ? restoredContext(input.restore, input, deps.now())
        : initialContext({ ...input, now: deps.now() }),
    // A restored session may need loads or a grace timer before any event arrives.
    entry: 'onStart',
    initial: 'playback',
    on: {
      shuffle: { actions: 'onCommand' },
      repeat: { actions: 'onCommand' },
      'queue.add': { actions: 'onCommand' },
      'queue.edit': { actions: 'onCommand' },
      quality: { actions: 'onCommand' },
      volume: { actions: 'onCommand' },
      progress: { actions: 'onCommand' },
      [`xstate.done.actor.${AHEAD}`]: { actions: 'onAheadLoaded' },
      [`xstate.error.actor.${AHEAD}`]: { actions: 'onAheadFailed' },
      [`xstate.done.actor.${RADIO}`]: { actions: 'onAutoplay' },
      [`xstate.error.actor.${RADIO}`]: { actions: 'onAutoplayFailed' },
    },
    states: {
      playback: {
        initial: 'route',
        on: {
          ...Object.fromEntries(
            ROUTED.map((type) => [type, routeBy('stepWants', 'stepWantsHeld', 'onRouted')]),
          ),
          'grace.expired': { target: '.route', actions: 'onGraceExpired' },
          'skip.release': { target: '.route', actions: 'onSkipRelease' },
        },
        states: {
          route: { always: routeBy('wants', 'wantsHeld') },
          idle: {},
          resolving: {
            // Commands held for the resolve (or applied beside it) leave it running: re-entering
            // would restart the store read for every skip pressed while it is in flight.
            on: inPlace(HELD_WHILE_RESOLVING),
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
            on: inPlace(BESIDE_LOADING),
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
                // A command that keeps the pending track keeps its load; if the guard fails
                // the playback region's own handler routes (and reloads if need be).
                on: Object.fromEntries(
                  KEEP_LOADING.map((type) => [
                    type,
                    { guard: 'loadStillNeeded', actions: 'onCommand' as const },
                  ]),
                ),
                invoke: {
                  id: 'loadTarget',
                  src: 'loadTracks',
                  input: ({ context }) => ({
                    trackIds: targetBatch(context, env, deps.now()),
                    country: context.country,
                  }),
                  onDone: { target: 'check', actions: 'onTargetLoaded' },
                  onError: { target: '#session.playback.route', actions: 'onTargetLoadFailed' },
                },
              },
            },
          },
          playing: {
            // While the active device is lost nothing is heard and no timer runs: the grace
            // timer decides (a tick due then would fire every millisecond, doing nothing).
            initial: 'ticking',
            states: {
              ticking: { after: { tick: { target: '#session.playback.route', actions: 'onTick' } } },
              held: {},
            },
          },
          paused: {},
        },
      },
    },
  });
}

export type SessionLogic = ReturnType<typeof createSessionLogic>;
export type SessionActor = ActorRefFrom<SessionLogic>;
export type SessionMachineSnapshot = SnapshotFrom<SessionLogic>;

/** The session's state to save in the snapshot store (JSON-serialisable). */
export function persistSession(snapshot: { context: SessionContext }, now: number): PersistedSession {
  return persistContext(snapshot.context, now);
}
