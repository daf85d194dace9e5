import { decode as standardDecode, encode as standardEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, MessagePackError, MessagePackReader } from './msgpack-reader.ts';
import { MessagePackWriter } from './msgpack-writer.ts';

const writer = new MessagePackWriter();
const reader = new MessagePackReader();
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** Values our wire carries: JSON-like, with integers across every width and finite doubles. */
const wireValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.integer({ min: -70_000, max: 70_000 }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Object.is(d, -0)),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.string({ minLength: 200, maxLength: 400 }),
    fc.array(tie('value'), { maxLength: 20 }),
    fc.dictionary(
      fc.string({ maxLength: 12 }).filter((k) => k !== '__proto__'),
      tie('value'),
      { maxKeys: 20 },
    ),
  ),
})).value;

describe('msgpack - writer', () => {
  const boundaries = [
    0,
    1,
    127,
    128,
    255,
    256,
    65_535,
    65_536,
    2 ** 32 - 1,
    2 ** 32,
    Number.MAX_SAFE_INTEGER,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32_768,
    -32_769,
    -(2 ** 31),
    -(2 ** 31) - 1,
    Number.MIN_SAFE_INTEGER,
    0.5,
    -7.4,
    1e300,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
  ];

  it('msgpack - integers and floats at every width boundary match the standard encoder byte for byte', () => {
    for (const n of boundaries) expect(hex(writer.encode(n)), String(n)).toBe(hex(standardEncode(n)));
  });

  it('msgpack - integers beyond 32 bits are written as integers, not floats', () => {
    expect(writer.encode(1_767_225_600_123)[0]).toBe(0xcf);
    expect(writer.encode(-1_767_225_600_123)[0]).toBe(0xd3);
  });

  it('msgpack - strings at every header boundary and in any script match the standard encoder', () => {
    const strings = [
      '',
      'a',
      'x'.repeat(31),
      'x'.repeat(32),
      'x'.repeat(255),
      'x'.repeat(256),
      'x'.repeat(65_535),
      'x'.repeat(65_536),
    ];
    strings.push(
      'é'.repeat(15),
      'é'.repeat(16),
      'Björk – Jóga',
      '日本語のタイトル',
      '🎵🎶'.repeat(40),
      'a'.repeat(30) + 'é',
    );
    for (const s of strings) expect(hex(writer.encode(s)), `${s.length} units`).toBe(hex(standardEncode(s)));
  });

  it('msgpack - encoded bytes are a plain Uint8Array: slice() copies them off the shared slab', () => {
    const bytes = writer.encode({ t: 'ack', id: 1, long: 'x'.repeat(100) });
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype);
    const kept = bytes.slice();
    expect(kept.buffer.byteLength).toBe(bytes.byteLength);
  });

  it('msgpack - a remembered array is written with the same bytes in every frame, across slab changes', () => {
    const w = new MessagePackWriter();
    const urls = Array.from({ length: 40 }, (_, i) => `https://cdn.example/o/${'k'.repeat(60)}${i}?sig=${i}`);
    w.remember(urls);
    const frame = (pad: number) => ({ t: 'playback', pad: 'p'.repeat(pad), urls, n: pad });
    // Enough frames to roll over several 64 KiB slabs, the array at every offset in them.
    for (let pad = 0; pad < 600; pad += 7) {
      const f = frame(pad);
      expect(hex(w.encode(f)), `pad ${pad}`).toBe(hex(standardEncode(f)));
    }
  });

  it('msgpack - a lone surrogate becomes U+FFFD rather than invalid UTF-8', () => {
    expect(standardDecode(writer.encode('a\ud800b'))).toBe('a\ufffdb');
    expect(standardDecode(writer.encode('a'.repeat(40) + '\udc00'))).toBe('a'.repeat(40) + '\ufffd');
  });

  it('msgpack - long strings (the native write path) with non-ASCII anywhere match the standard bytes', () => {
    // The native path guesses ASCII; a string whose UTF-8 is longer than its units, by one
    // byte or by a character that does not fit at the end, must fall back exactly.
    const strings: string[] = [];
    for (const n of [24, 31, 32, 40, 255, 256]) {
      for (const c of ['é', '日', '🎵']) {
        strings.push(c + 'a'.repeat(n - c.length), 'a'.repeat(n - c.length) + c);
        strings.push('a'.repeat(n - 2 * c.length) + c + c, 'a'.repeat(Math.floor(n / 2)) + c + 'a'.repeat(n));
      }
    }
    for (const s of strings) expect(hex(writer.encode(s)), JSON.stringify(s)).toBe(hex(standardEncode(s)));
  });

  it('msgpack - maps of 16+ fields and arrays of 16+ items use the wide headers', () => {
    const map = Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`k${i}`, i]));
    const list = Array.from({ length: 70_000 }, (_, i) => i % 3);
    expect(hex(writer.encode(map))).toBe(hex(standardEncode(map)));
    expect(hex(writer.encode({ list }))).toBe(hex(standardEncode({ list })));
  });

  it('msgpack - undefined fields are left out, undefined items become nil', () => {
    expect(standardDecode(writer.encode({ a: 1, b: undefined, c: [undefined] }))).toEqual({
      a: 1,
      c: [null],
    });
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i % 2 ? undefined : i]));
    expect(standardDecode(writer.encode(many))).toEqual(
      Object.fromEntries(Object.entries(many).filter(([, v]) => v !== undefined)),
    );
  });

  it('msgpack - frames larger than a slab and frames crossing slab ends stay intact', () => {
    const kept: [Uint8Array, unknown][] = [];
    for (let i = 0; i < 400; i++) {
      const value = {
        i,
        s: 'é'.repeat(i * 37),
        nested: Object.fromEntries(Array.from({ length: 17 }, (_, k) => [`f${k}`, 'v'.repeat(i)])),
      };
      kept.push([writer.encode(value), value]);
    }
    kept.push([writer.encode({ big: 'z'.repeat(300_000) }), { big: 'z'.repeat(300_000) }]);
    for (const [bytes, value] of kept) expect(standardDecode(bytes)).toEqual(value);
  });

  it('msgpack - property: any wire value encodes exactly as the standard encoder does', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        expect(hex(writer.encode(value))).toBe(hex(standardEncode(value)));
      }),
      { numRuns: 1500 },
    );
  });
});

