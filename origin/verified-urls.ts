/**
 * The origin's signature check with a memo of the URLs it has verified. The session machine
 * rounds every expiry to a bucket and memoizes signing (session/signed-url-memo.ts), so every
 * listener of a chunk within one bucket fetches the very same signed URL: the origin verifies
 * each distinct URL once (an HMAC, several microseconds) and answers the repeats with a map
 * lookup. Nothing is weakened: a hit is the exact path and query already verified under the
 * same keys (a signer's keys never change), its expiry is checked on every request, and only
 * URLs that verified are remembered, so unsigned traffic cannot fill the memo.
 *
 * Two generations, as in the signing memo: when the young map is full it becomes the old one,
 * so memory stays below 2 x `maxEntries` and expired URLs age out.
 */
import type { UrlSigner } from '../protocol/url-signer.ts';
import { authorize, type ErrorAnswer } from './http-semantics.ts';

export const DEFAULT_VERIFIED_URL_ENTRIES = 50_000;

/** A URL that verified. Shared by every request for that URL: read it, never change it. */
interface VerifiedUrl {
  readonly ok: true;
  readonly key: string;
}

export type UrlCheck = (
  path: string,
  query: string,
  nowMs: number,
) => VerifiedUrl | { ok: false; answer: ErrorAnswer };

interface Verified {
  path: string;
  expiresAtMs: number;
  /** Built once per URL, so a hit (nearly every request) allocates nothing. */
  result: VerifiedUrl;
}

/**
 * `exp` of a query that verified, in milliseconds, read by the very parser the signer used:
 * a hand scan could pick another `exp` (a repeated or percent-encoded one) than the one signed.
 */
const expiryOf = (query: string): number => Number(new URLSearchParams(query).get('exp')) * 1000;

export function verifiedUrls(signer: UrlSigner, maxEntries = DEFAULT_VERIFIED_URL_ENTRIES): UrlCheck {
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  // Keyed by the query alone (it holds the signature, so it is all but unique per URL) and a
  // hit must also match the path: no `path?query` string to build and hash per request (the
  // concatenation and its hash were a third of the origin's JavaScript per hot request).
  let young = new Map<string, Verified>();
  let old = new Map<string, Verified>();
  return (path, query, nowMs) => {
    const fresh = young.get(query);
    if (fresh !== undefined && fresh.path === path && fresh.expiresAtMs > nowMs) return fresh.result;
    let verified = old.get(query);
    if (verified === undefined || verified.path !== path || verified.expiresAtMs <= nowMs) {
      // A miss, or an expired URL: the full check, which also names why a URL is refused.
      const result = authorize({ path, query, nowMs }, signer);
      if (!result.ok) return result;
      verified = { path, expiresAtMs: expiryOf(query), result: { ok: true, key: result.key } };
    }
    // Kept young while requested, as the signing memo keeps what it hands out.
    if (young.size >= maxEntries) {
      old = young;
      young = new Map();
    }
    young.set(query, verified);
    return verified.result;
  };
}
