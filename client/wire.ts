/** The client SDK's codec: protocol/'s encoder, and the validating server-frame decoder. */
import { decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import type { ClientFrame, ServerFrame } from '../protocol/messages.ts';

export interface ClientWire {
  encode(frame: ClientFrame): Uint8Array;
  /** Throws on a frame that does not decode or validate (the SDK reports it as an error event). */
  decode(bytes: Uint8Array): ServerFrame;
}

export const clientWire: ClientWire = {
  encode: (frame) => encodeFrame(frame),
  decode: (bytes) => {
    const r = decodeServerFrame(bytes);
    if (!r.ok) throw new Error(`${r.error.reason}: ${r.error.message}`);
    return r.frame;
  },
};
