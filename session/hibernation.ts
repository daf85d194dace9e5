/**
 * Hibernation: a live session whose actor has had nothing to do for `afterMs` (no command,
 * nothing playing, no load in flight, no timer of its own due) has its session actor stopped
 * and kept as a compact encoding of its persisted snapshot (a hibernated session). The next
 * command to it (a frame of a device, a device saying hello or going away) resumes the actor
 * from that snapshot first, then hands it the command, so every device sees exactly what it
 * would have seen: same frames, same state versions, same play ids, same clock readings.
 *
 * It sits between the router and the actor starter (`hibernating(start)` is a `StartActor`
 * whose actors hibernate), so neither the router nor the machine knows of it:
 * - Activity is counted in sweep generations, not clock reads: a command stamps its actor
 *   with the current generation (a small integer, no heap number); one interval timer for
 *   the whole node bumps the generation and walks the awake actors from the least recently
 *   used, hibernating those quiet for `afterMs`. The awake set is kept in use order (an
 *   actor is moved to its end at most once per generation), so a sweep stops at the first
 *   actor still in use: it costs the actors it hibernates, not the node's session count.
 * - An actor that is not suspendable when its turn comes (it plays: its own timer runs) goes
 *   back to the end and is asked again `afterMs` later.
 * - A sweep works at most `SWEEP_SLICE_MS` at a time and yields to I/O between slices, so a
 *   whole node going quiet at once never holds the event loop.
 * - Saving a hibernated session (the registry's save and retire) reads its state without
 *   resuming it (`StartActor.persistSuspended`).
 * Its timer is the only one; the actors it stops have none (see `suspendable` in
 * app/session-actor.ts): the registry's own timers (saves, the session grace) run on.
 */
import { initialContext, type SessionContext } from '../actors/session-context.ts';
import type { SessionCommand } from '../actors/types.ts';
import type { SessionInput, SessionPorts } from '../actors/ports.ts';
import { MessagePackReader } from '../protocol/msgpack-reader.ts';
import { MessagePackWriter } from '../protocol/msgpack-writer.ts';
import type { SessionActorRef, StartActor } from './session-router.ts';

/** Default quiet time before a session hibernates (HIBERNATE_AFTER_MS). */
export const DEFAULT_HIBERNATE_AFTER_MS = 60_000;
/** Sweeps per `afterMs`: a session hibernates between (1 - 1/n) x afterMs and afterMs after its last command. */
const SWEEPS_PER_PERIOD = 8;
/** Longest stretch of hibernating done at once before yielding to I/O. */
const SWEEP_SLICE_MS = 4;

export interface HibernationOptions {
  /** Quiet time before a session hibernates; 0 turns hibernation off. */
  afterMs: number;
  /** Duration (ms) of each wake: decoding the snapshot and resuming the actor. */
  onWake?: (ms: number) => void;
  /** Called when the number of hibernated sessions changes. */
  onCount?: (hibernated: number) => void;
}

/** A suspended actor's state as hibernation reads it: XState's persisted snapshot of the session machine. */
interface SuspendedState {
  context: SessionContext;
}

const isSuspendedState = (v: unknown): v is SuspendedState =>
  typeof v === 'object' && v !== null && typeof (v as { context?: unknown }).context === 'object';

/** A fresh context: its values are the defaults that the encoding leaves out. */
const defaultContext = (): SessionContext =>
  initialContext({ userId: '', plan: 'free', country: '', epoch: 0, now: 0 });

/**
 * The encoding of a suspended actor: MessagePack (protocol/'s writer and reader: plain data,
 * integers kept exact) of its persisted snapshot, where the context's fields still at their
 * initial value are left out (an idle listener's context is mostly defaults: 708 bytes in
 * full, ~250 without them), held as a latin1 string, one byte per char: a string is one
 * on-heap object of 16 bytes plus its content, where a Uint8Array is a typed array, an
 * ArrayBuffer and an off-heap allocation, ~150 bytes before the first byte of content.
 */
