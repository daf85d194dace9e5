/**
 * `npm start`: the whole service in one process on embedded defaults (no engines needed),
 * or on real engines when SCYLLA_CONTACT_POINTS / NATS_URL are set. Prints the URL, the demo
 * users and a ready-to-use dev token. SIGINT/SIGTERM: close sockets, save every session
 * snapshot, stop the pipeline, close the event log and stores.
 */
import pino from 'pino';
import { startApp } from './start-app.ts';
import { configWarnings } from './config.ts';
import { configOrExit } from './entry-config.ts';
import { demoCatalogSummary } from './demo-catalog-table.ts';

const config = configOrExit('server');
const log = pino({ level: config.logLevel });
for (const w of configWarnings(config)) log.warn(`!!! ${w}`);

let app: Awaited<ReturnType<typeof startApp>>;
try {
  app = await startApp(config, { log, defaultMetrics: true });
} catch (err) {
  log.fatal({ err }, 'start-up failed');
  // pino writes asynchronously; the exit below would swallow the reason otherwise.
  console.error(`start-up failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

process.on('uncaughtException', (err) => log.error({ err }, 'uncaught exception (kept running)'));
process.on('unhandledRejection', (err) => log.error({ err }, 'unhandled rejection (kept running)'));

const { server, demo } = app;
const u1 = demo.users[0]!;
const token = await server.auth.mint({ userId: u1.id, plan: u1.plan, country: u1.country });
const cql = config.stores.scyllaContactPoints;
console.log(`
session server ready
  web player  ${server.httpUrl}/${config.demoMode ? '  (demo mode: pick a demo listener)' : '  (paste a device token)'}
  websocket   ${server.wsUrl}
  http        ${server.httpUrl}/healthz  ${server.httpUrl}/metrics  ${server.httpUrl}/o/<chunk>
  data dir    ${config.layout.root}${cql ? ` (stores on CQL ${cql.join(',')})` : ' (embedded stores)'}
  event log   ${app.eventLog.kind}
  demo users  ${demo.users.map((u) => `${u.id} (${u.plan}, ${u.country})`).join(', ')}
  playlist    ${demo.playlistUri}
  dev token   (${u1.id}) ${token}
  more tokens npm run token -- --user u2 --plan free --country US
  http api    ${server.httpUrl}/v1/openapi.json (OpenAPI 3.1; Bearer token)
`);
// The fixture catalog (DEMO_CATALOG=fixture) is a different, smaller one.
if (config.demoCatalog === 'audio')
  console.log(
    `demo catalog\n${demoCatalogSummary()
      .map((l) => `  ${l}`)
      .join('\n')}\n`,
  );

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: saving sessions');
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(1);
  }, 15_000);
  force.unref();
  try {
    await app.close();
    log.info('bye');
    process.exit(0);
  } catch (err) {
    log.error({ err }, 'shutdown failed');
    process.exit(1);
  }
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
