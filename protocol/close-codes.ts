/**
 * WebSocket close codes the server uses (4000-4999, the range RFC 6455 leaves to
 * applications). The range itself tells a client what to do, so even a code it does not
 * know is handled right:
 *
 *   4000-4399  reconnect  reconnect with backoff, resuming from the last state version
 *   4400-4499  reauth     get a fresh token, then reconnect and resume
 *   4500-4999  terminal   do not reconnect automatically (needs the user or a new build)
 *
 * Bad requests inside a healthy connection are NOT closes: they get an `error` frame and the
 * connection lives on. Closes are for conditions that make the socket itself unusable.
 */

export type CloseAction = 'reconnect' | 'reauth' | 'terminal';

export interface CloseCodeInfo {
  readonly code: number;
  readonly action: CloseAction;
  /** Sent as the close reason (ASCII, well under the 123-byte limit). */
  readonly reason: string;
  readonly description: string;
}

export const CLOSE_CODES = {
  server_shutdown: {
    code: 4000,
    action: 'reconnect',
    reason: 'server shutdown',
    description:
      'The server is stopping or draining; another node (or this one, restarted) takes the session.',
  },
  slow_consumer: {
    code: 4001,
    action: 'reconnect',
    reason: 'slow consumer',
    description: 'The client read too slowly: buffered outbound bytes passed the limit.',
  },
  frame_too_large: {
    code: 4002,
    action: 'reconnect',
    reason: 'frame too large',
    description:
      'An inbound frame exceeded the size limit. Only this socket closes; the session lives on. ' +
      'The client must drop the offending request, not resend it (reconnect resumes the session).',
  },
  hello_timeout: {
    code: 4003,
    action: 'reconnect',
    reason: 'hello timeout',
    description: 'No hello arrived within the allowed time after connecting.',
  },
  idle_timeout: {
    code: 4004,
    action: 'reconnect',
    reason: 'idle timeout',
    description: 'Nothing (not even a ping) arrived within the idle limit.',
  },
  flood: {
    code: 4005,
    action: 'reconnect',
    reason: 'flood',
    description:
      'The client kept sending past its rate limit after being told (more than `burst` refusals not paid back by accepted frames); ' +
      'reconnect only after a backoff of several seconds.',
  },
  session_reset: {
    code: 4006,
    action: 'reconnect',
    reason: 'session reset',
    description:
      'The session hit an internal fault and was dropped without saving; reconnect: it restarts from its last saved state.',
  },
  moved: {
    code: 4007,
    action: 'reconnect',
    reason: 'moved',
    description:
      'Reconnect now, elsewhere: this node is draining (a rolling restart) or the session moved to another node; ' +
      'reconnect at once (no backoff) to any node and resume: nothing acknowledged is lost.',
  },
  token_expired: {
    code: 4400,
    action: 'reauth',
    reason: 'token expired',
    description: 'The session token expired (at hello or while connected); reconnect with a fresh one.',
  },
  bad_token: {
    code: 4500,
    action: 'terminal',
    reason: 'bad token',
    description: 'The hello token is missing, malformed or its signature is wrong. No session was touched.',
  },
  unsupported_protocol: {
    code: 4501,
    action: 'terminal',
    reason: 'unsupported protocol',
    description: 'The hello protocol version is not supported by this server (see version.ts).',
  },
  replaced: {
    code: 4502,
    action: 'terminal',
    reason: 'replaced',
    description: 'Another connection said hello with the same device id; this one is superseded.',
  },
  logged_out: {
    code: 4503,
    action: 'terminal',
    reason: 'logged out',
    description: "This device sent `logout` (closed after its ack); the user's other devices go on.",
  },
  bad_hello: {
    code: 4504,
    action: 'terminal',
    reason: 'bad hello',
    description:
      'The hello frame failed validation (a client bug: the error frame before the close names the field).',
  },
} as const satisfies Record<string, CloseCodeInfo>;

export type CloseName = keyof typeof CLOSE_CODES;
export type CloseCode = (typeof CLOSE_CODES)[CloseName]['code'];

/** What a client should do after a close with `code`, known or not. */
export function closeAction(code: number): CloseAction | 'none' {
  if (code >= 4000 && code <= 4399) return 'reconnect';
  if (code >= 4400 && code <= 4499) return 'reauth';
  if (code >= 4500 && code <= 4999) return 'terminal';
  // Standard codes: 1000 normal, 1001 going away, 1006 abnormal (network), 1011 server error...
  // A network drop or server error is worth a reconnect; a normal close is not.
  if (code === 1000) return 'none';
  if (code === 1002 || code === 1003 || code === 1007 || code === 1008) return 'terminal';
  return 'reconnect';
}

const byCode = new Map<number, CloseCodeInfo>(Object.values(CLOSE_CODES).map((info) => [info.code, info]));

/** The table entry for a close code, if it is one of ours. */
export function closeInfo(code: number): CloseCodeInfo | undefined {
  return byCode.get(code);
}
