import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyChunk } from './chunk-verify.ts';

const bytes = randomBytes(70_000);
const sha256 = createHash('sha256').update(bytes).digest('hex');

describe('chunk verify - against the chunk table', () => {
  it('chunk verify - intact bytes pass with and without a recorded hash', async () => {
    expect(await verifyChunk(bytes, { bytes: bytes.length, sha256 })).toEqual({ ok: true });
    expect(await verifyChunk(bytes, { bytes: bytes.length })).toEqual({ ok: true });
  });

  it('chunk verify - a truncated chunk is a size mismatch', async () => {
    expect(await verifyChunk(bytes.subarray(1), { bytes: bytes.length, sha256 })).toEqual({
      ok: false,
      reason: 'size_mismatch',
      expected: bytes.length,
      actual: bytes.length - 1,
    });
  });

  it('chunk verify - one flipped bit is a hash mismatch', async () => {
    const bad = Buffer.from(bytes);
    bad[1234]! ^= 1;
    const v = await verifyChunk(bad, { bytes: bytes.length, sha256: sha256.toUpperCase() });
    expect(v).toMatchObject({ ok: false, reason: 'hash_mismatch', expected: sha256 });
  });
});
