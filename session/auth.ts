/**
 * Device authentication: HS256 JWTs (jose) whose claims carry the user id (`sub`), the plan
 * and the country. `verifyToken` never throws: it answers a typed result so the transport can
 * close the socket with the documented close code without touching any session.
 */
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Plan } from '../actors/types.ts';

export interface Principal {
  userId: string;
  plan: Plan;
  /** ISO 3166-1 alpha-2, upper case. */
  country: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

export type AuthFailure = 'missing' | 'malformed' | 'bad_signature' | 'expired' | 'bad_claims';
export type AuthResult =
  { ok: true; principal: Principal } | { ok: false; reason: AuthFailure; message: string };

const ALG = 'HS256';
const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const COUNTRY = /^[A-Z]{2}$/;

export interface Authenticator {
  verify(token: unknown): Promise<AuthResult>;
  mint(claims: { userId: string; plan: Plan; country: string }, ttlS?: number): Promise<string>;
}

/** Verified tokens remembered (HTTP clients send the same token with every request). */
const VERIFIED_MEMO = 4096;

/** Builds an authenticator over one HS256 secret; `now` is injectable for expiry tests. */
export function createAuthenticator(secret: string, now: () => number = Date.now): Authenticator {
  const key = new TextEncoder().encode(secret);
  // A token's claims never change, so one verified stays good until its expiry: the HMAC
  // (a WebCrypto round trip, most of an HTTP request's cost) runs once per token, not per
  // request. Keyed by the whole token, signature included; dropped wholesale when full.
  const verified = new Map<string, Principal>();
  // Imported once: handing jose the raw bytes makes it import a WebCrypto key on every verify.
  const verifyKey = crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  return {
    async mint({ userId, plan, country }, ttlS = 24 * 3600) {
      if (!USER_ID.test(userId)) throw new Error(`bad user id '${userId}'`);
      if (plan !== 'free' && plan !== 'premium') throw new Error(`bad plan '${String(plan)}'`);
      const c = country.toUpperCase();
      if (!COUNTRY.test(c)) throw new Error(`bad country '${country}'`);
      const iat = Math.floor(now() / 1000);
      return new SignJWT({ plan, country: c })
        .setProtectedHeader({ alg: ALG, typ: 'JWT' })
        .setSubject(userId)
        .setIssuedAt(iat)
        .setExpirationTime(iat + ttlS)
        .sign(key);
    },
    async verify(token) {
      if (typeof token !== 'string' || token.length === 0)
        return { ok: false, reason: 'missing', message: 'no token' };
      if (token.length > 4096 || token.split('.').length !== 3) {
        return { ok: false, reason: 'malformed', message: 'token is not a compact JWS' };
      }
      const known = verified.get(token);
      if (known) {
        // jose's rule: expired once `exp` is not after now (epoch seconds).
        if (known.exp > Math.floor(now() / 1000)) return { ok: true, principal: known };
        verified.delete(token);
        return { ok: false, reason: 'expired', message: 'token expired' };
      }
      try {
        const { payload } = await jwtVerify(token, await verifyKey, {
          algorithms: [ALG],
          currentDate: new Date(now()),
          requiredClaims: ['sub', 'exp'],
        });
        const { sub, plan, country, exp } = payload as Record<string, unknown>;
        if (typeof sub !== 'string' || !USER_ID.test(sub))
          return { ok: false, reason: 'bad_claims', message: 'bad sub claim' };
        if (plan !== 'free' && plan !== 'premium')
          return { ok: false, reason: 'bad_claims', message: 'plan must be free or premium' };
        if (typeof country !== 'string' || !COUNTRY.test(country)) {
          return { ok: false, reason: 'bad_claims', message: 'country must be ISO 3166-1 alpha-2' };
        }
        const principal: Principal = { userId: sub, plan, country, exp: exp as number };
        if (verified.size >= VERIFIED_MEMO) verified.clear();
        verified.set(token, principal);
        return { ok: true, principal };
      } catch (e) {
        if (e instanceof joseErrors.JWTExpired)
          return { ok: false, reason: 'expired', message: 'token expired' };
        if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
          return { ok: false, reason: 'bad_signature', message: 'bad token signature' };
        }
        if (e instanceof joseErrors.JWTClaimValidationFailed) {
          return { ok: false, reason: 'bad_claims', message: e.message };
        }
        return { ok: false, reason: 'malformed', message: 'token could not be parsed' };
      }
    },
  };
}

/** Reads a `Bearer <token>` Authorization header value; undefined when absent or not Bearer. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
