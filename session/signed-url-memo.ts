/**
 * A memo of signed URLs. The session machine rounds every expiry to a bucket, so the same
 * chunk path is signed with the same expiry for every listener of a track during one bucket
 * (which is also what keeps a prefetch URL identical to the later playback URL). A play
 * signs ~17 URLs (chunk table, first chunk, init segments, prefetch); an HMAC costs several
 * microseconds, a map hit well under one.
 *
 * Two generations instead of a per-hit LRU: when the young map is full it becomes the old one
 * and the previous old one is dropped, so memory stays below 2 x `maxEntries` and a hit costs
 * one or two map lookups. Expired entries age out the same way (their key holds the expiry).
 */
export const DEFAULT_SIGNED_URL_MEMO_ENTRIES = 20_000;

export type SignFn = (path: string, expiresAtMs: number) => string;

export function memoizeSigner(sign: SignFn, maxEntries = DEFAULT_SIGNED_URL_MEMO_ENTRIES): SignFn {
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
  let young = new Map<string, string>();
  let old = new Map<string, string>();
  return (path, expiresAtMs) => {
    const key = `${expiresAtMs}|${path}`;
    let url = young.get(key);
    if (url !== undefined) return url;
    url = old.get(key) ?? sign(path, expiresAtMs);
    if (young.size >= maxEntries) {
      old = young;
      young = new Map();
    }
    young.set(key, url);
    return url;
  };
}
