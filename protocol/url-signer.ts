import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

/**
 * Signed URLs for the origin: HMAC-SHA256 over the path, the expiry and the key id.
 * A key id lets keys rotate: the signer signs with the active key, the verifier accepts
 * any key it still knows. Shared by session/ (issuing) and origin/ (checking).
 *
 * Query shape: `?exp=<unix seconds>&kid=<key id>&sig=<base64url MAC>`.
 */

export interface SigningKeys {
  /** Key id used to sign new URLs. */
  activeKid: string;
  /** Every key still accepted, by id. Secrets of at least 32 bytes. */
  keys: Record<string, string>;
}

export type VerifyFailure = 'missing' | 'malformed' | 'expired' | 'unknown_key' | 'bad_signature';
export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

const mac = (key: KeyObject, path: string, exp: number, kid: string): Buffer =>
  createHmac('sha256', key).update(`${path}\n${exp}\n${kid}`).digest();

export class UrlSigner {
  /** Key objects built once: an HMAC over a raw string secret re-imports it on every call. */
  private readonly keyObjects = new Map<string, KeyObject>();

  constructor(private readonly keys: SigningKeys) {
    if (!keys.keys[keys.activeKid]) throw new Error(`signing key '${keys.activeKid}' is not among the keys`);
    for (const [kid, secret] of Object.entries(keys.keys))
      this.keyObjects.set(kid, createSecretKey(Buffer.from(secret)));
  }

  /** Signs `path` (absolute path, no query) valid until `expiresAtMs`; returns path + query. */
  sign(path: string, expiresAtMs: number): string {
    const exp = Math.floor(expiresAtMs / 1000);
    const kid = this.keys.activeKid;
    const sig = mac(this.keyObjects.get(kid)!, path, exp, kid).toString('base64url');
    return `${path}?exp=${exp}&kid=${encodeURIComponent(kid)}&sig=${sig}`;
  }

  /** Checks a path and its query parameters at time `nowMs`, in constant time over the MAC. */
  verify(path: string, query: URLSearchParams | string, nowMs: number): VerifyResult {
    const q = typeof query === 'string' ? new URLSearchParams(query) : query;
    const expRaw = q.get('exp');
    const kid = q.get('kid');
    const sigRaw = q.get('sig');
    if (expRaw === null || kid === null || sigRaw === null) return { ok: false, reason: 'missing' };
    if (!/^\d{1,12}$/.test(expRaw) || !/^[A-Za-z0-9_-]{43}$/.test(sigRaw))
      return { ok: false, reason: 'malformed' };
    const exp = Number(expRaw);
    const key = this.keyObjects.get(kid);
    if (key === undefined) return { ok: false, reason: 'unknown_key' };
    const expected = mac(key, path, exp, kid);
    const given = Buffer.from(sigRaw, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'bad_signature' };
    }
    // Expiry is checked after the MAC so an attacker learns nothing from the order of checks.
    if (exp * 1000 <= nowMs) return { ok: false, reason: 'expired' };
    return { ok: true };
  }
}
