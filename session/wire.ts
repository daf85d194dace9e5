/** Binds the socket layer's `Wire` to protocol/'s codec (decode + validate, encode). */
import { decodeClientFrame, encodeFrame } from '../protocol/codec.ts';
import type { Wire } from './device-socket.ts';

export function serverWire(maxFrameBytes: number): Wire {
  return {
    decode: (bytes) => decodeClientFrame(bytes, { maxBytes: maxFrameBytes }),
    encode: (frame) => encodeFrame(frame),
  };
}