export class SuspendedCodec {
  private readonly writer = new MessagePackWriter();
  private readonly reader = new MessagePackReader();
  private readonly defaults: Record<string, unknown> = { ...defaultContext() };
  /** The defaults that are objects, as JSON, for the few fields that may still equal them. */
  private readonly defaultJson: Record<string, string> = Object.fromEntries(
    Object.entries(this.defaults).map(([k, v]) => [k, JSON.stringify(v)]),
  );

  encode(state: unknown): string {
    let value = state;
    if (isSuspendedState(state)) {
      const context: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(state.context)) {
        if (!(k in this.defaults) || !this.isDefault(k, v)) context[k] = v;
      }
      value = { ...state, context };
    }
    const bytes = this.writer.encode(value);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }

  /** Cheap tests first: most fields differ by type, length or key count, or are primitives. */
  private isDefault(k: string, v: unknown): boolean {
    const d = this.defaults[k];
    if (d === null || typeof d !== 'object') return v === d;
    if (v === null || typeof v !== 'object') return false;
    if (Array.isArray(d)) return Array.isArray(v) && v.length === 0 && d.length === 0;
    if (Object.keys(v).length !== Object.keys(d).length) return false;
    return JSON.stringify(v) === this.defaultJson[k];
  }

  decode(encoded: string): unknown {
    const value = this.reader.decode(Buffer.from(encoded, 'latin1'));
    if (!isSuspendedState(value)) return value;
    // Fields in the context's own order, each default a fresh value.
    return { ...value, context: { ...defaultContext(), ...value.context } };
  }
}

export class Hibernation {
  /** Awake actors, least recently used first. */
  private readonly awake = new Set<HibernatingActor>();
  private generation = 0;
  private hibernatedCount = 0;
  private readonly quietGenerations: number;
  private readonly timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  readonly codec = new SuspendedCodec();

  constructor(private readonly opts: HibernationOptions) {
    if (!Number.isInteger(opts.afterMs) || opts.afterMs < 0)
      throw new RangeError(`afterMs must be an integer >= 0, got ${opts.afterMs}`);
    this.quietGenerations = SWEEPS_PER_PERIOD;
    if (opts.afterMs > 0) {
      this.timer = setInterval(() => this.tick(), Math.max(1, Math.floor(opts.afterMs / SWEEPS_PER_PERIOD)));
      this.timer.unref();
    }
  }

  /** Sessions hibernated now. */
  get hibernated(): number {
    return this.hibernatedCount;
  }

  /** `start`, with its actors hibernating when quiet (unchanged when hibernation is off). */
  wrap(start: StartActor): StartActor {
    if (this.opts.afterMs === 0) return start;
    // One binding per router (its ports), shared by its actors, so each holds one reference.
    const bindings = new WeakMap<SessionPorts, ActorBinding>();
    return (ports, input, onError, suspended) => {
      let binding = bindings.get(ports);
      if (!binding) bindings.set(ports, (binding = { hibernation: this, start, ports }));
      return new HibernatingActor(binding, onError, start(ports, input, onError, suspended));
    };
  }

  /**
   * Hibernates every awake session that can be now, however recently used (memory pressure,
   * tests); returns how many did.
   */
  hibernateNow(): number {
    let n = 0;
    for (const a of [...this.awake]) {
      if (a.hibernate()) {
        this.awake.delete(a);
        n++;
      }
    }
    return n;
  }

  /** Stops the sweeps (hibernated sessions stay as they are, and wake as usual). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** `a` was used now. */
  touch(a: HibernatingActor): void {
    if (a.generation === this.generation && this.awake.has(a)) return;
    this.awake.delete(a);
    a.generation = this.generation;
    this.awake.add(a);
  }

  forget(a: HibernatingActor): void {
    this.awake.delete(a);
  }

  counted(delta: number): void {
    this.hibernatedCount += delta;
    this.opts.onCount?.(this.hibernatedCount);
  }

