import { describe, expect, it } from 'vitest';
import { createDecodedMemo } from './decoded-memo.ts';

/** A memo of JSON values that counts its decodes. */
function jsonMemo(maxBytes = 1024) {
  const decoded: string[] = [];
  const memo = createDecodedMemo<unknown>((raw) => {
    decoded.push(raw.toString());
    return JSON.parse(raw.toString()) as unknown;
  }, maxBytes);
  return { memo, decoded };
}

const bytes = (s: string) => Buffer.from(s);

describe('decoded memo', () => {
  it('decoded memo - equal bytes give the value decoded before, without decoding again', () => {
    const { memo, decoded } = jsonMemo();
    const first = memo.decode('k', bytes('{"a":1}'));
    expect(first).toEqual({ a: 1 });
    // Other Buffer objects with the same bytes, as each Redis reply is.
    expect(memo.decode('k', bytes('{"a":1}'))).toBe(first);
    expect(memo.decode('k', bytes('{"a":1}'))).toBe(first);
    expect(decoded).toEqual(['{"a":1}']);
  });

  it('decoded memo - changed bytes are decoded at once: the old value is never served', () => {
    const { memo, decoded } = jsonMemo();
    expect(memo.decode('k', bytes('{"a":1}'))).toEqual({ a: 1 });
    expect(memo.decode('k', bytes('{"a":2}'))).toEqual({ a: 2 });
    // Same length, one byte apart.
    expect(memo.decode('k', bytes('{"a":3}'))).toEqual({ a: 3 });
    expect(memo.decode('k', bytes('{"a":1}'))).toEqual({ a: 1 });
    expect(decoded).toHaveLength(4);
  });

  it('decoded memo - keys are apart: the same bytes under two keys, and different bytes under each', () => {
    const { memo } = jsonMemo();
    expect(memo.decode('x', bytes('"one"'))).toBe('one');
    expect(memo.decode('y', bytes('"two"'))).toBe('two');
    expect(memo.decode('x', bytes('"one"'))).toBe('one');
    expect(memo.decode('y', bytes('"one"'))).toBe('one');
  });

  it('decoded memo - bytes that do not decode give undefined, every time, and drop the value held', () => {
    const { memo, decoded } = jsonMemo();
    expect(memo.decode('k', bytes('{"a":1}'))).toEqual({ a: 1 });
    expect(memo.decode('k', bytes('{not json'))).toBeUndefined();
    expect(memo.decode('k', bytes('{not json'))).toBeUndefined();
    expect(decoded).toEqual(['{"a":1}', '{not json', '{not json']);
    // A parser that rejects a value by returning undefined is treated alike.
    const picky = createDecodedMemo((raw) => (raw.length > 3 ? raw.toString() : undefined), 100);
    expect(picky.decode('k', bytes('long'))).toBe('long');
    expect(picky.decode('k', bytes('no'))).toBeUndefined();
    expect(picky.bytes).toBe(0);
  });

  it('decoded memo - the bytes held stay within the bound, least recently used out first', () => {
    const { memo, decoded } = jsonMemo(40);
    // Each entry counts its raw bytes and its key: 8 + 2 + 1 = 11.
    memo.decode('k1', bytes('"aaaaaa"'));
    memo.decode('k2', bytes('"bbbbbb"'));
    memo.decode('k3', bytes('"cccccc"'));
    expect(memo.bytes).toBe(33);
    memo.decode('k1', bytes('"aaaaaa"')); // k1 now more recent than k2
    memo.decode('k4', bytes('"dddddd"')); // over 40: k2 goes
    expect(memo.bytes).toBeLessThanOrEqual(40);
    decoded.length = 0;
    memo.decode('k1', bytes('"aaaaaa"'));
    memo.decode('k2', bytes('"bbbbbb"'));
    expect(decoded).toEqual(['"bbbbbb"']);
    for (let i = 0; i < 100; i++) memo.decode(`many${i}`, bytes(`${i}`));
    expect(memo.bytes).toBeLessThanOrEqual(40);
  });

  it('decoded memo - a value larger than the bound is decoded and not kept', () => {
    const { memo, decoded } = jsonMemo(10);
    const big = `"${'x'.repeat(20)}"`;
    expect(memo.decode('k', bytes(big))).toBe('x'.repeat(20));
    expect(memo.decode('k', bytes(big))).toBe('x'.repeat(20));
    expect(decoded).toHaveLength(2);
    expect(memo.bytes).toBe(0);
  });

  it('decoded memo - values are deep-frozen: a reader cannot change what the next one gets', () => {
    const { memo } = jsonMemo();
    const v = memo.decode('k', bytes('{"a":{"b":[1,2]}}')) as { a: { b: number[] } };
    expect(() => {
      v.a.b.push(3);
    }).toThrow(TypeError);
    expect(() => {
      (v as { a: unknown }).a = null;
    }).toThrow(TypeError);
    expect(memo.decode('k', bytes('{"a":{"b":[1,2]}}'))).toEqual({ a: { b: [1, 2] } });
  });

  it('decoded memo - the bytes are copied: the source buffer reused for another reply changes nothing', () => {
    const { memo, decoded } = jsonMemo();
    const socketRead = bytes('{"a":1}{"a":2}');
    expect(memo.decode('k', socketRead.subarray(0, 7))).toEqual({ a: 1 });
    socketRead.write('{"a":9}', 0);
    expect(memo.decode('k', socketRead.subarray(0, 7))).toEqual({ a: 9 });
    expect(decoded).toHaveLength(2);
  });

  it('decoded memo - clear forgets every value', () => {
    const { memo, decoded } = jsonMemo();
    memo.decode('k', bytes('1'));
    memo.clear();
    expect(memo.bytes).toBe(0);
    expect(memo.decode('k', bytes('1'))).toBe(1);
    expect(decoded).toHaveLength(2);
  });
});
