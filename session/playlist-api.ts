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
  return async (req, principal) => {
    if (!isPlaylistPath(req.path))
      return json(404, { error: { status: 404, code: 'not_found', message: `no route ${req.path}` } });
    let body: unknown;
    if (req.body.byteLength > 0) {
      try {
        body = JSON.parse(Buffer.from(req.body).toString('utf8'));
      } catch {
        return json(400, { error: { status: 400, code: 'bad_request', message: 'body is not JSON' } });
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
        onError: (err, r) => deps.log.error({ err, path: r.path }, 'playlist API failed'),
      },
    );
    return json(res.status, res.json);
  };
}