describe('msgpack - reader', () => {
  // int64AsType: msgpackr would otherwise read our 64-bit integers (timestamps) as BigInt.
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  const packr = new Packr({ useRecords: false });

  it('msgpack - property: reads what the standard encoder and msgpackr write', () => {
    fc.assert(
      fc.property(wireValue, (value) => {
        expect(reader.decode(standardEncode(value))).toEqual(value);
        expect(reader.decode(packr.pack(value))).toEqual(value);
        expect(unpackr.unpack(writer.encode(value))).toEqual(value);
      }),
      { numRuns: 1500 },
    );
  });

  it('msgpack - float32 values are read', () => {
    expect(reader.decode(Uint8Array.from([0xca, 0x3f, 0xc0, 0x00, 0x00]))).toBe(1.5);
  });

  it('msgpack - binary values are copied out of the input', () => {
    const input = standardEncode({ b: Uint8Array.from([1, 2, 3]) });
    const out = reader.decode(input) as { b: Uint8Array };
    input.fill(0);
    expect(Array.from(out.b)).toEqual([1, 2, 3]);
  });

  it('msgpack - extension types, non-string keys, deep nesting and trailing bytes are refused', () => {
    const refused: [string, Uint8Array][] = [
      ['timestamp ext', Uint8Array.from([0xd6, 0xff, 0, 0, 0, 1])],
      ['fixext1', Uint8Array.from([0xd4, 0x72, 0x00])],
      ['ext8', Uint8Array.from([0xc7, 0x01, 0x05, 0x00])],
      ['never-used 0xc1', Uint8Array.from([0xc1])],
      ['integer key', Uint8Array.from([0x81, 0x01, 0x02])],
      ['nil key', Uint8Array.from([0x81, 0xc0, 0x02])],
      ['too deep', new Uint8Array(MAX_DEPTH + 1).fill(0x91)],
      ['trailing', Uint8Array.from([0xc0, 0xc0])],
      ['empty', new Uint8Array(0)],
      ['map count past the end', Uint8Array.from([0xdf, 0x7f, 0xff, 0xff, 0xff])],
    ];
    for (const [name, bytes] of refused) expect(() => reader.decode(bytes), name).toThrow(MessagePackError);
  });

  it('msgpack - nesting up to the limit is read', () => {
    const bytes = Uint8Array.from([...new Array(MAX_DEPTH).fill(0x91), 0xc0]);
    expect(() => reader.decode(bytes)).not.toThrow();
  });

  it('msgpack - property: any bytes either decode or throw MessagePackError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          reader.decode(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(MessagePackError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('msgpack - a __proto__ key is an own property, not a prototype', () => {
    const out = reader.decode(standardEncode(JSON.parse('{"__proto__": {"polluted": true}}'))) as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
