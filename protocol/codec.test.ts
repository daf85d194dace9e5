import { describe, expect, it } from 'vitest';
import {
  decodeClientFrame,
  decodeServerFrame,
  encodeFrame,
  validateClientFrame,
  validateServerFrame,
} from './codec.ts';
import { exampleClientFrames, exampleServerFrames } from './examples.ts';
import { CLIENT_FRAME_TYPES, SERVER_FRAME_TYPES, type ClientFrame } from './messages.ts';
import { CLIENT_SCHEMAS } from './schemas.ts';
import { DEFAULT_MAX_CLIENT_FRAME_BYTES } from './version.ts';

/** Extra valid client frames that exercise the optional fields the examples leave out. */
const variants: ClientFrame[] = [
  { t: 'play', id: 100, uris: ['spotify:track:a1', 'spotify:track:b2'], offset: { uri: 'spotify:track:b2' } },
  { t: 'play', id: 101, context: 'spotify:album:4aawyAB9vmqN3uQ7FjRGTy' },
  { t: 'volume', id: 102, percent: 0, device_id: 'dev-laptop-1' },
  { t: 'transfer', id: 103, device_id: 'dev-laptop-1' },
  { t: 'hello', id: 104, token: 't', device: { id: 'd', name: 'n', type: 'web' }, protocol: 1 },
];

const allClientFrames: ClientFrame[] = [...Object.values(exampleClientFrames), ...variants];

describe('codec - round trip', () => {
  it.each(CLIENT_FRAME_TYPES.map((t) => [t]))('codec - client frame %s survives encode and decode', (t) => {
    const frame = exampleClientFrames[t];
    const result = decodeClientFrame(encodeFrame(frame));
    expect(result).toEqual({ ok: true, frame });
  });

  it.each(SERVER_FRAME_TYPES.map((t) => [t]))('codec - server frame %s survives encode and decode', (t) => {
    const frame = exampleServerFrames[t];
    const result = decodeServerFrame(encodeFrame(frame));
    expect(result).toEqual({ ok: true, frame });
  });

  it('codec - variants with every optional field round trip', () => {
    for (const frame of variants) expect(decodeClientFrame(encodeFrame(frame))).toEqual({ ok: true, frame });
  });

  it('codec - accepts an ArrayBuffer as uWebSockets.js hands it over', () => {
    const bytes = encodeFrame(exampleClientFrames.seek);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    expect(decodeClientFrame(buffer)).toEqual({ ok: true, frame: exampleClientFrames.seek });
  });

  it('codec - encoded bytes stay intact after later encodes', () => {
    const first = encodeFrame(exampleClientFrames.ping);
    const snapshot = Uint8Array.from(first);
    for (let i = 0; i < 200; i++) encodeFrame(exampleServerFrames.playback);
    expect(Array.from(first)).toEqual(Array.from(snapshot));
  });

  it('codec - an optional field set to undefined is left out of the map', () => {
    const frame = { t: 'transfer', id: 7, device_id: 'd2', play: undefined } as const;
    const result = decodeClientFrame(encodeFrame(frame));
    expect(result).toEqual({ ok: true, frame: { t: 'transfer', id: 7, device_id: 'd2' } });
    expect(result.ok && 'play' in result.frame).toBe(false);
  });
});

