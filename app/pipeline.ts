/**
 * `npm run pipeline`: the consumers in their own process, on JetStream (NATS_URL must be set:
 * the embedded log can only be consumed inside the process that owns it, see
 * event-log.embedded.ts) and the stores chosen by SCYLLA_CONTACT_POINTS / DATA_DIR.
 * Stops cleanly on SIGINT/SIGTERM (in-flight batches finish and are acked).
 */
import { join } from 'node:path';
import pino from 'pino';
import { openStores, storeConfigFromEnv } from './open-stores.ts';
import { eventLogConfigFromEnv } from './open-event-log.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import { startPipeline } from '../pipeline/start-pipeline.ts';

const log = pino({ name: 'pipeline' });
const natsUrl = process.env.NATS_URL;
if (!natsUrl) {
  log.error(
    'NATS_URL is not set: with the embedded event log the pipeline runs inside the session server (npm start)',
  );
  process.exit(2);
}
const storeConfig = storeConfigFromEnv();
const dataDir = storeConfig.dataDir ?? 'var/data';
const stores = await openStores(storeConfig);
const cfg = eventLogConfigFromEnv(process.env, dataDir);
const source = new JetStreamEventSource({ natsUrl, ...(cfg.stream ? { stream: cfg.stream } : {}), log });
const running = await startPipeline({
  source,
  backend: stores.backend,
  history: stores.history,
  exportDir: process.env.WAREHOUSE_DIR || join(dataDir, 'warehouse'),
  log,
});
log.info({ natsUrl }, 'pipeline running');

const shutdown = async (signal: string) => {
  log.info({ signal }, 'stopping pipeline');
  await running.stop();
  await source.close();
  await stores.close();
  process.exit(0);
};
process.once('SIGINT', () => void shutdown('SIGINT'));
process.once('SIGTERM', () => void shutdown('SIGTERM'));
