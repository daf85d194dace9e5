/**
 * `npm run origin`: the chunk origin alone (the session server mounts the same routes in
 * its own process by default). Stops cleanly on SIGINT/SIGTERM.
 */
import uWS from '@trufflesuite/uws-js-unofficial';
import { UrlSigner } from '../protocol/url-signer.ts';
import { ConfigError } from './config.ts';
import { parseOriginConfig } from '../origin/config.ts';
import { HotObjects } from '../origin/hot-objects.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { registerOriginRoutes } from '../origin/origin-routes.ts';

let config;
try {
  config = parseOriginConfig();
} catch (e) {
  if (e instanceof ConfigError) {
    console.error(`origin: bad configuration: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
if (config.urlSigningIsDev)
  console.warn('origin: URL_SIGNING_KEYS is not set: accepting the DEVELOPMENT signing key only.');

const app = uWS.App();
registerOriginRoutes(app, {
  objects: new ObjectStore(config.objectDir),
  signer: new UrlSigner(config.urlSigning),
  hot: new HotObjects({ maxBytes: config.hotBytes, maxObjectBytes: config.hotMaxObjectBytes }),
  onError: (err, key) => console.error(`origin: object ${key}: ${(err as Error).message}`),
});
app.listen(config.host, config.port, (socket) => {
  if (!socket) {
    console.error(`origin: cannot listen on ${config.host}:${config.port}`);
    process.exit(1);
  }
  console.log(
    `origin: serving ${config.objectDir} on http://${config.host}:${uWS.us_socket_local_port(socket)}/o/<sha256>`,
  );
  const stop = () => {
    uWS.us_listen_socket_close(socket);
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});
