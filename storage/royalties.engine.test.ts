import { afterAll, beforeAll } from 'vitest';
import { createTestKeyspace, type TestKeyspace } from '../testkit/engines.ts';
import { royaltyStoreContract } from './royalties.contract.ts';
import { applyMigrations } from './cql-client.ts';
import { createScyllaRoyalties } from './royalties.scylla.ts';

let ks: TestKeyspace;
beforeAll(async () => {
  ks = await createTestKeyspace('royalties');
  await applyMigrations(ks.client, ks.name);
});
afterAll(() => ks?.drop());

let m = 0;
royaltyStoreContract('cql', async () => ({
  store: createScyllaRoyalties(ks.client, ks.name),
  month: `2025-${String(++m).padStart(2, '0')}`,
}));
