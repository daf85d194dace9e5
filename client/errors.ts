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

/** The socket closed (or was never open) before the request was answered. */
export class ConnectionClosedError extends Error {
  override readonly name = 'ConnectionClosedError';
  constructor(
    readonly closeCode: number,
    readonly closeReason: string,
  ) {
    super(`connection closed (${closeCode}${closeReason ? ` ${closeReason}` : ''})`);
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
