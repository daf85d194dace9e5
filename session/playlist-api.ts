/**
 * Mounts the transport-independent playlist API (session/http/playlists.ts) under /v1: the
 * Bearer JWT is already checked (http-routes.ts withBearer); this parses the JSON body and
 * query, and maps the answer back to an HTTP response.
 */
import type { Logger } from 'pino';
import type { TrackCache } from '../storage/cache.ts';
import { createPlaylistViewer } from '../storage/hydration.ts';
import type { Stores } from '../storage/stores.ts';
import type { AuthedHandler } from './http-routes.ts';
import { handlePlaylistRequest, isPlaylistPath } from './http/playlists.ts';
import { httpError } from './transport.ts';

const json = (status: number, body: unknown) => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

export function playlistApi(deps: { stores: Stores; cache: TrackCache; log: Logger }): AuthedHandler {
  const viewer = createPlaylistViewer({
    playlists: deps.stores.playlists,
    catalog: deps.stores.catalog,
    cache: deps.cache,
    onCacheError: (err) => deps.log.warn({ err }, 'track cache failed; reading the store'),
  });
  return async (req, principal, ctx) => {
    if (!isPlaylistPath(req.path))
      return httpError(404, 'not_found', `no route for ${req.method} ${req.path}`.slice(0, 300));
    let body: unknown;
    if (req.body.byteLength > 0) {
      try {
        body = JSON.parse(Buffer.from(req.body).toString('utf8'));
      } catch {
        return httpError(400, 'bad_request', 'body is not JSON');
      }
    }
    const res = await handlePlaylistRequest(
      {
        method: req.method,
        path: req.path,
        query: Object.fromEntries(req.query),
        body,
        userId: principal.userId,
      },
      {
        playlists: deps.stores.playlists,
        viewer,
        publicBaseUrl: ctx.publicBaseUrl,
        onError: (err, r) => deps.log.error({ err, path: r.path }, 'playlist API failed'),
      },
    );
    return json(res.status, res.json);
  };
}
