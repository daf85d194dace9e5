/**
 * Minimal UTF-8 TextEncoder/TextDecoder for k6 v1.x, which has neither global (they arrive in
 * k6 v2.2.0). @msgpack/msgpack 3.x constructs both when its module loads and uses them for
 * strings past a length threshold (a JWT in `hello`, signed URLs in `playback`), so the
 * bundle installs these first when the runtime lacks them. Only what msgpack calls:
 * `encode`, `encodeInto` and `decode` of UTF-8; invalid input becomes U+FFFD as in WHATWG.
 */

export class Utf8Encoder {
  readonly encoding = 'utf-8';

  encode(input = ''): Uint8Array {
    const out = new Uint8Array(input.length * 3);
    return out.subarray(0, this.encodeInto(input, out).written);
  }

  /** Writes as much of `input` as fits whole into `dest`; WHATWG `encodeInto` semantics. */
  encodeInto(input: string, dest: Uint8Array): { read: number; written: number } {
    let read = 0;
    let written = 0;
    const n = input.length;
    while (read < n) {
      let cp = input.charCodeAt(read);
      let units = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && read + 1 < n) {
        const lo = input.charCodeAt(read + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          units = 2;
        }
      }
      // A lone surrogate is not encodable: U+FFFD, as TextEncoder does.
      if (units === 1 && cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
      const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
      if (written + size > dest.length) break;
      if (size === 1) dest[written++] = cp;
      else if (size === 2) {
        dest[written++] = 0xc0 | (cp >> 6);
        dest[written++] = 0x80 | (cp & 0x3f);
      } else if (size === 3) {
        dest[written++] = 0xe0 | (cp >> 12);
        dest[written++] = 0x80 | ((cp >> 6) & 0x3f);
        dest[written++] = 0x80 | (cp & 0x3f);
      } else {
        dest[written++] = 0xf0 | (cp >> 18);
        dest[written++] = 0x80 | ((cp >> 12) & 0x3f);
        dest[written++] = 0x80 | ((cp >> 6) & 0x3f);
        dest[written++] = 0x80 | (cp & 0x3f);
      }
      read += units;
    }
    return { read, written };
  }
}

export class Utf8Decoder {
  readonly encoding = 'utf-8';

  /** The WHATWG UTF-8 decoder state machine, so errors map to U+FFFD exactly as TextDecoder's. */
  decode(input?: ArrayBuffer | ArrayBufferView): string {
    if (input === undefined) return '';
    const b =
      input instanceof Uint8Array
        ? input
        : ArrayBuffer.isView(input)
          ? new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
          : new Uint8Array(input);
    const units: number[] = [];
    let out = '';
    const emit = (cp: number) => {
      if (cp >= 0x10000) {
        cp -= 0x10000;
        units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      } else units.push(cp);
      // fromCharCode takes its units as arguments: flush before the argument list grows large.
      if (units.length >= 4096) {
        out += String.fromCharCode(...units);
        units.length = 0;
      }
    };
    let needed = 0;
    let seen = 0;
    let cp = 0;
    let lower = 0x80;
    let upper = 0xbf;
    for (let i = 0; i < b.length; i++) {
      const byte = b[i]!;
      if (needed === 0) {
        if (byte <= 0x7f) emit(byte);
        else if (byte >= 0xc2 && byte <= 0xdf) {
          needed = 1;
          cp = byte & 0x1f;
        } else if (byte >= 0xe0 && byte <= 0xef) {
          if (byte === 0xe0) lower = 0xa0;
          if (byte === 0xed) upper = 0x9f;
          needed = 2;
          cp = byte & 0xf;
        } else if (byte >= 0xf0 && byte <= 0xf4) {
          if (byte === 0xf0) lower = 0x90;
          if (byte === 0xf4) upper = 0x8f;
          needed = 3;
          cp = byte & 0x7;
        } else emit(0xfffd);
        continue;
      }
      if (byte < lower || byte > upper) {
        // Broken sequence: one U+FFFD, and this byte starts afresh.
        needed = seen = cp = 0;
        lower = 0x80;
        upper = 0xbf;
        emit(0xfffd);
        i--;
        continue;
      }
      lower = 0x80;
      upper = 0xbf;
      cp = (cp << 6) | (byte & 0x3f);
      if (++seen === needed) {
        emit(cp);
        needed = seen = cp = 0;
      }
    }
    if (needed !== 0) emit(0xfffd);
    return out + String.fromCharCode(...units);
  }
}

/** Installs the polyfills where the runtime has no TextEncoder/TextDecoder (k6 < v2.2.0). */
export function installTextCodec(
  target: Record<string, unknown> = globalThis as unknown as Record<string, unknown>,
): void {
  if (typeof target.TextEncoder !== 'function') target.TextEncoder = Utf8Encoder;
  if (typeof target.TextDecoder !== 'function') target.TextDecoder = Utf8Decoder;
}
