/**
 * Typed errors of the client SDK: a refused request carries the server's stable code and
 * reason; a request cut by a closing socket or a timeout has its own class.
 */
import type { ErrorFrame } from '../protocol/messages.ts';

/** The server answered a request with an `error` frame. */
export class SessionRequestError extends Error {
  override readonly name = 'SessionRequestError';
  readonly code: string;
  readonly reason: string | undefined;
  readonly requestId: number | undefined;
  readonly retryAfterMs: number | undefined;
  /** The server's human-readable message alone (`message` is prefixed with code/reason). */
  readonly detail: string;
  constructor(frame: ErrorFrame) {
    super(`${frame.code}${frame.reason ? `/${frame.reason}` : ''}: ${frame.message}`);
    this.detail = frame.message;
    this.code = frame.code;
    this.reason = frame.reason;
    this.requestId = frame.id;
    this.retryAfterMs = frame.retry_after_ms;
  }
}

/**
 * The socket closed (or was never open) before the request was answered. For a hello the
 * server refused with an `error` frame before closing, `refusal` carries that frame.
 */
export class ConnectionClosedError extends Error {
  override readonly name: string = 'ConnectionClosedError';
  constructor(
    readonly closeCode: number,
    readonly closeReason: string,
    readonly refusal?: SessionRequestError,
    options?: { cause?: unknown },
  ) {
    super(`connection closed (${closeCode}${closeReason ? ` ${closeReason}` : ''})`, options);
  }
}

/**
 * `close()` was called: `connect()` still in flight, and held or unanswered requests, reject
 * with this; no socket is opened afterwards.
 */
export class ClientClosedError extends ConnectionClosedError {
  override readonly name = 'ClientClosedError';
}

/** Why the client stopped for good (without `close()`). */
export type SessionEndReason =
  /** A close code whose action is terminal (4500-4999, 1002/1003/1007/1008). */
  | 'terminal_close'
  /** The server closed with 1000 (normal close, no action). */
  | 'normal_close'
  /** A reauth close (or an `unauthorized` hello) with a fixed token, or again with a fresh one. */
  | 'token_rejected'
  /** `reconnect.maxAttempts` attempts failed in a row. */
  | 'max_attempts'
  /** The connection was lost and `reconnect.enabled` is false. */
  | 'reconnect_disabled';

/**
 * The client stopped reconnecting for good: the `ended` event's payload, and what requests
 * held for the next connection reject with. `cause` is the last attempt's or close's error;
 * `closeCode` the last close code seen (1006 when the last failure was no close, e.g. a
 * hello timeout or a token provider that threw).
 */
export class SessionEndedError extends ConnectionClosedError {
  override readonly name = 'SessionEndedError';
  constructor(
    readonly reason: SessionEndReason,
    closeCode: number,
    closeReason: string,
    cause: Error,
  ) {
    super(closeCode, closeReason, undefined, { cause });
    this.message = `session ended (${reason}): ${cause.message}`;
  }
}

/** A command issued while (re)connecting found the hold queue full (it was not sent). */
export class CommandQueueFullError extends Error {
  override readonly name = 'CommandQueueFullError';
  constructor(
    readonly requestType: string,
    readonly limit: number,
  ) {
    super(`'${requestType}' not sent: ${limit} commands already wait for the connection`);
  }
}

/** No answer within the request timeout. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly requestType: string,
    readonly timeoutMs: number,
  ) {
    super(`'${requestType}' got no answer within ${timeoutMs} ms`);
  }
}

export type ChunkFetchErrorCode = 'network' | 'http_status' | 'size_mismatch' | 'hash_mismatch';

/**
 * A chunk could not be fetched intact: the request failed, the origin answered non-2xx, or
 * the bytes still disagreed with the chunk table after the one refetch.
 */
export class ChunkFetchError extends Error {
  override readonly name = 'ChunkFetchError';
  constructor(
    readonly code: ChunkFetchErrorCode,
    readonly path: string,
    message: string,
    readonly detail: { status?: number; expected?: number | string; actual?: number | string } = {},
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}
