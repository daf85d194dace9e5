import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedEnv } from './lmdb-env.ts';
import { createLmdbRoyalties } from './royalties.lmdb.ts';
import { royaltyStoreContract } from './royalties.contract.ts';

let m = 0;
royaltyStoreContract('lmdb', async () => {
  const env = await openEmbeddedEnv(mkdtempSync(join(tmpdir(), 'royalties-')));
  return { store: createLmdbRoyalties(env), month: `2025-${String(++m).padStart(2, '0')}` };
});
