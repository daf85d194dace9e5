/**
 * `npm run radio`: the radio (autoplay) service as its own process, answering the session
 * servers' requests over NATS (NATS_URL, subject RADIO_SUBJECT) in the `radio` queue group:
 * start several and they share the load; one that dies is retried on another by the caller.
 * Reads the catalog and history from the configured stores and the indexes the jobs publish
 * under RADIO_INDEX_DIR (a new one is picked up without a restart). Servers ask it with
 * RADIO=nats. Stops cleanly on SIGINT/SIGTERM.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import pino from 'pino';
import { KeptConnection } from '../storage/nats-connection.ts';
import { serveRadio } from '../radio/radio-transport.ts';
import { configOrExit } from './entry-config.ts';
import { startRadioService } from './open-radio.ts';
import { openStores } from './open-stores.ts';

const config = configOrExit('radio');
const log = pino({ name: 'radio', level: config.logLevel });
if (!config.radio.natsUrl) {
  console.error('radio: npm run radio answers over NATS: set NATS_URL (npm start runs the radio in-process)');
  process.exit(2);
}
const stores = await openStores(config.stores);
const {
  service,
  holder,
  stop: stopRadio,
} = await startRadioService(config.radio, {
  stores,
  log,
  ...(config.demoCatalog === 'audio'
    ? { audio: { objectDir: config.layout.objects, tools: config.tools } }
    : {}),
});
let served: { nc: NatsConnection; sub: Subscription } | undefined;
const kept = new KeptConnection({
  url: config.radio.natsUrl,
  name: `radio-${process.pid}`,
  log,
  onUp: async (nc) => {
    // nats.js re-subscribes by itself after a reconnect; a new connection needs a new one.
    if (served?.nc === nc) return;
    const sub = serveRadio(nc, service, {
      subject: config.radio.subject,
      onError: (err) => log.error({ err }, 'radio request failed'),
    });
    await nc.flush();
    served = { nc, sub };
    const versions = holder.current();
    log.info(
      {
        subject: config.radio.subject,
        learned: versions.learned?.meta.version ?? null,
        content: versions.content?.meta.version ?? null,
      },
      'radio ready',
    );
  },
  onDown: () => {},
});

const stop = async () => {
  stopRadio();
  await served?.sub.drain().catch(() => {});
  await kept.close();
  await stores.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
