/**
 * Protocol version and the defaults of its limits.
 *
 * The version is an integer carried in `hello.protocol` and echoed in `welcome.protocol`.
 * It changes only when a frame changes incompatibly (a field removed, renamed or retyped, a
 * meaning changed). Adding an optional field or a new server frame type does not bump it:
 * clients ignore fields and frame types they do not know. A server accepts every version in
 * [MIN_PROTOCOL_VERSION, PROTOCOL_VERSION] and closes others with `unsupported_protocol`.
 */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

export function isSupportedProtocol(version: number): boolean {
  return Number.isInteger(version) && version >= MIN_PROTOCOL_VERSION && version <= PROTOCOL_VERSION;
}

/**
 * Default size limit of one client->server frame. Client frames are small: the largest is
 * `hello` (a JWT, ~1 KiB) or a `play` with a list of uris (capped at MAX_PLAY_URIS).
 */
export const DEFAULT_MAX_CLIENT_FRAME_BYTES = 16 * 1024;

/**
 * Default size limit of one server->client frame, checked by the client SDK. The largest is
 * `playback`: one signed URL per chunk (a 10-minute track in 2-second chunks is 300 URLs).
 */
export const DEFAULT_MAX_SERVER_FRAME_BYTES = 256 * 1024;

/** Most uris a `play` may list. */
export const MAX_PLAY_URIS = 100;

/** Longest string field accepted from a client (uris, ids, names), the token excepted. */
export const MAX_STRING_LENGTH = 256;

/** Longest token accepted in `hello`. */
export const MAX_TOKEN_LENGTH = 4096;
