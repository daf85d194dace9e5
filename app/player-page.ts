/**
 * The web player on the session server's port: `/` serves the page `npm run build:player`
 * bundled (player/build.ts: one HTML file, script and styles inline), and, in demo mode only,
 * `/dev/token` mints a device token for a demo listener so the page can offer a listener
 * picker instead of a token field.
 *
 * The page is read from disk, not bundled here: the bundler is a build tool (a devDependency)
 * and the built server ships the bundle beside itself (dist/player/dist, `npm run build`).
 */
import { readFile } from 'node:fs/promises';
import type { Authenticator } from '../session/auth.ts';
import { httpError, type HttpHandler, type HttpResponseLike } from '../session/transport.ts';
import type { DemoInfo } from './demo-seed.ts';

/** The bundle's place, relative to this module: player/dist in the source tree and in dist/. */
const PAGE_URL = new URL('../player/dist/index.html', import.meta.url);

/** Default lifetime of a dev token; `ttl_s` shortens it (tests of a token expiring mid-session). */
const DEV_TOKEN_TTL_S = 3600;

const json = (status: number, body: unknown): HttpResponseLike => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

const notBuilt = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Player not built</title>
<body><h1>The web player is not built</h1><p>Run <code>npm run build:player</code> (npm start does it
for you) and reload.</p></body></html>`;

export function playerPageRoutes(deps: {
  /** The server's token minting (known once the server is up; called per request). */
  mint: Authenticator['mint'];
  demo: DemoInfo;
  demoMode: boolean;
  pageUrl?: URL;
}): Record<string, HttpHandler> {
  let page: string | undefined;
  const routes: Record<string, HttpHandler> = {
    '/': async (req) => {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return httpError(405, 'bad_request', `${req.method} not allowed on /`);
      // Read once it exists; until then every request looks again (the build may run later).
      page ??= await readFile(deps.pageUrl ?? PAGE_URL, 'utf8').catch(() => undefined);
      return {
        status: 200,
        headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' },
        body: page ?? notBuilt,
      };
    },
  };
  if (deps.demoMode) routes['/dev/token'] = devToken(deps.mint, deps.demo);
  return routes;
}

/**
 * `GET /dev/token`: the demo listeners; `?user=<id>`: a fresh token for one (`ttl_s` to
 * shorten it). Development only: it hands any caller a token.
 */
function devToken(mint: Authenticator['mint'], demo: DemoInfo): HttpHandler {
  return async (req) => {
    if (req.method !== 'GET') return httpError(405, 'bad_request', `${req.method} not allowed on /dev/token`);
    const userId = req.query.get('user');
    if (userId === null)
      return json(200, {
        listeners: demo.users.map((u) => ({ id: u.id, plan: u.plan, country: u.country })),
      });
    const user = demo.users.find((u) => u.id === userId);
    if (!user) return httpError(404, 'not_found', `no demo listener '${userId.slice(0, 64)}'`);
    const ttlRaw = req.query.get('ttl_s');
    const ttlS = ttlRaw === null ? DEV_TOKEN_TTL_S : Number(ttlRaw);
    if (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > 24 * 3600)
      return httpError(400, 'bad_request', 'ttl_s must be an integer from 1 to 86400');
    const token = await mint({ userId: user.id, plan: user.plan, country: user.country }, ttlS);
    return json(200, { token, user: { id: user.id, plan: user.plan, country: user.country }, ttl_s: ttlS });
  };
}
