import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedEnv, openTable } from './lmdb-env.ts';

describe('embedded env', () => {
  const dir = mkdtempSync(join(tmpdir(), 'env.with.dots-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('embedded env - a directory whose name has a dot opens as a directory and keeps data on reopen', async () => {
    const env = await openEmbeddedEnv(join(dir, 'store.v1'));
    await openTable<string>(env, 't').put(['k'], 'v');
    await env.close();
    const again = await openEmbeddedEnv(join(dir, 'store.v1'));
    expect(openTable<string>(again, 't').get(['k'])).toBe('v');
    await again.close();
  });
});
