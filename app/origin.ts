/**
 * `npm run origin`: the chunk origin alone (the session server mounts the same routes in
 * its own process by default), on the config's origin section: HOST, ORIGIN_PORT,
 * ORIGIN_HOT_BYTES, ORIGIN_HOT_MAX_OBJECT_BYTES, the signing keys and the data layout's
 * objects/. Stops cleanly on SIGINT/SIGTERM.
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import pino from 'pino';
import { UrlSigner } from '../protocol/url-signer.ts';
import { configOrExit } from './entry-config.ts';
import { HotObjects } from '../origin/hot-objects.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { registerOriginRoutes } from '../origin/origin-routes.ts';

const config = configOrExit('origin');
const log = pino({ name: 'origin', level: config.logLevel });
const origin = config.origin;
if (config.devDefaults.urlSigning)
  log.warn('!!! URL_SIGNING_KEYS is not set: accepting the DEVELOPMENT signing key only.');

const app = uWS.App();
registerOriginRoutes(app, {
  objects: new ObjectStore(origin.objectDir),
  signer: new UrlSigner(origin.urlSigning),
  hot: new HotObjects({ maxBytes: origin.hotBytes, maxObjectBytes: origin.hotMaxObjectBytes }),
  onError: (err, key) => log.error({ err, key }, 'origin object error'),
});
app.listen(origin.host, origin.port, (socket) => {
  if (!socket) {
    log.fatal({ host: origin.host, port: origin.port }, 'cannot listen');
    process.exit(1);
  }
  const port = uWS.us_socket_local_port(socket);
  log.info(
    { objectDir: origin.objectDir, url: `http://${origin.host}:${port}/o/<sha256>` },
    'origin serving',
  );
  const stop = () => {
    uWS.us_listen_socket_close(socket);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});
