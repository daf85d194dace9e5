import { decode as standardDecode, encode as standardEncode, ExtData } from '@msgpack/msgpack';
import { Packr, Unpackr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame, encodeFrame } from './codec.ts';
import { exampleClientFrames, exampleServerFrames } from './examples.ts';

/** Walks a decoded value and fails on anything a plain MessagePack decoder should not produce. */
function assertPlain(value: unknown, path = '$'): void {
  expect(value, path).not.toBeInstanceOf(ExtData);
  expect(value, path).not.toBeInstanceOf(Date);
  if (Array.isArray(value)) value.forEach((v, i) => assertPlain(v, `${path}[${i}]`));
  else if (typeof value === 'object' && value !== null) {
    expect(Object.getPrototypeOf(value), path).toBe(Object.prototype);
    for (const [k, v] of Object.entries(value)) assertPlain(v, `${path}.${k}`);
  }
}

const allFrames = [...Object.values(exampleClientFrames), ...Object.values(exampleServerFrames)];

describe('interop - standard MessagePack (@msgpack/msgpack)', () => {
  it.each(allFrames.map((f) => [f.t, f]))(
    'interop - %s encoded by us decodes with @msgpack/msgpack',
    (_t, frame) => {
      // No extension codec registered: any msgpackr-only extension would surface as ExtData.
      const decoded = standardDecode(encodeFrame(frame), { useBigInt64: false });
      assertPlain(decoded);
      expect(decoded).toEqual(frame);
    },
  );

  it.each(Object.values(exampleClientFrames).map((f) => [f.t, f]))(
    'interop - client %s encoded by @msgpack/msgpack decodes with our codec',
    (_t, frame) => {
      expect(decodeClientFrame(standardEncode(frame))).toEqual({ ok: true, frame });
    },
  );

  it.each(Object.values(exampleServerFrames).map((f) => [f.t, f]))(
    'interop - server %s encoded by @msgpack/msgpack decodes with our codec',
    (_t, frame) => {
      expect(decodeServerFrame(standardEncode(frame))).toEqual({ ok: true, frame });
    },
  );

  it('interop - epoch-millisecond timestamps and float fields keep their values', () => {
    const frame = { t: 'pong', id: 4_000_000_000, server_time: 1_767_225_600_123 } as const;
    expect(standardDecode(encodeFrame(frame))).toEqual(frame);
    const progress = { ...exampleClientFrames.progress, bandwidth_kbps: 0.1 };
    expect(standardDecode(encodeFrame(progress))).toEqual(progress);
  });

  it('interop - our bytes are exactly what the standard encoder writes for the same frame', () => {
    // Same key order, smallest integer and string widths, 64-bit integers as integers.
    for (const frame of allFrames) {
      expect(Buffer.from(encodeFrame(frame)).toString('hex'), frame.t).toBe(
        Buffer.from(standardEncode(frame)).toString('hex'),
      );
    }
  });
});

describe('interop - msgpackr (standard mode)', () => {
  // int64AsType 'number': msgpackr would otherwise hand 64-bit integers (timestamps) back as BigInt.
  const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });
  const packr = new Packr({ useRecords: false });

  it.each(allFrames.map((f) => [f.t, f]))(
    'interop - %s round trips through msgpackr both ways',
    (_t, frame) => {
      expect(unpackr.unpack(encodeFrame(frame))).toEqual(frame);
      const decoded =
        frame.t in exampleClientFrames
          ? decodeClientFrame(packr.pack(frame))
          : decodeServerFrame(packr.pack(frame));
      expect(decoded).toEqual({ ok: true, frame });
    },
  );
});
