/**
 * A minimal EBML (Matroska/WebM) reader: just enough to find the top-level elements of an
 * encoded file and the few children ingest needs (cluster timestamps, blocks, the Opus
 * header). Reads from one in-memory buffer; never allocates copies of element bodies.
 */

export const EBML_ID = {
  EBML: 0x1a45dfa3,
  Segment: 0x18538067,
  SeekHead: 0x114d9b74,
  Info: 0x1549a966,
  TimestampScale: 0x2ad7b1,
  Tracks: 0x1654ae6b,
  TrackEntry: 0xae,
  CodecID: 0x86,
  CodecPrivate: 0x63a2,
  CodecDelay: 0x56aa,
  Audio: 0xe1,
  SamplingFrequency: 0xb5,
  Channels: 0x9f,
  Cluster: 0x1f43b675,
  Timestamp: 0xe7,
  SimpleBlock: 0xa3,
  BlockGroup: 0xa0,
  Block: 0xa1,
  DiscardPadding: 0x75a2,
  Cues: 0x1c53bb6b,
  Tags: 0x1254c367,
  Void: 0xec,
} as const;

/** Thrown on a malformed file; ingest reports it per file with code `bad_container`. */
export class EbmlError extends Error {
  override readonly name = 'EbmlError';
}

export interface EbmlElement {
  id: number;
  /** Offset of the element's first ID byte. */
  start: number;
  /** Offset of the first body byte. */
  dataStart: number;
  /** Offset one past the body (for an unknown-size element: the end of its parent). */
  end: number;
  /** True when the size field said "unknown" (live-style streams). */
  unknownSize: boolean;
}

/** Reads an EBML variable-length integer at `pos`: its value (marker bit removed) and width. */
export function readVint(buf: Uint8Array, pos: number): { value: number; width: number; allOnes: boolean } {
  const first = buf[pos];
  if (first === undefined) throw new EbmlError(`truncated vint at ${pos}`);
  let width = 1;
  let mask = 0x80;
  while (width <= 8 && (first & mask) === 0) {
    width++;
    mask >>= 1;
  }
  if (width > 8) throw new EbmlError(`invalid vint at ${pos}`);
  if (pos + width > buf.length) throw new EbmlError(`truncated vint at ${pos}`);
  let value = first & (mask - 1);
  let allOnes = value === mask - 1;
  for (let i = 1; i < width; i++) {
    const b = buf[pos + i]!;
    // Multiplication instead of shifts: sizes can exceed 32 bits.
    value = value * 256 + b;
    if (b !== 0xff) allOnes = false;
  }
  return { value, width, allOnes };
}

/** Reads an element ID (kept with its marker bits, as the spec writes IDs). */
function readId(buf: Uint8Array, pos: number): { id: number; width: number } {
  const { width } = readVint(buf, pos);
  if (width > 4) throw new EbmlError(`element id wider than 4 bytes at ${pos}`);
  let id = 0;
  for (let i = 0; i < width; i++) id = id * 256 + buf[pos + i]!;
  return { id, width };
}

/** The elements directly inside [from, to). An unknown-size element extends to `to`. */
export function readChildren(buf: Uint8Array, from: number, to: number): EbmlElement[] {
  const out: EbmlElement[] = [];
  let pos = from;
  while (pos < to) {
    const { id, width: idWidth } = readId(buf, pos);
    const size = readVint(buf, pos + idWidth);
    const dataStart = pos + idWidth + size.width;
    const unknownSize = size.allOnes;
    const end = unknownSize ? to : dataStart + size.value;
    if (end > to) throw new EbmlError(`element 0x${id.toString(16)} at ${pos} overruns its parent`);
    out.push({ id, start: pos, dataStart, end, unknownSize });
    pos = end;
  }
  return out;
}

export function findChild(buf: Uint8Array, parent: EbmlElement, id: number): EbmlElement | undefined {
  return readChildren(buf, parent.dataStart, parent.end).find((e) => e.id === id);
}

export function readUint(buf: Uint8Array, el: EbmlElement): number {
  let v = 0;
  for (let i = el.dataStart; i < el.end; i++) v = v * 256 + buf[i]!;
  return v;
}

export function readSint(buf: Uint8Array, el: EbmlElement): number {
  const len = el.end - el.dataStart;
  if (len === 0) return 0;
  const u = readUint(buf, el);
  const negative = (buf[el.dataStart]! & 0x80) !== 0;
  return negative ? u - 2 ** (8 * len) : u;
}

export function readString(buf: Uint8Array, el: EbmlElement): string {
  return Buffer.from(buf.buffer, buf.byteOffset + el.dataStart, el.end - el.dataStart)
    .toString('utf8')
    .replace(/\0+$/, '');
}

/** The 12-byte header of a Segment whose size is "unknown", for init segments fed to MSE. */
export function unknownSizeSegmentHeader(): Uint8Array {
  return Uint8Array.of(0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
}

/** Encodes an element size as the shortest EBML vint (all-ones is reserved for "unknown"). */
export function encodeSize(n: number): Uint8Array {
  for (let width = 1; width <= 8; width++) {
    if (n < 2 ** (7 * width) - 1) {
      const out = new Uint8Array(width);
      let v = n;
      for (let i = width - 1; i >= 0; i--) {
        out[i] = v % 256;
        v = Math.floor(v / 256);
      }
      out[0]! |= 0x80 >> (width - 1);
      return out;
    }
  }
  throw new EbmlError(`element size ${n} too large`);
}

/** Bytes of an element ID as written in files (IDs keep their marker bits). */
function idBytes(id: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.from(bytes);
}

/** Big-endian unsigned integer body, at least one byte. */
export function uintBody(n: number): Uint8Array {
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Uint8Array.from(bytes.length ? bytes : [0]);
}

/** Two's-complement signed integer body, shortest form. */
export function sintBody(n: number): Uint8Array {
  for (let len = 1; len <= 8; len++) {
    const lim = 2 ** (8 * len - 1);
    if (n >= -lim && n < lim) {
      const out = new Uint8Array(len);
      let v = n < 0 ? n + 2 * lim : n;
      for (let i = len - 1; i >= 0; i--) {
        out[i] = v % 256;
        v = Math.floor(v / 256);
      }
      return out;
    }
  }
  throw new EbmlError(`signed value ${n} too large`);
}

/** An element: ID, size and the concatenated body parts. */
export function element(id: number, ...body: Uint8Array[]): Uint8Array {
  const len = body.reduce((n, p) => n + p.length, 0);
  return concatBytes([idBytes(id), encodeSize(len), ...body]);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
