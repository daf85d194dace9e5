/**
 * `npm run pipeline`: the consumers in their own process, on JetStream (NATS_URL must be set:
 * the embedded log can only be consumed inside the process that owns it, see
 * event-log.embedded.ts) and the stores of the config (the data layout's store/, or CQL).
 * Stops cleanly on SIGINT/SIGTERM (in-flight batches finish and are acked).
 */
import pino from 'pino';
import { configOrExit } from './entry-config.ts';
import { openStores } from './open-stores.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import { startStorePipeline } from './store-pipeline.ts';

const config = configOrExit('pipeline');
const log = pino({ name: 'pipeline', level: config.logLevel });
const { natsUrl, stream } = config.eventLog;
if (!natsUrl) {
  log.error(
    'NATS_URL is not set: with the embedded event log the pipeline runs inside the session server (npm start)',
  );
  process.exit(2);
}
const stores = await openStores(config.stores);
const source = new JetStreamEventSource({ natsUrl, ...(stream ? { stream } : {}), log });
const running = await startStorePipeline(source, stores, config.pipeline, log);
log.info({ natsUrl, warehouse: config.pipeline.warehouseDir }, 'pipeline running');

const shutdown = async (signal: string) => {
  log.info({ signal }, 'stopping pipeline');
  await running.stop();
  await source.close();
  await stores.close();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
