/**
 * A strict MessagePack decoder for untrusted frames.
 *
 * It reads the standard types our wire uses (nil, booleans, integers, floats, strings,
 * binaries, arrays, maps with string keys) and refuses everything else: extension types
 * (msgpackr records, timestamps, anything), non-string map keys, nesting deeper than
 * MAX_DEPTH, declared lengths running past the end, and trailing bytes. Every refusal is a
 * thrown MessagePackError that codec.ts turns into `bad_request / malformed`; nothing else
 * escapes, and nothing allocates more than the input could justify (each array element or
 * map entry needs at least one byte, so declared counts are checked against what is left).
 *
 * Maps become plain objects; a `__proto__` key becomes an own property, never a prototype.
 * Why not msgpackr's Unpackr: it is about 1.5x slower than JSON.parse on our frames (its
 * per-call setup and record/extension handling dominate small frames); this reader does
 * only what the wire needs (loadtest/codec.bench.ts).
 */

export class MessagePackError extends Error {
  override readonly name = 'MessagePackError';
}

/** Deepest nesting of arrays/maps accepted; our frames nest 4 levels. */
export const MAX_DEPTH = 16;

/**
 * UTF-8 to string. Node's Buffer#utf8Slice (callable on any Uint8Array) is about twice as
 * fast as TextDecoder on short strings; browsers get TextDecoder. Both replace invalid
 * sequences with U+FFFD rather than throw, as JSON.parse of bad UTF-8 bytes would.
 */
type Utf8Slice = (this: Uint8Array, start: number, end: number) => string;
const nodeUtf8Slice: Utf8Slice | undefined =
  typeof Buffer === 'function'
    ? (Buffer.prototype as unknown as { utf8Slice?: Utf8Slice }).utf8Slice
    : undefined;
const textDecoder = new TextDecoder('utf-8');
const decodeUtf8: (buf: Uint8Array, start: number, end: number) => string = nodeUtf8Slice
  ? (buf, start, end) => nodeUtf8Slice.call(buf, start, end)
  : (buf, start, end) => textDecoder.decode(buf.subarray(start, end));
const KEY_SLOTS = 1024;
const keyCache: (string | undefined)[] = new Array<string | undefined>(KEY_SLOTS).fill(undefined);

export class MessagePackReader {
  private buf: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private pos = 0;
  private end = 0;

  /** Decodes exactly one value spanning all of `bytes`; throws MessagePackError otherwise. */
  decode(bytes: Uint8Array): unknown {
    this.buf = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = 0;
    this.end = bytes.byteLength;
    const value = this.read(0);
    if (this.pos !== this.end)
      throw new MessagePackError(`${this.end - this.pos} trailing bytes after the frame`);
    this.buf = EMPTY;
    return value;
  }

  /** Claims the next `n` bytes, returning where they start. */
  private take(n: number): number {
    const p = this.pos;
    if (p + n > this.end) throw new MessagePackError('unexpected end of data');
    this.pos = p + n;
    return p;
  }

  private u8(): number {
    return this.buf[this.take(1)]!;
  }

  private u16(): number {
    return this.view.getUint16(this.take(2));
  }

  private u32(): number {
    return this.view.getUint32(this.take(4));
  }

  private read(depth: number): unknown {
    const b = this.u8();
    if (b < 0x80) return b;
    if (b < 0x90) return this.readMap(b & 0x0f, depth);
    if (b < 0xa0) return this.readArray(b & 0x0f, depth);
    if (b < 0xc0) return this.readString(b & 0x1f);
    if (b >= 0xe0) return b - 0x100;
    switch (b) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
        return this.readBin(this.u8());
      case 0xc5:
        return this.readBin(this.u16());
      case 0xc6:
        return this.readBin(this.u32());
      case 0xca:
        return this.view.getFloat32(this.take(4));
      case 0xcb:
        return this.view.getFloat64(this.take(8));
      case 0xcc:
        return this.u8();
      case 0xcd:
        return this.u16();
      case 0xce:
        return this.u32();
      case 0xcf: {
        // Above 2^53 precision is lost, as with any JavaScript number; our integers stay below.
        const p = this.take(8);
        return this.view.getUint32(p) * 0x1_0000_0000 + this.view.getUint32(p + 4);
      }
      case 0xd0:
        return this.view.getInt8(this.take(1));
      case 0xd1:
        return this.view.getInt16(this.take(2));
      case 0xd2:
        return this.view.getInt32(this.take(4));
      case 0xd3: {
        const p = this.take(8);
        return this.view.getInt32(p) * 0x1_0000_0000 + this.view.getUint32(p + 4);
      }
      case 0xd9:
        return this.readString(this.u8());
      case 0xda:
        return this.readString(this.u16());
      case 0xdb:
        return this.readString(this.u32());
      case 0xdc:
        return this.readArray(this.u16(), depth);
      case 0xdd:
        return this.readArray(this.u32(), depth);
      case 0xde:
        return this.readMap(this.u16(), depth);
      case 0xdf:
        return this.readMap(this.u32(), depth);
      default:
        // 0xc1 (never used), 0xc7-0xc9 and 0xd4-0xd8 (extensions): not on our wire.
        throw new MessagePackError(`unsupported MessagePack type 0x${b.toString(16)}`);
    }
  }

  private readArray(n: number, depth: number): unknown[] {
    if (depth >= MAX_DEPTH) throw new MessagePackError('nesting too deep');
    if (n > this.end - this.pos) throw new MessagePackError('array longer than the data');
    const out = new Array<unknown>(n);
    for (let i = 0; i < n; i++) out[i] = this.read(depth + 1);
    return out;
  }

  private readMap(n: number, depth: number): Record<string, unknown> {
    if (depth >= MAX_DEPTH) throw new MessagePackError('nesting too deep');
    if (n * 2 > this.end - this.pos) throw new MessagePackError('map longer than the data');
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.readKey();
      const value = this.read(depth + 1);
      if (key === '__proto__')
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      else out[key] = value;
    }
    return out;
  }

  private readKey(): string {
    const b = this.u8();
    let n: number;
    if (b >= 0xa0 && b < 0xc0) n = b & 0x1f;
    else if (b === 0xd9) n = this.u8();
    else throw new MessagePackError('map keys must be strings');
    if (n > 0 && n <= 16) return this.readShortKey(n);
    return this.readString(n);
  }

  /**
   * Map keys repeat in every frame: a small direct-mapped cache (slot from length, first and
   * last byte) returns the same string object each time, verified byte by byte.
   */
  private readShortKey(n: number): string {
    const start = this.pos;
    if (start + n > this.end) throw new MessagePackError('unexpected end of data');
    const buf = this.buf;
    // Peek before claiming: on a miss readString claims the bytes itself.
    const slot = (n * 97 + buf[start]! * 31 + buf[start + n - 1]!) & (KEY_SLOTS - 1);
    const cached = keyCache[slot];
    if (cached !== undefined && cached.length === n && this.sameAscii(cached, start)) {
      this.pos = start + n;
      return cached;
    }
    const key = this.readString(n);
    if (key.length === n) keyCache[slot] = key; // ASCII only: one byte per unit
    return key;
  }

  private sameAscii(s: string, start: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== buf[start + i]) return false;
    return true;
  }

  private readString(n: number): string {
    const start = this.take(n);
    return decodeUtf8(this.buf, start, start + n);
  }

  private readBin(n: number): Uint8Array {
    const start = this.take(n);
    return this.buf.slice(start, start + n);
  }
}

const EMPTY = new Uint8Array(0);
