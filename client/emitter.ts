/**
 * A tiny typed event emitter that runs the same in Node and browsers (no node:events).
 * A throwing listener is reported through `onHandlerError` and never breaks the others.
 */
export type EventHandler<T> = (payload: T) => void;

export class TypedEmitter<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, Set<EventHandler<never>>>();

  constructor(private readonly onHandlerError: (err: unknown) => void = () => {}) {}

  on<K extends keyof Events>(event: K, fn: EventHandler<Events[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn as EventHandler<never>);
    return () => this.off(event, fn);
  }

  once<K extends keyof Events>(event: K, fn: EventHandler<Events[K]>): () => void {
    const off = this.on(event, (p) => {
      off();
      fn(p);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, fn: EventHandler<Events[K]>): void {
    this.listeners.get(event)?.delete(fn as EventHandler<never>);
  }

  /**
   * Resolves with the next `event` whose payload passes `filter`; rejects after `timeoutMs`.
   * The way tests and the demo await events (never sleeps).
   */
  waitFor<K extends keyof Events>(
    event: K,
    opts: { timeoutMs?: number; filter?: (p: Events[K]) => boolean } = {},
  ): Promise<Events[K]> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for '${String(event)}'`));
      }, timeoutMs);
      const off = this.on(event, (p) => {
        if (opts.filter && !opts.filter(p)) return;
        clearTimeout(timer);
        off();
        resolve(p);
      });
    });
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        (fn as EventHandler<Events[K]>)(payload);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }
}
