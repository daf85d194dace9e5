/**
 * Binds the session machine of actors/ to this server. actors/ names every effect of the
 * machine in `setup()` (the action `emit`, the actors `resolveContext`, `loadTracks`,
 * `radio`) and leaves them unbound; here, at the root, `.provide()` binds them to the
 * session server's ports.
 *
 * Once per process (per ports object), not per listener: `.provide()` builds a whole new
 * machine (its state-node tree: ~34 KB of heap and a few ms of CPU per call, measured on
 * the 2-core box), against ~5 KB for a started actor and ~9 KB for a whole idle session;
 * and one bound machine serves every listener, as each effect routes by the actor's own
 * user id (`context.userId`). One actor per listener.
 *
 * The server's config maps onto the machine's SessionConfig here; persisting uses
 * actors/'s own versioned snapshot format.
 */
import { createActor, fromPromise, type AnyStateMachine, type AnyStateNode, type Snapshot } from 'xstate';
import type { SessionConfig } from '../actors/config.ts';
import { noRadio, type SessionPorts } from '../actors/ports.ts';
import {
  createSessionLogic,
  type LoadedTracks,
  type SessionLogic,
  type SessionMachineSnapshot,
} from '../actors/session-machine.ts';
import type { SessionContext } from '../actors/session-context.ts';
import { persistContext } from '../actors/session-snapshot.ts';
import type {
  LoadTracksRequest,
  RadioRequest,
  ResolveContextRequest,
  ResolvedContext,
} from '../actors/types.ts';
import { sessionConfigOf, type ActorSettings } from './config.ts';
import type { StartActor } from '../session/session-router.ts';

/** The session machine with every effect bound to `ports`. Call once per process; `createActor` per user. */
export function createSessionMachine(ports: SessionPorts, config?: Partial<SessionConfig>): SessionLogic {
  const logic = createSessionLogic({
    now: ports.now,
    signUrl: ports.signUrl,
    ...(ports.peekTracks ? { peekTracks: ports.peekTracks.bind(ports) } : {}),
    ...(ports.peekContext ? { peekContext: ports.peekContext.bind(ports) } : {}),
    ...(config ? { config } : {}),
  });
  const radio = ports.radio ?? noRadio;
  return logic.provide({
    actions: {
      emit: ({ context }, p) => {
        for (const e of p.out) {
          if (e.kind === 'send') ports.sendToDevice(context.userId, e.deviceId, e.output);
          else if (e.kind === 'broadcast') ports.broadcastState(context.userId, e.output);
          else ports.publishEvent(e.event);
        }
      },
    },
    actors: {
      resolveContext: fromPromise<ResolvedContext | null, ResolveContextRequest>(({ input }) =>
        ports.resolveContext(input),
      ),
      loadTracks: fromPromise<LoadedTracks, LoadTracksRequest>(async ({ input }) => ({
        trackIds: input.trackIds,
        result: await ports.loadTracks(input),
      })),
      radio: fromPromise<string[], RadioRequest>(({ input }) => radio(input)),
    },
  });
}

/**
 * `radio`: the autoplay port (app/open-radio.ts); it replaces the session server's default,
 * which answers nothing.
 */
export function sessionActorStarter(
  config: ActorSettings,
  radio?: (request: RadioRequest) => Promise<string[]>,
): StartActor {
  const sessionConfig = sessionConfigOf(config);
  const machines = new WeakMap<SessionPorts, SessionLogic>();
  const handled = new WeakMap<AnyStateMachine, ReadonlySet<string>>();
  const start: StartActor = (ports, input, onError, suspended) => {
    let machine = machines.get(ports);
    if (!machine)
      machines.set(
        ports,
        (machine = createSessionMachine(radio ? { ...ports, radio } : ports, sessionConfig)),
      );
    let always = handled.get(machine);
    if (!always) handled.set(machine, (always = handledInEveryState(machine)));
    const everywhere = always;
    // A suspended actor resumes from its persisted snapshot exactly where it stopped: XState
    // restores the state and context and runs no entry action again (nothing is sent).
    const actor = createActor(
      machine,
      suspended === undefined ? { input } : { input, snapshot: suspended as Snapshot<unknown> },
    );
    // An error observer keeps a fault inside one actor from becoming an uncaught exception
    // of the process; the router drops that session (see SessionRouter.failed).
    actor.subscribe({ error: (err) => onError?.(err) });
    actor.start();
    return {
      send: (command) => {
        // A command the machine takes in every state is sent at once (a set lookup); only
        // another asks the current state (`can` evaluates guards: a few microseconds).
        if (!everywhere.has(command.type) && !actor.getSnapshot().can(command)) return false;
        actor.send(command);
        return true;
      },
      persist: () => persistContext(actor.getSnapshot().context, ports.now()),
      stop: () => actor.stop(),
      suspend: () => {
        if (!suspendable(actor.getSnapshot())) return undefined;
        const persisted = actor.getPersistedSnapshot();
        actor.stop();
        return persisted;
      },
    };
  };
  start.persistSuspended = (suspended, now) =>
    persistContext((suspended as { context: SessionContext }).context, now);
  return start;
}

/**
 * An actor may be suspended (stopped and kept as its persisted snapshot) only when nothing
 * of it runs or is due: idle or paused, no child (background load, radio call), no pending
 * start, resolve, held skip or queue add, and no grace timer. Then no timer of its own can
 * come due while it is stopped (the one tick runs only while playing), so resuming it later
 * from the same snapshot behaves as if it had never stopped.
 */
export function suspendable(s: SessionMachineSnapshot): boolean {
  const c = s.context;
  return (
    s.status === 'active' &&
    (s.matches({ playback: 'idle' }) || s.matches({ playback: 'paused' })) &&
    Object.keys(s.children).length === 0 &&
    !c.aheadLoading &&
    c.radioFor === null &&
    !c.graceArmed &&
    c.pendingStart === null &&
    c.pendingResolve === null &&
    c.heldSkip === null &&
    c.pendingAdds.length === 0
  );
}

/**
 * Event types some unguarded transition takes in every atomic state of the machine (on the
 * state itself or an ancestor), so an event of such a type is never dropped, whatever the
 * state. Computed once per machine from its definition.
 */
export function handledInEveryState(machine: AnyStateMachine): ReadonlySet<string> {
  let common: Set<string> | undefined;
  const visit = (node: AnyStateNode): void => {
    const children = Object.values(node.states) as AnyStateNode[];
    if (children.length > 0) return children.forEach(visit);
    const here = new Set<string>();
    for (let n: AnyStateNode | undefined = node; n; n = n.parent) {
      for (const [type, transitions] of n.transitions) {
        if (transitions.some((t) => t.guard === undefined)) here.add(type);
      }
    }
    common = common ? new Set([...common].filter((type) => here.has(type))) : here;
  };
  visit(machine.root);
  return common ?? new Set();
}
