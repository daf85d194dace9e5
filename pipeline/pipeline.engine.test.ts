import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { JetStreamEventLog } from '../storage/event-log.jetstream.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import { createScyllaFeatures } from '../storage/features.scylla.ts';
import { createScyllaHistory } from '../storage/history.scylla.ts';
import { createScyllaRoyalties } from '../storage/royalties.scylla.ts';
import { pipelineContract } from './pipeline.contract.ts';
import { requireNats, silentLogger, tempDir, uniqueStream } from '../testkit/pipeline.ts';
import { cqlPort } from '../testkit/store-engines.ts';

const natsUrl = await requireNats();
let run = 0;

pipelineContract(
  'jetstream, CQL stores',
  async () => {
    const stream = uniqueStream(`pipe${++run}`);
    const log = new JetStreamEventLog({
      natsUrl,
      outboxDir: tempDir('pipe-outbox'),
      stream,
      log: silentLogger,
    });
    await log.whenOnline();
    const source = new JetStreamEventSource({ natsUrl, stream, log: silentLogger });
    return {
      log,
      source,
      close: async () => {
        await source.close();
        await log.close();
        const nc = await connect({ servers: natsUrl });
        await (await jetstreamManager(nc)).streams.delete(stream.stream).catch(() => undefined);
        await nc.close();
      },
    };
  },
  cqlPort('pipeline', (client, keyspace) => ({
    royalties: createScyllaRoyalties(client, keyspace),
    history: createScyllaHistory(client, keyspace),
    features: createScyllaFeatures(client, keyspace),
  })),
);
