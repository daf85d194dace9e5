import { describe, expect, it } from 'vitest';
import { UrlSigner } from '../protocol/url-signer.ts';
import { verifiedUrls } from './verified-urls.ts';

const KEY = 'ab'.repeat(32);
const PATH = `/o/${KEY}`;
const NOW = Date.UTC(2026, 11, 6);

/** A real signer whose verifications are counted (each one is an HMAC). */
function counted() {
  const signer = new UrlSigner({ activeKid: 'k1', keys: { k1: 's'.repeat(40) } });
  let verifies = 0;
  const verify = signer.verify.bind(signer);
  signer.verify = (path, query, nowMs) => {
    verifies++;
    return verify(path, query, nowMs);
  };
  return { signer, verifies: () => verifies };
}

const split = (signed: string) => {
  const [path, query = ''] = signed.split('?');
  return { path: path!, query };
};

describe('verified urls', () => {
  it('verified urls - a repeated URL is answered from the memo: one HMAC per distinct URL', () => {
    const { signer, verifies } = counted();
    const check = verifiedUrls(signer);
    const { path, query } = split(signer.sign(PATH, NOW + 60_000));
    for (let i = 0; i < 5; i++) expect(check(path, query, NOW)).toEqual({ ok: true, key: KEY });
    expect(verifies()).toBe(1);
    const other = split(signer.sign(PATH, NOW + 120_000));
    expect(check(other.path, other.query, NOW)).toEqual({ ok: true, key: KEY });
    expect(verifies()).toBe(2);
  });

  it('verified urls - a hit hands back the answer built when the URL verified, allocating nothing', () => {
    const { signer } = counted();
    const check = verifiedUrls(signer, 1);
    const u1 = split(signer.sign(PATH, NOW + 60_000));
    const u2 = split(signer.sign(`/o/${'cd'.repeat(32)}`, NOW + 60_000));
    const first = check(u1.path, u1.query, NOW);
    expect(first).toEqual({ ok: true, key: KEY });
    expect(check(u1.path, u1.query, NOW)).toBe(first);
    expect(check(u2.path, u2.query, NOW)).toEqual({ ok: true, key: 'cd'.repeat(32) }); // rolls u1 over
    expect(check(u1.path, u1.query, NOW)).toBe(first); // back from the old generation: same answer
  });

  it('verified urls - a remembered URL still expires on time, with the reason', () => {
    const { signer } = counted();
    const check = verifiedUrls(signer);
    const { path, query } = split(signer.sign(PATH, NOW + 10_000));
    expect(check(path, query, NOW).ok).toBe(true);
    expect(check(path, query, NOW + 9_999).ok).toBe(true);
    const late = check(path, query, NOW + 10_000);
    expect(late.ok).toBe(false);
    if (!late.ok) expect(late.answer.body).toContain('expired');
  });

  it('verified urls - refused URLs are never remembered; a changed byte is another URL', () => {
    const { signer, verifies } = counted();
    const check = verifiedUrls(signer);
    const { path, query } = split(signer.sign(PATH, NOW + 60_000));
    const forged = query.replace(/sig=./, (m) => (m.endsWith('A') ? 'sig=B' : 'sig=A'));
    for (let i = 0; i < 3; i++) {
      const r = check(path, forged, NOW);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.answer.status).toBe('403 Forbidden');
    }
    expect(verifies()).toBe(3);
    expect(check(path, query, NOW).ok).toBe(true);
    expect(check(`/o/${'cd'.repeat(32)}`, query, NOW).ok).toBe(false); // signed for another path
    expect(check(path, query, NOW).ok).toBe(true); // still remembered for its own path: no HMAC
    expect(check(path, `${query}&x=1`, NOW).ok).toBe(true); // verified anew: the signer ignores x
    expect(verifies()).toBe(6);
  });

  it('verified urls - a second exp (repeated or percent-encoded) cannot stretch the signed one', () => {
    const { signer } = counted();
    const check = verifiedUrls(signer);
    const { path, query } = split(signer.sign(PATH, NOW + 10_000));
    const far = Math.floor((NOW + 10 * 365 * 86_400_000) / 1000);
    const encoded = `${query.replace(/^exp=/, '%65xp=')}&exp=${far}`;
    const repeated = `${query}&exp=${far}`;
    for (const q of [encoded, repeated]) {
      expect(check(path, q, NOW).ok).toBe(true);
      expect(check(path, q, NOW + 10_000).ok).toBe(false);
    }
  });

  it('verified urls - past maxEntries the memo rolls over and keeps answering correctly', () => {
    const { signer, verifies } = counted();
    const check = verifiedUrls(signer, 2);
    const [u1, u2, u3] = [1, 2, 3].map((i) => split(signer.sign(PATH, NOW + i * 60_000)));
    for (const u of [u1!, u2!, u3!]) expect(check(u.path, u.query, NOW).ok).toBe(true); // u3 rolls over
    expect(check(u1!.path, u1!.query, NOW).ok).toBe(true); // from the old generation
    expect(verifies()).toBe(3);
    expect(check(u2!.path, u2!.query, NOW).ok).toBe(true); // rolled over again: u2 was old
    expect(verifies()).toBe(3);
    expect(check(u1!.path, u1!.query, NOW + 120_000).ok).toBe(false); // and expiry still holds
    expect(() => verifiedUrls(signer, 0)).toThrow(RangeError);
  });
});
