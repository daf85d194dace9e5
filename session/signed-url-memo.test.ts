import { describe, expect, it } from 'vitest';
import { memoizeSigner } from './signed-url-memo.ts';
import { UrlSigner } from '../protocol/url-signer.ts';

const signer = new UrlSigner({ activeKid: 'k1', keys: { k1: 'a-test-signing-key-of-at-least-32-bytes!' } });

describe('signed url memo', () => {
  it('signed url memo - answers exactly what the signer answers, for every path and expiry', () => {
    const memo = memoizeSigner((p, e) => signer.sign(p, e), 3);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) {
        const path = `/a/objects/${i % 4}`;
        const exp = 1_800_000_000_000 + (i % 3) * 60_000;
        expect(memo(path, exp)).toBe(signer.sign(path, exp));
      }
    }
  });

  it('signed url memo - signs a repeated path and expiry once', () => {
    let calls = 0;
    const memo = memoizeSigner((p, e) => {
      calls++;
      return `${p}?exp=${e}`;
    });
    for (let i = 0; i < 100; i++) memo('/a/objects/x', 1000);
    memo('/a/objects/x', 2000);
    expect(calls).toBe(2);
  });

  it('signed url memo - keeps at most two generations, so old entries are signed again', () => {
    let calls = 0;
    const memo = memoizeSigner((p) => {
      calls++;
      return p;
    }, 2);
    for (const p of ['a', 'b', 'c', 'd', 'e']) memo(p, 1);
    calls = 0;
    memo('a', 1); // two generations later: gone
    memo('e', 1); // young: kept
    expect(calls).toBe(1);
  });

  it('signed url memo - refuses a bad size', () => {
    expect(() => memoizeSigner((p) => p, 0)).toThrow(RangeError);
  });
});