describe('codec - client frame validation', () => {
  /** Every (path, value) of an object, nested objects included; arrays are leaves. */
  function fields(value: Record<string, unknown>, prefix: string[] = []): [string[], unknown][] {
    const out: [string[], unknown][] = [];
    for (const [key, v] of Object.entries(value)) {
      const path = [...prefix, key];
      out.push([path, v]);
      if (typeof v === 'object' && v !== null && !Array.isArray(v))
        out.push(...fields(v as Record<string, unknown>, path));
    }
    return out;
  }

  function withField(frame: ClientFrame, path: string[], value: unknown | typeof REMOVE): unknown {
    const copy = structuredClone(frame) as unknown as Record<string, unknown>;
    let target = copy;
    for (const key of path.slice(0, -1)) target = target[key] as Record<string, unknown>;
    if (value === REMOVE) delete target[path.at(-1)!];
    else target[path.at(-1)!] = value;
    return copy;
  }
  const REMOVE = Symbol('remove');

  /** Whether the schema of `t` requires the field at `path`. */
  function isRequired(t: ClientFrame['t'], path: string[]): boolean {
    let schema = CLIENT_SCHEMAS[t] as {
      required?: string[];
      properties?: Record<string, unknown>;
      anyOf?: unknown[];
    };
    for (const key of path.slice(0, -1)) {
      schema = schema.properties![key] as typeof schema;
      if (schema.anyOf) return true; // offset variants: each member requires its one field
    }
    return (schema.required ?? []).includes(path.at(-1)!);
  }

  function wrongTypeOf(value: unknown): unknown {
    if (typeof value === 'string') return 12345;
    if (typeof value === 'number') return 'not-a-number';
    if (typeof value === 'boolean') return 'yes';
    if (Array.isArray(value)) return 'not-a-list';
    return 'not-a-map';
  }

  const cases = allClientFrames.flatMap((frame) =>
    fields(frame as unknown as Record<string, unknown>)
      .filter(([path]) => path.join('.') !== 't')
      .map(([path, value]) => ({ frame, path, value, name: `${frame.t}#${frame.id} ${path.join('.')}` })),
  );

  it.each(cases.map((c) => [c.name, c]))('codec - %s with a wrong type is bad_request', (_name, c) => {
    const bad = withField(c.frame, c.path, wrongTypeOf(c.value));
    const result = decodeClientFrame(encodeFrame(bad as ClientFrame));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe('bad_request');
    expect(result.error.reason).toBe('invalid_field');
    // The request id is recovered so the error can answer the request (unless id is the bad field).
    expect(result.error.id).toBe(c.path.join('.') === 'id' ? undefined : c.frame.id);
    expect(result.error.message).toContain(c.frame.t);
  });

  it.each(cases.map((c) => [c.name, c]))(
    'codec - %s missing is refused exactly when required',
    (_name, c) => {
      const bad = withField(c.frame, c.path, REMOVE);
      const result = decodeClientFrame(encodeFrame(bad as ClientFrame));
      const required =
        isRequired(c.frame.t, c.path) ||
        // play needs one of context / uris: removing the only one present is refused too.
        (c.frame.t === 'play' && c.path.length === 1 && (c.path[0] === 'context' || c.path[0] === 'uris'));
      if (!required) {
        expect(result.ok).toBe(true);
        return;
      }
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error).toMatchObject({ code: 'bad_request', reason: 'invalid_field' });
      if (isRequired(c.frame.t, c.path) && c.path.length === 1)
        expect(result.error.message).toContain(c.path[0]);
    },
  );

  it('codec - out-of-range and non-finite numbers are refused', () => {
    const bad: unknown[] = [
      { ...exampleClientFrames.seek, position_ms: -1 },
      { ...exampleClientFrames.seek, position_ms: 1.5 },
      { ...exampleClientFrames.seek, position_ms: Number.NaN },
      { ...exampleClientFrames.progress, bandwidth_kbps: Number.POSITIVE_INFINITY },
      { ...exampleClientFrames.volume, percent: 101 },
      { ...exampleClientFrames.ping, id: -1 },
      { ...exampleClientFrames.ping, id: 2 ** 32 },
      { ...exampleClientFrames.repeat, mode: 'sometimes' },
      { ...exampleClientFrames.quality, quality: 'lossless' },
      { ...exampleClientFrames['queue.add'], uri: 'spotify:album:x' },
      { ...exampleClientFrames.play, context: 'spotify:track:x' },
      { t: 'play', id: 1, uris: [] },
      { t: 'play', id: 1, uris: Array.from({ length: 101 }, (_, i) => `spotify:track:t${i}`) },
      {
        ...exampleClientFrames.hello,
        device: { ...exampleClientFrames.hello.device, name: 'x'.repeat(257) },
      },
    ];
    for (const frame of bad) {
      const result = decodeClientFrame(encodeFrame(frame as ClientFrame));
      expect(result.ok, JSON.stringify(frame).slice(0, 120)).toBe(false);
      if (!result.ok) expect(result.error).toMatchObject({ code: 'bad_request', reason: 'invalid_field' });
    }
  });

  it('codec - play with both context and uris is refused', () => {
    const frame = { t: 'play', id: 9, context: 'spotify:album:a', uris: ['spotify:track:b'] };
    const result = decodeClientFrame(encodeFrame(frame as ClientFrame));
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'bad_request', reason: 'invalid_field', id: 9 },
    });
  });

  it('codec - unknown fields are ignored (forward compatibility)', () => {
    const frame = { ...exampleClientFrames.seek, future_field: { nested: true } };
    expect(decodeClientFrame(encodeFrame(frame as ClientFrame)).ok).toBe(true);
  });

  it('codec - unknown type tag is bad_request unknown_type with the id', () => {
    for (const t of ['dance', '__proto__', 'constructor', 'toString', 'welcome', '']) {
      const result = decodeClientFrame(encodeFrame({ t, id: 77 } as unknown as ClientFrame));
      expect(result).toMatchObject({
        ok: false,
        error: { code: 'bad_request', reason: 'unknown_type', id: 77 },
      });
    }
  });

  it('codec - a value that is not a map with a string t is bad_request not_a_map', () => {
    for (const value of [null, 42, 'play', [1, 2], { id: 3 }, { t: 5, id: 3 }]) {
      const result = decodeClientFrame(encodeFrame(value as unknown as ClientFrame));
      expect(result).toMatchObject({ ok: false, error: { code: 'bad_request', reason: 'not_a_map' } });
    }
  });

  it('codec - server frames are refused by the client-frame decoder and vice versa', () => {
    expect(decodeClientFrame(encodeFrame(exampleServerFrames.ack))).toMatchObject({
      ok: false,
      error: { reason: 'unknown_type' },
    });
    expect(decodeServerFrame(encodeFrame(exampleClientFrames.ping))).toMatchObject({
      ok: false,
      error: { reason: 'unknown_type' },
    });
  });

  it('codec - validate functions check already-decoded objects', () => {
    expect(validateClientFrame(exampleClientFrames.next).ok).toBe(true);
    expect(validateServerFrame(exampleServerFrames.state).ok).toBe(true);
    const badState = { t: 'state', state: { ...exampleServerFrames.state.state, is_playing: 'yes' } };
    expect(validateServerFrame(badState)).toMatchObject({ ok: false, error: { reason: 'invalid_field' } });
  });
});

