/**
 * The player door: how the HTTP player API reaches a listener's session actor, the same
 * actor a device's socket commands go to ("one actor, two doors").
 *
 * It wraps the server's `StartActor`, so it sees every live actor and the outputs the actor
 * sends, without a second path into it:
 * - `send` hands the actor a command as if from one of the listener's connected devices
 *   (the target device, or the active one), with a request id of its own (`h<n>`); the
 *   actor's `ack` / `error` for that id comes back here instead of to the device's socket,
 *   and the promise settles with the state version as of that answer. HTTP and socket
 *   commands thus meet in the actor's one mailbox, in arrival order, and every device gets
 *   the new `state` the same way as for a device's own command.
 * - every `state` (broadcast or welcome) is kept as the listener's current view, wakes the
 *   `GET /v1/me/player?min_version=N` waiters and goes to the Server-Sent Events subscribers
 *   (player-events.ts), who also get the last few states again on a resume.
 *
 * One wrapped ports object per original one (the actor starter caches its machine by ports
 * identity, so wrapping per actor would build a machine per listener).
 */
import type { SessionPorts } from '../../actors/ports.ts';
import type { DeviceOutput, ErrorOutput, SessionCommand, SessionView } from '../../actors/types.ts';
import type { SessionActorRef, StartActor } from '../session-router.ts';

/** Request ids of HTTP commands: strings, so they never meet a device's numeric ids. */
const HTTP_ID = 'h';

/** A command as the door takes it: the door picks the request id. */
export type DoorCommand = SessionCommand extends infer C
  ? C extends SessionCommand
    ? Omit<C, 'requestId'>
    : never
  : never;

export type CommandAnswer =
  | { ok: true; version: number }
  | { ok: false; error: Pick<ErrorOutput, 'code' | 'reason' | 'message'>; version: number };

/** One state as the subscribers see it: its id (`<epoch>.<version>`) and the view. */
export interface StateEvent {
  id: string;
  epoch: number;
  version: number;
  view: SessionView;
}

export type StateListener = (event: StateEvent) => void;

/** How many recent states a listener with subscribers keeps for resumes. */
export const STATE_RING = 32;

type Waiter = { min: number; done: () => void };

/**
 * One live session's actor as the router holds it, and what the door keeps of it: one object
 * per session (its methods on the prototype, the waiters made only when someone waits), so a
 * hibernated session costs the door little more than its last state.
 */
class LiveEntry implements SessionActorRef {
  view: SessionView | undefined = undefined;
  waiters: Set<Waiter> | undefined = undefined;

  constructor(
    readonly actor: SessionActorRef,
    private readonly door: PlayerDoor,
    readonly userId: string,
  ) {}

  send(command: SessionCommand): boolean {
    return this.actor.send(command);
  }

  persist(): unknown {
    return this.actor.persist();
  }

  stop(): void {
    this.actor.stop();
    this.door.stopped(this);
  }
}

interface Pending {
  userId: string;
  /** The actor it was sent to. */
  entry: LiveEntry;
  resolve: (a: CommandAnswer) => void;
  /** performance.now() past which it settles as `unavailable` (the sweep checks). */
  deadline: number;
}

interface Subscription {
  listeners: Set<StateListener>;
  /** The recent states, oldest first, for resumes (kept only while someone subscribes). */
  ring: StateEvent[];
}

export interface PlayerDoorOptions {
  /** An answer that never comes (a bug, a stuck load) settles as `unavailable` after this. */
  answerTimeoutMs?: number;
  /**
   * Resolves once what the listener's session produced so far is durable (cluster mode's
   * journal; session-router.ts): a command is answered only after it.
   */
  journaled?: (userId: string) => Promise<void>;
}

export const DEFAULT_ANSWER_TIMEOUT_MS = 10_000;

export class PlayerDoor {
  private readonly live = new Map<string, LiveEntry>();
  private readonly pending = new Map<string, Pending>();
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly wrapped = new WeakMap<SessionPorts, SessionPorts>();
  private nextId = 0;
  private readonly answerTimeoutMs: number;
  /** One timer for every command waiting (a timer per command cost ~4 % of its path). */
  private sweep: NodeJS.Timeout | undefined = undefined;
  private readonly journaled: ((userId: string) => Promise<void>) | undefined;

  constructor(opts: PlayerDoorOptions = {}) {
    this.answerTimeoutMs = opts.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    this.journaled = opts.journaled;
  }

