import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaRoyalties } from './royalties.scylla.ts';
import { royaltiesContract } from './royalties.contract.ts';

royaltiesContract(
  'cql',
  cqlPort('royalties', (client, keyspace) => createScyllaRoyalties(client, keyspace)),
);
