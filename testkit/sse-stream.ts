/**
 * A Server-Sent Events stream read over fetch, for tests of the player's event stream: its
 * events in order (ids `<epoch>.<version>`), awaited by predicate with a timeout.
 */
import { withTimeout } from './raw-socket.ts';

export interface SseEvent {
  id: string;
  epoch: number;
  version: number;
  data: any;
}

export interface SseStream {
  events: SseEvent[];
  /** Resolves once `pred` holds over the events read so far; rejects after `waitMs`. */
  until(pred: () => boolean, what: string): Promise<void>;
  /** The response's status (0 until it has answered). */
  status(): number;
  close(): Promise<void>;
}

export function openSse(url: string, headers: Record<string, string>, waitMs = 5_000): SseStream {
  const ctrl = new AbortController();
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  let status = 0;
  const done = fetch(url, { headers, signal: ctrl.signal })
    .then(async (res) => {
      status = res.status;
      wake();
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buf = '';
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) return;
        buf += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          const id = /^id: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (id && data) {
            const [epoch, version] = id.split('.').map(Number) as [number, number];
            events.push({ id, epoch, version, data: JSON.parse(data) });
          }
          wake();
        }
      }
    })
    .catch(() => {});
  const until = (pred: () => boolean, what: string) =>
    withTimeout(
      new Promise<void>((resolve) => {
        const check = () => (pred() ? resolve() : void waiters.push(check));
        check();
      }),
      `${what}; got ${JSON.stringify(events.map((e) => e.id))}`,
      waitMs,
    );
  return {
    events,
    until,
    status: () => status,
    close: () => {
      ctrl.abort();
      return done;
    },
  };
}
