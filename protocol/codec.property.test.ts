import { encode as standardEncode } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeClientFrame, decodeServerFrame, encodeFrame, type DecodeResult } from './codec.ts';
import { exampleClientFrames, exampleServerFrames } from './examples.ts';
import { CLIENT_FRAME_TYPES, type ClientFrame } from './messages.ts';

const REASONS = ['frame_too_large', 'malformed', 'not_a_map', 'unknown_type', 'invalid_field'];

/** A refusal must be a well-formed bad_request; an acceptance must re-encode to the same frame. */
function assertWellFormed(result: DecodeResult<unknown>): void {
  if (result.ok) {
    expect(typeof (result.frame as { t: unknown }).t).toBe('string');
    return;
  }
  expect(result.error.code).toBe('bad_request');
  expect(REASONS).toContain(result.error.reason);
  expect(typeof result.error.message).toBe('string');
  if (result.error.id !== undefined) expect(Number.isInteger(result.error.id)).toBe(true);
}

const exampleBytes = Object.values(exampleClientFrames).map((f) => encodeFrame(f));

describe('codec - property: hostile input never throws', () => {
  it('codec - random bytes give bad_request, never an exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 512 }), (bytes) => {
        assertWellFormed(decodeClientFrame(bytes));
        assertWellFormed(decodeServerFrame(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('codec - random bytes starting with a map header give bad_request', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0x80, max: 0x8f }), fc.uint8Array({ maxLength: 256 }), (head, rest) => {
        const bytes = Uint8Array.from([head, ...rest]);
        assertWellFormed(decodeClientFrame(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it('codec - valid frames with random bytes flipped never throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...exampleBytes),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (bytes, flips) => {
          const copy = Uint8Array.from(bytes);
          for (const [at, value] of flips) copy[at % copy.length] = value;
          assertWellFormed(decodeClientFrame(copy));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('codec - any MessagePack value (from the standard encoder) gives a result, never an exception', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), (value) => {
        assertWellFormed(decodeClientFrame(standardEncode(value)));
      }),
      { numRuns: 2000 },
    );
  });

  it('codec - frames of a known type with random field values are accepted only if valid', () => {
    const fieldValue = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(
        fc.constantFrom(...CLIENT_FRAME_TYPES),
        fc.dictionary(
          fc.constantFrom(
            'id',
            'position_ms',
            'play_id',
            'uri',
            'mode',
            'on',
            'context',
            'uris',
            'percent',
            'token',
          ),
          fieldValue,
        ),
        (t, fields) => {
          const result = decodeClientFrame(standardEncode({ ...fields, t }));
          assertWellFormed(result);
          // Whatever is accepted must survive our own round trip unchanged.
          if (result.ok) expect(decodeClientFrame(encodeFrame(result.frame))).toEqual(result);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('codec - generated valid progress and seek frames round trip', () => {
    const progress = fc.record({
      t: fc.constant('progress' as const),
      id: fc.integer({ min: 0, max: 0xffff_ffff }),
      play_id: fc.string({ minLength: 1, maxLength: 64 }),
      position_ms: fc.integer({ min: 0, max: 2 ** 40 }),
      buffered_ms: fc.nat(),
      bandwidth_kbps: fc.double({ min: 0, max: 1e6, noNaN: true }),
    });
    const seek = fc.record({ t: fc.constant('seek' as const), id: fc.nat(), position_ms: fc.nat() });
    fc.assert(
      fc.property(fc.oneof(progress, seek), (frame: ClientFrame) => {
        expect(decodeClientFrame(encodeFrame(frame))).toEqual({ ok: true, frame });
      }),
      { numRuns: 2000 },
    );
  });

  it('codec - truncated server frames give bad_request on the client side', () => {
    for (const frame of Object.values(exampleServerFrames)) {
      const bytes = encodeFrame(frame);
      fc.assert(
        fc.property(fc.integer({ min: 0, max: bytes.byteLength - 1 }), (n) => {
          const result = decodeServerFrame(bytes.subarray(0, n));
          expect(result).toMatchObject({ ok: false, error: { code: 'bad_request', reason: 'malformed' } });
        }),
        { numRuns: 100 },
      );
    }
  });
});
