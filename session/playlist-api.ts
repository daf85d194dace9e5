/**
 * Mounts the /v1 HTTP API (the route tables of session/http/: playlists, the caller's history
 * and royalties) on the session server: the Bearer JWT is already checked (http-routes.ts
 * withBearer); this parses the JSON body and query and maps the router's answer back to an
 * HTTP response. It also serves the API's OpenAPI description, which needs no token.
 */
import type { Logger } from 'pino';
import type { TrackCache } from '../storage/cache.ts';
import { createPlaylistViewer } from '../storage/hydration.ts';
import type { Stores } from '../storage/stores.ts';
import type { AuthedHandler } from './http-routes.ts';
import { createApiRouter, errorBody, type ApiRoute, type ApiRouter } from './http/api-router.ts';
import { catalogRoutes } from './http/catalog.ts';
import { meRoutes } from './http/me.ts';
import { OPENAPI_PATH, openApiDocument } from './http/openapi.ts';
import { playlistRoutes } from './http/playlists.ts';
import type { HttpHandler } from './transport.ts';

const json = (status: number, body: unknown, extra?: Record<string, string>) =>
  status === 204
    ? { status, headers: { 'cache-control': 'no-store', ...extra } }
    : {
        status,
        headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra },
        body: JSON.stringify(body),
      };

export interface HttpApi {
  router: ApiRouter;
  /** The /v1 routes, behind the Bearer token. */
  authed: AuthedHandler;
  /** Routes that need no token, by path: the OpenAPI description. */
  public: Record<string, HttpHandler>;
}

export interface HttpApiDeps {
  stores: Stores;
  cache: TrackCache;
  log: Logger;
  /** The royalty rule's threshold, reported by /v1/me/royalties. */
  streamThresholdMs: number;
  /** More routes on the same table (the Web API player, session/http/player-api.ts). */
  routes?: readonly ApiRoute[];
}

/** The /v1 API's version, in the OpenAPI description; the path carries the major. */
const API_VERSION = '1.0.0';

export function httpApi(deps: HttpApiDeps): HttpApi {
  const { stores } = deps;
  const viewer = createPlaylistViewer({
    playlists: stores.playlists,
    catalog: stores.catalog,
    cache: deps.cache,
    onCacheError: (err) => deps.log.warn({ err }, 'track cache failed; reading the store'),
  });
  const router = createApiRouter([
    ...playlistRoutes({ playlists: viewer.playlists, viewer }),
    ...catalogRoutes({ catalog: stores.catalog }),
    ...meRoutes({
      history: stores.history,
      royalties: stores.royalties,
      catalog: stores.catalog,
      streamThresholdMs: deps.streamThresholdMs,
    }),
    ...(deps.routes ?? []),
  ]);
  const document = JSON.stringify(openApiDocument(router.routes, { version: API_VERSION }));
  return {
    router,
    authed: async (req, principal, ctx) => {
      let body: unknown;
      if (req.body.byteLength > 0) {
        try {
          body = JSON.parse(Buffer.from(req.body).toString('utf8'));
        } catch {
          return json(400, errorBody(400, 'bad_request', 'body is not valid JSON'));
        }
      }
      const res = await router.handle(
        {
          method: req.method,
          path: req.path,
          query: Object.fromEntries(req.query),
          body,
          userId: principal.userId,
          plan: principal.plan,
          country: principal.country,
          baseUrl: ctx.publicBaseUrl,
        },
        (err) => deps.log.error({ err, method: req.method, path: req.path }, 'HTTP API failed'),
      );
      return json(res.status, res.json, res.headers);
    },
    public: {
      [OPENAPI_PATH]: (req) =>
        req.method === 'GET' || req.method === 'HEAD'
          ? {
              status: 200,
              headers: { 'content-type': 'application/json', 'cache-control': 'no-cache' },
              body: document,
            }
          : json(405, errorBody(405, 'bad_request', `${req.method} not allowed on ${OPENAPI_PATH}`)),
    },
  };
}
