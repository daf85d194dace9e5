/**
 * The k6 side of the wire: standard MessagePack frames through @msgpack/msgpack (pure JS, so
 * esbuild bundles it into the k6 script), speaking the frames of protocol/messages.ts.
 * Absent optional fields are omitted, never sent as nil (protocol/README.md).
 */
import './text-codec-install.ts';
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { ClientFrame, ServerFrame } from '../../protocol/messages.ts';
export { PROTOCOL_VERSION } from '../../protocol/version.ts';

const encoder = new Encoder({ ignoreUndefined: true });
const decoder = new Decoder();

/** A client frame as an ArrayBuffer holding exactly its bytes (what k6's `send` takes). */
export function encodeFrame(frame: ClientFrame): ArrayBuffer {
  const bytes = encoder.encode(frame);
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

export type Decoded = { ok: true; frame: ServerFrame } | { ok: false; error: string };

/** Decodes a server frame; never throws (a load test counts bad frames, it does not crash). */
export function decodeFrame(data: ArrayBuffer | Uint8Array): Decoded {
  try {
    const value = decoder.decode(data instanceof Uint8Array ? data : new Uint8Array(data));
    if (typeof value !== 'object' || value === null || typeof (value as { t?: unknown }).t !== 'string') {
      return { ok: false, error: 'not a frame (a map with a string t)' };
    }
    return { ok: true, frame: value as ServerFrame };
  } catch (e) {
    return { ok: false, error: String(e) };
  }
}
