import { createScyllaFeatures } from '../storage/features.scylla.ts';
import { createScyllaHistory } from '../storage/history.scylla.ts';
import { createScyllaRoyalties } from '../storage/royalties.scylla.ts';
import { pipelineContract } from './pipeline.contract.ts';
import { openJetStreamPair, requireNats } from '../testkit/pipeline.ts';
import { cqlPort } from '../testkit/store-engines.ts';

const natsUrl = await requireNats();
let run = 0;

pipelineContract(
  'jetstream, CQL stores',
  () => openJetStreamPair(natsUrl, `pipe${++run}`),
  cqlPort('pipeline', (client, keyspace) => ({
    royalties: createScyllaRoyalties(client, keyspace),
    history: createScyllaHistory(client, keyspace),
    features: createScyllaFeatures(client, keyspace),
  })),
);