  /**
   * The actor starter as the door sees it: wraps the server's (outside hibernation, so a
   * command through the door wakes a hibernated session like a device's does).
   */
  wrap(start: StartActor): StartActor {
    return (ports, input, onError, suspended) => {
      const entry = new LiveEntry(start(this.portsOf(ports), input, onError, suspended), this, input.userId);
      this.live.set(input.userId, entry);
      return entry;
    };
  }

  /** The session's actor stopped: waiters and commands waiting for it are answered now. */
  stopped(entry: LiveEntry): void {
    const userId = entry.userId;
    if (this.live.get(userId) === entry) this.live.delete(userId);
    const sub = this.subscriptions.get(userId);
    if (sub && sub.listeners.size === 0) this.subscriptions.delete(userId);
    for (const w of entry.waiters ?? []) w.done();
    entry.waiters = undefined;
    for (const [id, p] of this.pending) {
      if (p.entry !== entry) continue;
      this.pending.delete(id);
      p.resolve({
        ok: false,
        version: 0,
        error: { code: 'unavailable', reason: 'store_unavailable', message: 'the session ended' },
      });
    }
  }

  private portsOf(ports: SessionPorts): SessionPorts {
    let w = this.wrapped.get(ports);
    if (!w) {
      w = {
        ...ports,
        sendToDevice: (userId, deviceId, output) => {
          if (!this.answered(output)) {
            if (output.type === 'welcome') this.observe(userId, output.state);
            ports.sendToDevice(userId, deviceId, output);
          }
        },
        broadcastState: (userId, output) => {
          this.observe(userId, output.state);
          ports.broadcastState(userId, output);
        },
      };
      this.wrapped.set(ports, w);
    }
    return w;
  }

  /** An answer to an HTTP command: settles it and is not forwarded to the device. */
  private answered(output: DeviceOutput): boolean {
    if (output.type !== 'ack' && output.type !== 'error') return false;
    const id = output.requestId;
    if (typeof id !== 'string' || !id.startsWith(HTTP_ID)) return false;
    const p = this.pending.get(id);
    if (!p) return true;
    this.pending.delete(id);
    // Settled after the step's broadcast: the promise's reaction runs once the actor's emit
    // (ack, then the state) has returned, so `version` is the state this command made; and,
    // with a journal, once that state is journaled (asked now, so it joins this very step).
    const durable = this.journaled?.(p.userId) ?? Promise.resolve();
    void durable.then(
      () => this.settle(p, output),
      () => p.resolve(this.unavailable(p.userId, 'the command could not be made durable')),
    );
    return true;
  }

  private settle(p: Pending, output: Extract<DeviceOutput, { type: 'ack' | 'error' }>): void {
    const version = this.version(p.userId);
    p.resolve(
      output.type === 'ack'
        ? { ok: true, version }
        : {
            ok: false,
            version,
            error: { code: output.code, reason: output.reason, message: output.message },
          },
    );
  }

  private observe(userId: string, view: SessionView): void {
    const entry = this.live.get(userId);
    if (!entry) return;
    if (entry.view && entry.view.epoch === view.epoch && entry.view.version >= view.version) return;
    entry.view = view;
    if (entry.waiters) for (const w of entry.waiters) if (view.version >= w.min) w.done();
    const sub = this.subscriptions.get(userId);
    if (!sub) return;
    const event: StateEvent = {
      id: `${view.epoch}.${view.version}`,
      epoch: view.epoch,
      version: view.version,
      view,
    };
    sub.ring.push(event);
    if (sub.ring.length > STATE_RING) sub.ring.shift();
    for (const l of sub.listeners) l(event);
  }

  /** The listener's current state, or undefined when no session of theirs is live. */
  view(userId: string): SessionView | undefined {
    return this.live.get(userId)?.view;
  }

  /** The answer to a command the session could not take or did not answer. */
  private unavailable(userId: string, message: string): CommandAnswer {
    return {
      ok: false,
      version: this.version(userId),
      error: { code: 'unavailable', reason: 'store_unavailable', message },
    };
  }

  /** The listener's current state version (0 with no live session). */
  version(userId: string): number {
    return this.live.get(userId)?.view?.version ?? 0;
  }

