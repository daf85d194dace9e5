/**
 * How the radio is reached: over NATS request/reply (`npm run radio`), or in-process
 * (`npm start` embedded) behind the same port. Over NATS, instances subscribe to one subject in one queue
 * group, so NATS hands each request to one of them and a second instance shares the load.
 * A caller whose instance dies retries: the server drops a dead instance's subscription as
 * soon as its TCP connection closes, so the retry reaches a live one. Payloads are JSON
 * (small, readable with `nats req`); the answer is `{ok: true, trackIds, source}` or
 * `{ok: false, code, message}` for a request the service refuses.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import type { RadioRequest } from '../actors/types.ts';
import { parseRadioRequest, RadioRequestError, type RadioService } from './radio-service.ts';

export const DEFAULT_RADIO_SUBJECT = 'radio.autoplay';
export const RADIO_QUEUE_GROUP = 'radio';

export type RadioReply =
  | { ok: true; trackIds: string[]; source: string; instance: string }
  | { ok: false; code: 'bad_request' | 'internal'; message: string };

/** The radio is down, slow or refused the request: the session goes on without autoplay. */
export class RadioUnavailableError extends Error {
  readonly code = 'unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RadioUnavailableError';
  }
}

export interface ServeOptions {
  subject?: string;
  /** Names this instance in its answers (logs, and the tests that watch the load shared). */
  instance?: string;
  onError?: (err: unknown) => void;
}

/** Answers requests on `subject` in the radio queue group until the subscription ends. */
export function serveRadio(nc: NatsConnection, service: RadioService, opts: ServeOptions = {}): Subscription {
  const encoder = new TextEncoder();
  const instance = opts.instance ?? `radio-${process.pid}`;
  const reply = (msg: Msg, body: RadioReply) => {
    if (msg.reply) msg.respond(encoder.encode(JSON.stringify(body)));
  };
  return nc.subscribe(opts.subject ?? DEFAULT_RADIO_SUBJECT, {
    queue: RADIO_QUEUE_GROUP,
    callback: (err, msg) => {
      if (err) return opts.onError?.(err);
      void (async () => {
        let request: RadioRequest;
        try {
          request = parseRadioRequest(msg.json());
        } catch (e) {
          const message = e instanceof RadioRequestError ? e.message : 'request: not JSON';
          return reply(msg, { ok: false, code: 'bad_request', message });
        }
        try {
          const a = await service.answer(request);
          reply(msg, { ok: true, trackIds: a.trackIds, source: a.source, instance });
        } catch (e) {
          opts.onError?.(e);
          reply(msg, { ok: false, code: 'internal', message: 'the radio failed to answer' });
        }
      })();
    },
  });
}

export interface RadioClientOptions {
  subject?: string;
  /** Per attempt. */
  timeoutMs: number;
  /** Tries in all (the first and the retries). */
  attempts: number;
}

/**
 * The session actor's radio port over NATS. Rejects with `RadioUnavailableError` when no
 * attempt got an answer (no instance, timeouts) or the service refused the request; the
 * actor then tells the device and plays on without autoplay.
 */
export function natsRadioPort(
  connection: () => NatsConnection | undefined,
  opts: RadioClientOptions,
): (request: RadioRequest) => Promise<string[]> {
  const subject = opts.subject ?? DEFAULT_RADIO_SUBJECT;
  const encoder = new TextEncoder();
  return async (request) => {
    const payload = encoder.encode(JSON.stringify(request));
    let last: unknown;
    for (let attempt = 1; attempt <= opts.attempts; attempt++) {
      const nc = connection();
      if (!nc || nc.isClosed()) throw new RadioUnavailableError('radio: NATS is not connected');
      try {
        const msg = await nc.request(subject, payload, { timeout: opts.timeoutMs });
        const body = msg.json<RadioReply>();
        if (body.ok) return body.trackIds;
        throw new RadioUnavailableError(`radio refused the request: ${body.code}: ${body.message}`);
      } catch (e) {
        if (e instanceof RadioUnavailableError) throw e;
        last = e;
      }
    }
    throw new RadioUnavailableError(`radio: no answer in ${opts.attempts} attempts of ${opts.timeoutMs} ms`, {
      cause: last,
    });
  };
}

/** The in-process port (`npm start`, embedded): the same service, with the same deadline. */
export function embeddedRadioPort(
  service: RadioService,
  timeoutMs: number,
): (request: RadioRequest) => Promise<string[]> {
  return (request) =>
    new Promise<string[]>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new RadioUnavailableError(`radio: no answer in ${timeoutMs} ms`)),
        timeoutMs,
      );
      service.answer(request).then(
        (a) => {
          clearTimeout(timer);
          resolve(a.trackIds);
        },
        (e: unknown) => {
          clearTimeout(timer);
          reject(new RadioUnavailableError('radio failed to answer', { cause: e }));
        },
      );
    });
}