  woke(ms: number): void {
    this.opts.onWake?.(ms);
  }

  private tick(): void {
    this.generation++;
    if (!this.sweeping) this.sweep();
  }

  /** Hibernates the actors quiet for `quietGenerations` sweeps, a time slice at a time. */
  private sweep(): void {
    this.sweeping = true;
    const until = performance.now() + SWEEP_SLICE_MS;
    const due = this.generation - this.quietGenerations;
    let n = 0;
    for (const a of this.awake) {
      if (a.generation > due) break;
      if (++n % 16 === 0 && performance.now() > until) {
        setImmediate(() => this.sweep());
        return;
      }
      this.awake.delete(a);
      if (!a.hibernate()) {
        // Busy (playing, loading): asked again a full period later.
        a.generation = this.generation;
        this.awake.add(a);
      }
    }
    this.sweeping = false;
  }
}

interface ActorBinding {
  hibernation: Hibernation;
  start: StartActor;
  ports: SessionPorts;
}

/**
 * A session actor that hibernates: the running actor, or its suspended state encoded. The
 * router holds it as its `SessionActorRef`.
 */
class HibernatingActor implements SessionActorRef {
  generation = 0;
  private actor: SessionActorRef | undefined;
  private suspended: string | undefined = undefined;
  private failed = false;

  constructor(
    private readonly binding: ActorBinding,
    private readonly onError: ((err: unknown) => void) | undefined,
    actor: SessionActorRef,
  ) {
    this.actor = actor;
    binding.hibernation.touch(this);
  }

  send(command: SessionCommand): boolean {
    const actor = this.actor ?? this.wake();
    if (!actor) return true; // the wake failed: the session is being dropped (onError)
    this.binding.hibernation.touch(this);
    return actor.send(command);
  }

  persist(): unknown {
    const { hibernation, start, ports } = this.binding;
    if (this.suspended !== undefined && start.persistSuspended) {
      return start.persistSuspended(hibernation.codec.decode(this.suspended), ports.now());
    }
    const actor = this.actor ?? this.wake();
    if (!actor) throw new Error('a hibernated session failed to wake; not saved');
    return actor.persist();
  }

  stop(): void {
    this.binding.hibernation.forget(this);
    if (this.suspended !== undefined) {
      this.suspended = undefined;
      this.binding.hibernation.counted(-1);
    }
    this.actor?.stop();
    this.actor = undefined;
  }

  /** Hibernates if the actor is suspendable; false (and it runs on) otherwise. */
  hibernate(): boolean {
    const actor = this.actor;
    if (!actor?.suspend) return false;
    const state = actor.suspend();
    if (state === undefined) return false;
    this.actor = undefined;
    try {
      this.suspended = this.binding.hibernation.codec.encode(state);
    } catch {
      // Not encodable (a bug): the actor resumes from the state itself, nothing is lost.
      this.actor = this.resume(state);
      return false;
    }
    this.binding.hibernation.counted(1);
    return true;
  }

  private wake(): SessionActorRef | undefined {
    if (this.failed || this.suspended === undefined) return undefined;
    const { hibernation } = this.binding;
    const started = performance.now();
    const encoded = this.suspended;
    this.suspended = undefined;
    hibernation.counted(-1);
    try {
      this.actor = this.resume(hibernation.codec.decode(encoded));
    } catch (err) {
      // As an actor fault: the router drops the session, and its devices reconnect into the
      // last saved snapshot.
      this.failed = true;
      this.onError?.(err);
      return undefined;
    }
    hibernation.woke(performance.now() - started);
    return this.actor;
  }

  /** The actor again, from its suspended state (its start input is not read then: the snapshot has it all). */
  private resume(state: unknown): SessionActorRef {
    const { start, ports } = this.binding;
    const c = (state as { context: SessionContext }).context;
    const input = { userId: c.userId, plan: c.plan, country: c.country, epoch: c.epoch };
    return start(ports, input, this.onError, state);
  }
}