describe('codec - hostile bytes', () => {
  it('codec - frames over the limit are refused before decoding', () => {
    // Valid bytes: a decoder would accept them, so a refusal proves the size check came first.
    const bytes = encodeFrame(exampleClientFrames.hello);
    const result = decodeClientFrame(bytes, { maxBytes: bytes.byteLength - 1 });
    expect(result).toMatchObject({ ok: false, error: { code: 'bad_request', reason: 'frame_too_large' } });
    expect(decodeClientFrame(bytes, { maxBytes: bytes.byteLength }).ok).toBe(true);
    const huge = new Uint8Array(DEFAULT_MAX_CLIENT_FRAME_BYTES + 1);
    expect(decodeClientFrame(huge)).toMatchObject({ ok: false, error: { reason: 'frame_too_large' } });
  });

  it('codec - every truncation of every frame is bad_request malformed', () => {
    for (const frame of allClientFrames) {
      const bytes = encodeFrame(frame);
      for (let n = 0; n < bytes.byteLength; n++) {
        const result = decodeClientFrame(bytes.subarray(0, n));
        expect(result.ok).toBe(false);
        if (!result.ok) expect(result.error).toMatchObject({ code: 'bad_request', reason: 'malformed' });
      }
    }
  });

  it('codec - trailing bytes after a frame are malformed', () => {
    const bytes = encodeFrame(exampleClientFrames.ping);
    const longer = new Uint8Array(bytes.byteLength + 1);
    longer.set(bytes);
    expect(decodeClientFrame(longer)).toMatchObject({ ok: false, error: { reason: 'malformed' } });
  });

  it('codec - absurd nesting and huge declared lengths do not throw', () => {
    const deep = new Uint8Array(16_000).fill(0x91); // [[[[...
    expect(decodeClientFrame(deep)).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    const bigArray = Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01]); // array32 of 4 billion
    expect(decodeClientFrame(bigArray)).toMatchObject({ ok: false, error: { reason: 'malformed' } });
    const bigString = Uint8Array.from([0xdb, 0x7f, 0xff, 0xff, 0xff, 0x61]); // str32 of 2 GiB
    expect(decodeClientFrame(bigString)).toMatchObject({ ok: false, error: { reason: 'malformed' } });
  });

  it('codec - a __proto__ key cannot pollute prototypes', () => {
    // fixmap(3): t="ping", id=1, "__proto__"={polluted: true}
    const enc = (s: string) => [0xa0 | s.length, ...Buffer.from(s)];
    const bytes = Uint8Array.from([
      0x83,
      ...enc('t'),
      ...enc('ping'),
      ...enc('id'),
      1,
      ...enc('__proto__'),
      0x81,
      ...enc('polluted'),
      0xc3,
    ]);
    const result = decodeClientFrame(bytes);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    if (result.ok) expect(Object.getPrototypeOf(result.frame)).toBe(Object.prototype);
  });
});
