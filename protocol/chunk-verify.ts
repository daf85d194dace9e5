/**
 * Checks a fetched chunk (or init segment) against its row in the chunk table: size
 * always, SHA-256 where recorded (chunk keys are content addresses, so the key is the hash).
 * Pure and dependency-free, using WebCrypto, so the client SDK runs it in Node and browsers;
 * the SDK refetches once on a mismatch (a CDN or proxy served damaged bytes).
 */

export interface ChunkExpectation {
  bytes: number;
  /** Hex SHA-256; absent means "size only". */
  sha256?: string;
}

export type ChunkVerdict =
  | { ok: true }
  | { ok: false; reason: 'size_mismatch'; expected: number; actual: number }
  | { ok: false; reason: 'hash_mismatch'; expected: string; actual: string };

const hex = (buf: ArrayBuffer): string =>
  Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

export async function verifyChunk(bytes: Uint8Array, expect: ChunkExpectation): Promise<ChunkVerdict> {
  if (bytes.byteLength !== expect.bytes)
    return { ok: false, reason: 'size_mismatch', expected: expect.bytes, actual: bytes.byteLength };
  if (expect.sha256 === undefined) return { ok: true };
  const actual = hex(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  const expected = expect.sha256.toLowerCase();
  return actual === expected ? { ok: true } : { ok: false, reason: 'hash_mismatch', expected, actual };
}
