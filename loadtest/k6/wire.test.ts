/**
 * The k6 side of the wire, checked in Node: the UTF-8 polyfill against Node's own
 * TextEncoder/TextDecoder, frames against protocol/'s codec, and the bundled codec evaluated
 * in a context WITHOUT TextEncoder/TextDecoder, as k6 v1.8.1 runs it.
 */
import { runInNewContext } from 'node:vm';
import { build } from 'esbuild';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, encodeFrame as encodeServerFrame } from '../../protocol/codec.ts';
import { exampleClientFrames, exampleServerFrames } from '../../protocol/examples.ts';
import { Utf8Decoder, Utf8Encoder } from './text-codec.ts';
import { decodeFrame, encodeFrame } from './wire.ts';

describe('k6 text codec - UTF-8 polyfill', () => {
  const mine = { enc: new Utf8Encoder(), dec: new Utf8Decoder() };
  const node = { enc: new TextEncoder(), dec: new TextDecoder() };

  it('k6 text codec - encodes every string as TextEncoder does (lone surrogates included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        expect(mine.enc.encode(s)).toEqual(node.enc.encode(s));
      }),
      { numRuns: 500 },
    );
  });

  it('k6 text codec - decodes any bytes as TextDecoder does (U+FFFD for broken sequences)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        expect(mine.dec.decode(b)).toBe(node.dec.decode(b));
      }),
      { numRuns: 1000 },
    );
    expect(mine.dec.decode(new Uint8Array([0xe2, 0x82]))).toBe(node.dec.decode(new Uint8Array([0xe2, 0x82])));
    expect(mine.dec.decode(new Uint8Array(20_000).fill(0x61))).toBe('a'.repeat(20_000));
  });

  it('k6 text codec - encodeInto stops before a character that does not fit whole', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), fc.nat(80), (s, size) => {
        const a = new Uint8Array(size);
        const b = new Uint8Array(size);
        expect(mine.enc.encodeInto(s, a)).toEqual(node.enc.encodeInto(s, b));
        expect(a).toEqual(b);
      }),
      { numRuns: 500 },
    );
  });
});

describe('k6 wire - frames', () => {
  it('k6 wire - every client frame the script encodes decodes and validates on the server side', () => {
    for (const frame of Object.values(exampleClientFrames)) {
      const r = decodeClientFrame(encodeFrame(frame));
      expect(r.ok ? r.frame : r.error).toEqual(frame);
    }
  });

  it('k6 wire - every server frame decodes to the same object', () => {
    for (const frame of Object.values(exampleServerFrames)) {
      const bytes = encodeServerFrame(frame);
      const r = decodeFrame(bytes.slice().buffer);
      expect(r).toEqual({ ok: true, frame });
    }
  });

  it('k6 wire - garbage is reported, not thrown', () => {
    expect(decodeFrame(new Uint8Array([0xc1]))).toMatchObject({ ok: false });
    expect(decodeFrame(new Uint8Array([0x01]))).toEqual({
      ok: false,
      error: 'not a frame (a map with a string t)',
    });
  });

  it('k6 wire - the bundled codec runs where TextEncoder/TextDecoder do not exist', async () => {
    const out = await build({
      stdin: {
        contents: `import { encodeFrame, decodeFrame } from './wire.ts'; globalThis.wire = { encodeFrame, decodeFrame };`,
        resolveDir: import.meta.dirname,
        loader: 'ts',
      },
      bundle: true,
      write: false,
      format: 'iife',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      target: 'es2017',
    });
    // A fresh realm: every ES builtin, but no TextEncoder/TextDecoder (web APIs, as in k6 v1).
    const context: Record<string, unknown> = {};
    runInNewContext(out.outputFiles[0]!.text, context);
    expect(context.TextEncoder).toBeTypeOf('function'); // installed by the bundle
    const wire = context.wire as { encodeFrame: typeof encodeFrame; decodeFrame: typeof decodeFrame };
    // A long non-ASCII string goes through the TextEncoder path of @msgpack/msgpack (> 50 chars).
    const hello = {
      ...exampleClientFrames.hello,
      device: { id: 'd', name: 'Küche ♫ '.repeat(8), type: 'speaker' as const },
    };
    const r = decodeClientFrame(new Uint8Array(wire.encodeFrame(hello)));
    expect(r.ok ? r.frame : r.error).toEqual(hello);
    const playback = exampleServerFrames.playback;
    const back = wire.decodeFrame(
      new (runInNewContext('Uint8Array', context) as typeof Uint8Array)(encodeServerFrame(playback)),
    );
    expect(JSON.parse(JSON.stringify(back))).toEqual({ ok: true, frame: playback });
  });
});
