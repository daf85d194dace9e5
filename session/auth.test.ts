import { describe, expect, it } from 'vitest';
import { bearerToken, createAuthenticator } from './auth.ts';

const SECRET = 'test-secret-0123456789abcdef0123456789';

describe('auth', () => {
  it('auth - a minted token verifies with its claims', async () => {
    const auth = createAuthenticator(SECRET);
    const token = await auth.mint({ userId: 'u1', plan: 'premium', country: 'se' });
    const r = await auth.verify(token);
    expect(r.ok && r.principal).toMatchObject({ userId: 'u1', plan: 'premium', country: 'SE' });
  });

  it('auth - expired tokens are refused (injected clock)', async () => {
    let now = 1_700_000_000_000;
    const auth = createAuthenticator(SECRET, () => now);
    const token = await auth.mint({ userId: 'u1', plan: 'free', country: 'SE' }, 60);
    expect((await auth.verify(token)).ok).toBe(true);
    now += 61_000;
    expect(await auth.verify(token)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('auth - a token verified once is remembered to its expiry second; a tampered copy is not', async () => {
    let now = 1_700_000_000_000;
    const auth = createAuthenticator(SECRET, () => now);
    const token = await auth.mint({ userId: 'u1', plan: 'premium', country: 'SE' }, 60);
    expect((await auth.verify(token)).ok).toBe(true);
    const [h, p] = token.split('.');
    expect(await auth.verify(`${h}.${p}.${'A'.repeat(43)}`)).toMatchObject({
      ok: false,
      reason: 'bad_signature',
    });
    now += 59_000;
    expect((await auth.verify(token)).ok).toBe(true);
    now += 1_000;
    expect(await auth.verify(token)).toMatchObject({ ok: false, reason: 'expired' });
  });

  it('auth - other secrets, garbage and missing tokens are refused with a reason', async () => {
    const other = await createAuthenticator('another-secret-0123456789abcdef012345').mint({
      userId: 'u1',
      plan: 'premium',
      country: 'SE',
    });
    const auth = createAuthenticator(SECRET);
    expect(await auth.verify(other)).toMatchObject({ ok: false, reason: 'bad_signature' });
    expect(await auth.verify('a.b.c')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await auth.verify('nonsense')).toMatchObject({ ok: false, reason: 'malformed' });
    expect(await auth.verify(undefined)).toMatchObject({ ok: false, reason: 'missing' });
    expect(await auth.verify(42)).toMatchObject({ ok: false, reason: 'missing' });
  });

  it('auth - a token without plan/country claims is refused', async () => {
    const { SignJWT } = await import('jose');
    const t = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await createAuthenticator(SECRET).verify(t)).toMatchObject({ ok: false, reason: 'bad_claims' });
  });

  it('auth - bearer header parsing', () => {
    expect(bearerToken('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(bearerToken('Basic xyz')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