  /**
   * Waits until the listener's state version reaches `min` (or the session ends, or
   * `timeoutMs` passes); resolves with the state then (undefined: no live session).
   */
  async waitForVersion(userId: string, min: number, timeoutMs: number): Promise<SessionView | undefined> {
    const entry = this.live.get(userId);
    if (!entry || (entry.view?.version ?? 0) >= min || timeoutMs <= 0) return this.view(userId);
    await new Promise<void>((resolve) => {
      const waiters = (entry.waiters ??= new Set());
      const w: Waiter = {
        min,
        done: () => {
          clearTimeout(timer);
          waiters.delete(w);
          resolve();
        },
      };
      const timer = setTimeout(w.done, timeoutMs);
      waiters.add(w);
    });
    return this.view(userId);
  }

  /**
   * Sends `command` to the listener's actor; settles with the actor's answer. `unavailable`
   * when no session is live, the actor has no handler for it now, or no answer comes in time.
   */
  send(userId: string, command: DoorCommand): Promise<CommandAnswer> {
    const entry = this.live.get(userId);
    if (!entry) {
      return Promise.resolve({
        ok: false,
        version: 0,
        error: { code: 'conflict', reason: 'no_active_device', message: 'no session is live' },
      });
    }
    const requestId = `${HTTP_ID}${++this.nextId}`;
    return new Promise<CommandAnswer>((resolve) => {
      this.pending.set(requestId, {
        userId,
        entry,
        resolve,
        deadline: performance.now() + this.answerTimeoutMs,
      });
      this.sweep ??= this.startSweep();
      const sent = entry.actor.send({ ...command, requestId } as SessionCommand);
      if (!sent && this.pending.delete(requestId))
        resolve(this.unavailable(userId, 'the session cannot take this command now'));
    });
  }

  /** Settles the commands past their deadline; stops once none wait. */
  private startSweep(): NodeJS.Timeout {
    const every = Math.max(10, Math.min(1_000, this.answerTimeoutMs / 4));
    const timer = setInterval(() => {
      const now = performance.now();
      for (const [id, p] of this.pending) {
        // Insertion order is deadline order (one timeout for all): the rest are not due.
        if (p.deadline > now) break;
        this.pending.delete(id);
        p.resolve(this.unavailable(p.userId, 'the session did not answer in time'));
      }
      if (this.pending.size === 0) {
        clearInterval(timer);
        this.sweep = undefined;
      }
    }, every);
    timer.unref();
    return timer;
  }

  /**
   * Subscribes to the listener's states. Returns the states after `resumeFrom` still kept
   * (or the current one when the resume point is unknown, from another epoch or too old), to
   * send first, and the unsubscribe.
   */
  subscribe(
    userId: string,
    listener: StateListener,
    resumeFrom?: { epoch: number; version: number },
  ): { backlog: StateEvent[]; unsubscribe: () => void } {
    let sub = this.subscriptions.get(userId);
    if (!sub) this.subscriptions.set(userId, (sub = { listeners: new Set(), ring: [] }));
    const current = this.view(userId);
    if (current && !sub.ring.some((e) => e.epoch === current.epoch && e.version === current.version)) {
      sub.ring.push({
        id: `${current.epoch}.${current.version}`,
        epoch: current.epoch,
        version: current.version,
        view: current,
      });
      if (sub.ring.length > STATE_RING) sub.ring.shift();
    }
    let backlog: StateEvent[] = [];
    const last = sub.ring[sub.ring.length - 1];
    if (last) {
      if (!resumeFrom || resumeFrom.epoch !== last.epoch) backlog = [last];
      else if (resumeFrom.version < last.version) {
        const missed = sub.ring.filter((e) => e.epoch === last.epoch && e.version > resumeFrom.version);
        // The first missed state is no longer kept: the current one stands for all of them.
        const complete =
          missed[0]?.version === resumeFrom.version + 1 || sub.ring[0]!.version <= resumeFrom.version;
        backlog = complete ? missed : [last];
      }
    }
    sub.listeners.add(listener);
    const s = sub;
    return {
      backlog,
      unsubscribe: () => {
        s.listeners.delete(listener);
        // Kept while the session lives, so a client that reconnects resumes from the ring.
        if (s.listeners.size === 0 && !this.live.has(userId) && this.subscriptions.get(userId) === s)
          this.subscriptions.delete(userId);
      },
    };
  }

  /** Live SSE subscribers (metrics, tests). */
  subscriberCount(): number {
    let n = 0;
    for (const s of this.subscriptions.values()) n += s.listeners.size;
    return n;
  }
}
