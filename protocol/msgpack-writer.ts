/**
 * A small MessagePack encoder for our frames: plain objects, arrays, strings, numbers,
 * booleans, null and byte arrays, written in the standard format with the smallest width
 * for every integer (integers beyond 32 bits as uint64/int64, not as float64 as msgpackr
 * writes them, so typed decoders in Go, Rust or Java read timestamps as integers).
 *
 * Why not msgpackr's Packr: it is generic (records, extensions, reference tracking behind
 * option checks) and turns > 32-bit integers into floats; this writer only does what our
 * wire needs, which makes encoding roughly twice as fast (loadtest/codec.bench.ts).
 * Decoding stays with msgpackr's Unpackr, which is hardened against hostile input.
 *
 * Output goes into a shared slab; each call returns a subarray the caller may keep (later
 * calls write after it, and a full slab is replaced, never reused).
 */

const SLAB_BYTES = 64 * 1024;

/**
 * Node's Buffer writes a string's UTF-8 natively (`utf8Write`), several times faster than
 * a loop over char codes for the long strings of our frames (signed URLs, ~150 bytes):
 * used when present, so the same writer still runs in a browser (the client SDK).
 */
type NativeSlab = Uint8Array & { utf8Write(s: string, offset: number, length: number): number };
const NodeBuffer = (globalThis as { Buffer?: { allocUnsafeSlow(n: number): Uint8Array } }).Buffer;
const allocSlab = (n: number): Uint8Array => (NodeBuffer ? NodeBuffer.allocUnsafeSlow(n) : new Uint8Array(n));
const hasNativeUtf8 = (b: Uint8Array): b is NativeSlab =>
  typeof (b as Partial<NativeSlab>).utf8Write === 'function';
/** Strings at least this long go to the native writer; shorter ones are cheaper in the loop. */
const NATIVE_MIN_LENGTH = 24;

export class MessagePackWriter {
  /** Arrays marked by `remember`: their bytes are kept after their first encoding. */
  private readonly remembered = new WeakSet<readonly unknown[]>();
  private readonly encoded = new WeakMap<readonly unknown[], Uint8Array>();
  private buf = allocSlab(SLAB_BYTES);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  private pos = 0;
  private start = 0;

  /**
   * Marks an array that will not change and is written often (the signed URLs of a file,
   * shared by every play of it): it is encoded once, and later frames copy those bytes.
   * Kept only as long as the array itself.
   */
  remember(items: readonly unknown[]): void {
    this.remembered.add(items);
  }

