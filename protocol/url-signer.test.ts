import { describe, expect, it } from 'vitest';
import { UrlSigner } from './url-signer.ts';

const K1 = 'k1-secret-0123456789abcdef0123456789abcdef';
const K2 = 'k2-secret-0123456789abcdef0123456789abcdef';
const NOW = 1_800_000_000_000;
const split = (signed: string) => {
  const [path, query] = signed.split('?') as [string, string];
  return { path, query: new URLSearchParams(query) };
};

describe('url signer', () => {
  const signer = new UrlSigner({ activeKid: 'k1', keys: { k1: K1 } });

  it('url signer - a signed URL verifies until it expires', () => {
    const { path, query } = split(signer.sign('/o/abc', NOW + 60_000));
    expect(signer.verify(path, query, NOW)).toEqual({ ok: true });
    expect(signer.verify(path, query, NOW + 60_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('url signer - an altered path, expiry or signature is refused', () => {
    const { path, query } = split(signer.sign('/o/abc', NOW + 60_000));
    expect(signer.verify('/o/abd', query, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    const later = new URLSearchParams(query);
    later.set('exp', String(Number(query.get('exp')) + 3600));
    expect(signer.verify(path, later, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
    const sig = query.get('sig')!;
    const flipped = new URLSearchParams(query);
    flipped.set('sig', (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1));
    expect(signer.verify(path, flipped, NOW)).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it('url signer - missing, malformed and unknown-key queries get their own reasons', () => {
    const { path, query } = split(signer.sign('/o/abc', NOW + 60_000));
    expect(signer.verify(path, '', NOW)).toEqual({ ok: false, reason: 'missing' });
    const bad = new URLSearchParams(query);
    bad.set('exp', 'soon');
    expect(signer.verify(path, bad, NOW)).toEqual({ ok: false, reason: 'malformed' });
    const other = new URLSearchParams(query);
    other.set('kid', 'k9');
    expect(signer.verify(path, other, NOW)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('url signer - after rotation new URLs use the new key and old ones still verify', () => {
    const old = split(signer.sign('/o/abc', NOW + 60_000));
    const rotated = new UrlSigner({ activeKid: 'k2', keys: { k1: K1, k2: K2 } });
    const fresh = split(rotated.sign('/o/abc', NOW + 60_000));
    expect(fresh.query.get('kid')).toBe('k2');
    expect(rotated.verify(old.path, old.query, NOW)).toEqual({ ok: true });
    expect(rotated.verify(fresh.path, fresh.query, NOW)).toEqual({ ok: true });
    // A key signed with k2 does not verify where k2 is unknown.
    expect(signer.verify(fresh.path, fresh.query, NOW)).toEqual({ ok: false, reason: 'unknown_key' });
  });

  it('url signer - the active key must be among the keys', () => {
    expect(() => new UrlSigner({ activeKid: 'k2', keys: { k1: K1 } })).toThrow(/k2/);
  });
});
