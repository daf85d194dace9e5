/**
 * The k6 side of the wire: standard MessagePack frames through @msgpack/msgpack (pure JS, so
 * esbuild bundles it into the k6 script), speaking the frames of protocol/messages.ts.
 * Absent optional fields are omitted, never sent as nil (protocol/README.md).
 *
 * Speed matters here: k6 v1's JS engine (Sobek) interprets, ~0.3 us per loop step, so
 * decoding a 3 KiB `playback` with @msgpack/msgpack's JS UTF-8 loop took ~7 ms of k6 CPU and
 * capped a whole run at ~25 sessions/s. String values are therefore decoded raw (bytes) and
 * turned into strings by `utf8`, which sessions.js points at a native k6 path
 * (useUtf8Decoder); elsewhere (Node tests) the polyfill decodes them. Map keys stay with
 * msgpack's cached key decoder.
 */
import './text-codec-install.ts';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { ClientFrame, ServerFrame } from '../../protocol/messages.ts';
import { Utf8Decoder } from './text-codec.ts';
export { PROTOCOL_VERSION } from '../../protocol/version.ts';

export type Utf8Decode = (bytes: Uint8Array) => string;

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder({ rawStrings: true });
const fallback = new Utf8Decoder();
let utf8: Utf8Decode = (b) => fallback.decode(b);

/** Replaces the UTF-8 decoder of string values (k6: a native one; see sessions.js). */
export function useUtf8Decoder(fn: Utf8Decode): void {
  utf8 = fn;
}

/** A client frame as an ArrayBuffer holding exactly its bytes (what k6's `send` takes). */
export function encodeFrame(frame: ClientFrame): ArrayBuffer {
  const bytes = encoder.encode(frame);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export type Decoded = { ok: true; frame: ServerFrame } | { ok: false; error: string };

/** Turns the raw string values (Uint8Array; the protocol has no binary fields) into strings, in place. */
function strings(v: unknown): unknown {
  if (v instanceof Uint8Array) return utf8(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = strings(v[i]);
  } else if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    for (const k in o) o[k] = strings(o[k]);
  }
  return v;
}

/** Decodes a server frame; never throws (a load test counts bad frames, it does not crash). */
export function decodeFrame(data: ArrayBuffer | Uint8Array): Decoded {
  try {
    const value = strings(decoder.decode(data instanceof Uint8Array ? data : new Uint8Array(data)));
    if (typeof value !== 'object' || value === null || typeof (value as { t?: unknown }).t !== 'string') {
      return { ok: false, error: 'not a frame (a map with a string t)' };
    }
    return { ok: true, frame: value as ServerFrame };
  } catch (e) {
    return { ok: false, error: String(e) };
  }
}