  /** Encodes `value`; fields whose value is `undefined` are left out of maps. */
  encode(value: unknown): Uint8Array {
    this.start = this.pos;
    if (this.buf.length - this.pos < 1024) this.newSlab(SLAB_BYTES);
    this.write(value);
    // A plain Uint8Array view, whatever the slab is: a Buffer's `slice()` does not copy,
    // and callers copy frames they keep with `slice()`.
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.start, this.pos - this.start);
  }

  private newSlab(minBytes: number): void {
    const size = Math.max(SLAB_BYTES, minBytes);
    const inFlight = this.buf.subarray(this.start, this.pos);
    const next = allocSlab(size);
    next.set(inFlight);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
    this.pos = inFlight.length;
    this.start = 0;
  }

  /** Makes room for `n` more bytes. */
  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.newSlab((this.pos - this.start + n) * 2);
  }

  private write(value: unknown): void {
    switch (typeof value) {
      case 'string':
        return this.writeString(value);
      case 'number':
        return this.writeNumber(value);
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = value ? 0xc3 : 0xc2;
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = 0xc0;
        return;
      case 'object':
        if (value === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xc0;
        } else if (Array.isArray(value)) this.writeArray(value);
        else if (value instanceof Uint8Array) this.writeBin(value);
        else this.writeMap(value as Record<string, unknown>);
        return;
      default:
        throw new TypeError(`cannot encode a ${typeof value} in a frame`);
    }
  }

  private writeNumber(n: number): void {
    this.ensure(9);
    if (!Number.isInteger(n)) return this.writeFloat(n);
    if (n >= 0) {
      if (n < 0x80) this.buf[this.pos++] = n;
      else if (n < 0x100) this.put8(0xcc, n);
      else if (n < 0x10000) this.put16(0xcd, n);
      else if (n < 0x1_0000_0000) this.put32(0xce, n);
      else if (n <= Number.MAX_SAFE_INTEGER) {
        this.put32(0xcf, Math.floor(n / 0x1_0000_0000));
        this.view.setUint32(this.pos, n >>> 0);
        this.pos += 4;
      } else this.writeFloat(n);
    } else if (n >= -0x20) this.buf[this.pos++] = n & 0xff;
    else if (n >= -0x80) this.put8(0xd0, n & 0xff);
    else if (n >= -0x8000) this.put16(0xd1, n & 0xffff);
    else if (n >= -0x8000_0000) this.put32(0xd2, n >>> 0);
    else if (n >= Number.MIN_SAFE_INTEGER) {
      this.buf[this.pos++] = 0xd3;
      this.view.setBigInt64(this.pos, BigInt(n));
      this.pos += 8;
    } else this.writeFloat(n);
  }

  /** A type byte and a one-, two- or four-byte big-endian unsigned value (room ensured by the caller). */
  private put8(code: number, v: number): void {
    this.buf[this.pos++] = code;
    this.buf[this.pos++] = v;
  }

  private put16(code: number, v: number): void {
    this.buf[this.pos++] = code;
    this.view.setUint16(this.pos, v);
    this.pos += 2;
  }

  private put32(code: number, v: number): void {
    this.buf[this.pos++] = code;
    this.view.setUint32(this.pos, v);
    this.pos += 4;
  }

  private writeFloat(n: number): void {
    this.buf[this.pos++] = 0xcb;
    this.view.setFloat64(this.pos, n);
    this.pos += 8;
  }

  private writeString(s: string): void {
    const length = s.length;
    // Optimistic ASCII pass: then the byte length is the string length and the header is
    // known up front. On the first non-ASCII unit, start over with the exact UTF-8 length.
    const header = strHeaderBytes(length);
    // 4 spare bytes: see below.
    this.ensure(header + length + 4);
    const buf = this.buf;
    if (length >= NATIVE_MIN_LENGTH && hasNativeUtf8(buf)) {
      // Room for 4 bytes more than units: a string with any non-ASCII unit is at least one
      // byte longer than its units, and the write stops only where a character (<= 4 bytes)
      // does not fit, so it writes more than `length` bytes. Exactly `length`: all ASCII.
      const written = buf.utf8Write(s, this.pos + header, length + 4);
      if (written === length) {
        this.writeStrHeader(length);
        this.pos += length;
        return;
      }
      return this.writeUtf8String(s);
    }
    let p = this.pos + header;
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return this.writeUtf8String(s);
      buf[p++] = c;
    }
    this.writeStrHeader(length);
    this.pos = p;
  }

  private writeUtf8String(s: string): void {
    const n = utf8Length(s);
    this.ensure(5 + n);
    this.writeStrHeader(n);
    this.pos += textEncoder.encodeInto(s, this.buf.subarray(this.pos)).written;
  }

  /** Writes the str header for `n` bytes at `pos`, advancing `pos` past it. */
  private writeStrHeader(n: number): void {
    if (n < 32) this.buf[this.pos++] = 0xa0 | n;
    else if (n < 0x100) this.put8(0xd9, n);
    else if (n < 0x10000) this.put16(0xda, n);
    else this.put32(0xdb, n);
  }

  private writeArray(items: unknown[]): void {
    const known = this.encoded.get(items);
    if (known !== undefined) {
      this.ensure(known.length);
      this.buf.set(known, this.pos);
      this.pos += known.length;
      return;
    }
    // Offset from the frame start: a slab change while writing the items moves the frame.
    const rel = this.pos - this.start;
    const n = items.length;
    this.writeLengthHeader(n, 0x90, 0xdc);
    for (let i = 0; i < n; i++) this.write(items[i]);
    // A copy (`new Uint8Array(view)`), not a view that would pin the slab.
    if (this.remembered.has(items))
      this.encoded.set(items, new Uint8Array(this.buf.subarray(this.start + rel, this.pos)));
  }

  private writeMap(obj: Record<string, unknown>): void {
    // One pass: reserve a fixmap header, count present (not undefined) fields while writing,
    // then patch the header; a map of 16+ fields (none of ours) is shifted for a map16 header.
    this.ensure(1);
    // Offset from the frame start: a slab change while writing the fields moves the frame.
    const rel = this.pos++ - this.start;
    let n = 0;
    for (const key in obj) {
      const v = obj[key];
      if (v === undefined) continue;
      this.writeString(key);
      this.write(v);
      n++;
    }
    if (n < 16) {
      this.buf[this.start + rel] = 0x80 | n;
      return;
    }
    const extra = n < 0x10000 ? 2 : 4;
    this.ensure(extra);
    const base = this.start + rel;
    this.buf.copyWithin(base + 1 + extra, base + 1, this.pos);
    const end = this.pos + extra;
    this.pos = base;
    if (extra === 2) this.put16(0xde, n);
    else this.put32(0xdf, n);
    this.pos = end;
  }

  private writeLengthHeader(n: number, fix: number, wide16: number): void {
    this.ensure(5);
    if (n < 16) this.buf[this.pos++] = fix | n;
    else if (n < 0x10000) this.put16(wide16, n);
    else this.put32(wide16 + 1, n);
  }

  private writeBin(bytes: Uint8Array): void {
    const n = bytes.byteLength;
    this.ensure(5 + n);
    if (n < 0x100) this.put8(0xc4, n);
    else if (n < 0x10000) this.put16(0xc5, n);
    else this.put32(0xc6, n);
    this.buf.set(bytes, this.pos);
    this.pos += n;
  }
}

const textEncoder = new TextEncoder();

function strHeaderBytes(n: number): number {
  return n < 32 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
}

/** UTF-8 byte length of a string (lone surrogates count as U+FFFD, 3 bytes, as encodeInto writes them). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
