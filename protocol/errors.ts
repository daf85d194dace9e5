/**
 * Error codes of the `error` frame: a small stable set of codes (what kind of failure, what
 * the client should do) each narrowed by reasons (which failure exactly). Clients branch on
 * `code`; `reason` refines it and may grow over time, so clients must tolerate reasons they
 * do not know. Shared by server, client SDK and load tests.
 */
import type { ErrorFrame } from './messages.ts';

export interface ErrorCodeInfo {
  /** Whether retrying the same request later can succeed. */
  readonly retryable: boolean;
  readonly description: string;
}

export const ERROR_CODES = {
  bad_request: {
    retryable: false,
    description: 'The frame is malformed, too large, of an unknown type, or a field fails validation.',
  },
  unauthorized: {
    retryable: false,
    description: 'No valid session: hello missing, or the token is missing, invalid or expired.',
  },
  forbidden: {
    retryable: false,
    description: 'Authenticated but not allowed: rights, plan, ownership.',
  },
  not_found: {
    retryable: false,
    description: 'An id in the request names nothing known: track, context, device, play.',
  },
  conflict: {
    retryable: false,
    description:
      'The request contradicts the current state (stale play id, no active device, already said hello).',
  },
  rate_limited: {
    retryable: true,
    description: 'Too many requests on this connection; retry after `retry_after_ms`.',
  },
  unavailable: {
    retryable: true,
    description: 'A dependency (store, catalog, event log) is unreachable or the server is shutting down.',
  },
  internal: {
    retryable: true,
    description: 'An unexpected server fault; the session lives on. Reported, never a crash.',
  },
} as const satisfies Record<string, ErrorCodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Reasons per code. Documented in protocol/README.md. */
export const ERROR_REASONS = {
  bad_request: [
    'frame_too_large', // refused before decoding
    'malformed', // not decodable MessagePack (truncated, garbage)
    'not_a_map', // decodes, but not a map with a string `t`
    'unknown_type', // `t` names no frame type
    'invalid_field', // a field is missing, of the wrong type or out of range
    'text_frame', // a WebSocket text frame; the protocol is binary only
  ],
  unauthorized: ['hello_required', 'token_missing', 'token_invalid', 'token_expired'],
  forbidden: ['region_blocked', 'not_available', 'premium_required', 'not_owner', 'not_collaborator'],
  not_found: ['unknown_track', 'unknown_context', 'unknown_device', 'unknown_play'],
  conflict: [
    'already_authenticated',
    'stale_play',
    'no_active_device',
    'nothing_playing',
    'version_mismatch',
    'device_offline', // a transfer to a device that is not connected
    'too_many_pending', // too many commands wait for a play that is still being resolved
    'no_previous_track', // Web API `previous` at the first track (NO_PREV_TRACK); devices restart it
  ],
  rate_limited: ['too_many_requests'],
  unavailable: ['store_unavailable', 'catalog_unavailable', 'event_log_unavailable', 'shutting_down'],
  internal: [
    'unexpected',
    'unhandled_command', // a valid request the server has no handler for (a server bug): answered, never dropped
  ],
} as const satisfies { readonly [C in ErrorCode]: readonly string[] };

export type ErrorReason<C extends ErrorCode = ErrorCode> = (typeof ERROR_REASONS)[C][number];

/** A typed error, before it becomes a frame. */
export interface ProtocolErrorBody<C extends ErrorCode = ErrorCode> {
  code: C;
  reason: ErrorReason<C>;
  message: string;
  /** The request id the error answers, when it could be read. */
  id?: number;
  retry_after_ms?: number;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** Builds the `error` frame for an error body, omitting absent optional fields. */
export function errorFrame<C extends ErrorCode>(body: ProtocolErrorBody<C>): ErrorFrame {
  const frame: ErrorFrame = { t: 'error', code: body.code, reason: body.reason, message: body.message };
  if (body.id !== undefined) frame.id = body.id;
  if (body.retry_after_ms !== undefined) frame.retry_after_ms = body.retry_after_ms;
  return frame;
}
