/**
 * The codec: frames <-> standard MessagePack bytes, with validation on the way in.
 *
 * Bytes are plain MessagePack (maps, arrays, strings, integers, floats, booleans, nil):
 * no extension types, no msgpackr records, so k6, browsers and other languages read them
 * with any conforming library (interop.test.ts checks both ways against @msgpack/msgpack
 * and msgpackr). Absent optional fields (`undefined`) are left out of maps, never encoded.
 *
 * The encoder and decoder are our own small ones (msgpack-writer.ts, msgpack-reader.ts),
 * not msgpackr's Packr/Unpackr: measured in the same run, msgpackr left the protocol path
 * below the JSON baseline (ratio ~0.74), wrote integers above 32 bits as float64 (typed
 * decoders then read timestamps as floats), and accepts extension types we never want
 * from a client. See protocol/README.md, "Codec choice".
 *
 * Decoding never throws: hostile bytes, wrong shapes and oversized frames become a typed
 * `bad_request` error with a reason, carrying the request id when it could be read, so the
 * server can answer the request and keep the connection. Size is checked before any byte
 * is parsed.
 */
import { MessagePackReader } from './msgpack-reader.ts';
import { MessagePackWriter } from './msgpack-writer.ts';
import type { ErrorReason } from './errors.ts';
import type { ClientFrame, Frame, ServerFrame } from './messages.ts';
import { CLIENT_VALIDATORS, SERVER_VALIDATORS, describeInvalid, type FrameValidator } from './validate.ts';
import { DEFAULT_MAX_CLIENT_FRAME_BYTES, DEFAULT_MAX_SERVER_FRAME_BYTES } from './version.ts';

export interface DecodeOptions {
  /** Frames longer than this many bytes are refused before decoding. */
  maxBytes?: number;
}

/** Why a frame was refused: always `bad_request`, narrowed by `reason`. */
export interface FrameError {
  code: 'bad_request';
  reason: Extract<
    ErrorReason<'bad_request'>,
    'frame_too_large' | 'malformed' | 'not_a_map' | 'unknown_type' | 'invalid_field'
  >;
  message: string;
  /** The request id, when the frame decoded far enough to read a valid one. */
  id?: number;
  /** The frame type tag, when it could be read. */
  t?: string;
}

export type DecodeResult<F> = { ok: true; frame: F } | { ok: false; error: FrameError };

// One writer and one reader per process: neither calls out while working, so no reentrancy.
const writer = new MessagePackWriter();
const reader = new MessagePackReader();

/**
 * Encodes a frame as standard MessagePack. The bytes stay valid (later calls never write
 * over them), but they are a view into a shared 64 KiB slab: send them and let them go. To
 * keep frames for long (a per-session cache of the last state), store `bytes.slice()`, or
 * each kept view pins a whole slab.
 */
export function encodeFrame(frame: Frame): Uint8Array {
  return writer.encode(frame);
}

/**
 * Marks an array that never changes and goes out in many frames (a file's signed URLs): the
 * encoder writes it once and copies those bytes into later frames (same bytes, no re-encoding).
 */
export function encodeOnce<T extends readonly unknown[]>(items: T): T {
  writer.remember(items);
  return items;
}

function refuse(
  reason: FrameError['reason'],
  message: string,
  id?: number,
  t?: string,
): { ok: false; error: FrameError } {
  const error: FrameError = { code: 'bad_request', reason, message };
  if (id !== undefined) error.id = id;
  if (t !== undefined) error.t = t;
  return { ok: false, error };
}

function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff;
}

function asBytes(input: Uint8Array | ArrayBuffer): Uint8Array {
  return input instanceof Uint8Array ? input : new Uint8Array(input);
}

/** Checks an already-decoded value against the validators of one direction. */
function check<F>(
  value: unknown,
  validators: ReadonlyMap<string, FrameValidator>,
  side: string,
): DecodeResult<F> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return refuse(
      'not_a_map',
      `a frame must be a MessagePack map, got ${value === null ? 'nil' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  const record = value as Record<string, unknown>;
  const id = isRequestId(record.id) ? record.id : undefined;
  const t = record.t;
  if (typeof t !== 'string') return refuse('not_a_map', 'a frame needs a string type tag `t`', id);
  const validator = validators.get(t);
  if (validator === undefined) {
    return refuse('unknown_type', `unknown ${side} frame type ${JSON.stringify(t.slice(0, 40))}`, id);
  }
  if (validator.check(value)) {
    const problem = validator.semantic?.(value);
    if (problem === undefined || problem === null) return { ok: true, frame: value as F };
    return refuse('invalid_field', `${t}: ${problem}`, id, t);
  }
  return refuse('invalid_field', `${t}: ${describeInvalid(validator, value)}`, id, t);
}

function decode<F>(
  input: Uint8Array | ArrayBuffer,
  maxBytes: number,
  validators: ReadonlyMap<string, FrameValidator>,
  side: string,
): DecodeResult<F> {
  const bytes = asBytes(input);
  if (bytes.byteLength > maxBytes) {
    return refuse('frame_too_large', `frame of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes}`);
  }
  if (bytes.byteLength === 0) return refuse('malformed', 'empty frame');
  let value: unknown;
  try {
    value = reader.decode(bytes);
  } catch (err) {
    // Truncated input, garbage, extension types, trailing bytes, absurd nesting: all malformed.
    const detail = err instanceof Error ? err.message.slice(0, 120) : 'undecodable';
    return refuse('malformed', `not a valid MessagePack frame: ${detail}`);
  }
  return check<F>(value, validators, side);
}

/** Decodes and validates a client->server frame. Never throws. */
export const decodeClientFrame = (input: Uint8Array | ArrayBuffer, options: DecodeOptions = {}) =>
  decode<ClientFrame>(input, options.maxBytes ?? DEFAULT_MAX_CLIENT_FRAME_BYTES, CLIENT_VALIDATORS, 'client');

/** Decodes and validates a server->client frame (for the client SDK). Never throws. */
export const decodeServerFrame = (input: Uint8Array | ArrayBuffer, options: DecodeOptions = {}) =>
  decode<ServerFrame>(input, options.maxBytes ?? DEFAULT_MAX_SERVER_FRAME_BYTES, SERVER_VALIDATORS, 'server');

/** Validates a client frame that is already an object (e.g. built in a test or a load script). */
export const validateClientFrame = (value: unknown) => check<ClientFrame>(value, CLIENT_VALIDATORS, 'client');

/** Validates a server frame that is already an object (e.g. before sending, in tests). */
export const validateServerFrame = (value: unknown) => check<ServerFrame>(value, SERVER_VALIDATORS, 'server');
