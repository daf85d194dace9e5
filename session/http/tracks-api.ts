/**
 * `GET /v1/tracks/{id}` and `GET /v1/tracks?ids=` as Spotify answers them, with `is_playable`
 * and `restrictions` for the caller (the token's country and plan: Spotify lets the user's
 * country win over `market`, and so do we). Playability is the rights policy's verdict
 * (territory, release window, premium only), read from the rights rows.
 */
import { Type } from 'typebox';
import type { CatalogStore } from '../../storage/catalog.ts';
import { route, type ApiRoute, HttpError } from './api-router.ts';
import { ManyTracks, playability, WebTrack, webTrack } from './player-objects.ts';

/** Spotify's maximum of ids per request. */
export const MAX_TRACK_IDS = 50;
const TrackId = '^[A-Za-z0-9_-]{1,64}$';

export interface TracksApiDeps {
  catalog: CatalogStore;
  now?: () => number;
}

const Market = Type.Optional(
  Type.String({
    pattern: '^[A-Z]{2}$',
    description: 'ignored when the token names a country (it always does here)',
  }),
);

export function tracksRoutes(deps: TracksApiDeps): ApiRoute[] {
  const now = deps.now ?? Date.now;
  async function tracksFor(ids: string[], country: string, plan: 'free' | 'premium', baseUrl: string) {
    const rows = await deps.catalog.getTracks(ids);
    const rights = await Promise.all(
      ids.map((id) => (rows.has(id) ? deps.catalog.getRights(id, country) : [])),
    );
    return ids.map((id, i) => {
      const t = rows.get(id);
      return t ? webTrack(t, baseUrl, playability(rights[i]!, country, plan, now())) : null;
    });
  }
  return [
    route({
      method: 'GET',
      path: '/v1/tracks/{id}',
      operationId: 'getTrack',
      tag: 'tracks',
      summary: 'One track, with is_playable and restrictions for the caller',
      query: Type.Object({ market: Market }),
      ok: { 200: { description: 'the track', schema: WebTrack } },
      errors: { 404: 'no such track' },
      async handle({ params, country, plan, baseUrl }) {
        const id = params.id!;
        if (!new RegExp(TrackId).test(id)) throw new HttpError(400, 'bad_request', 'invalid track id');
        const [t] = await tracksFor([id], country, plan, baseUrl);
        if (!t) throw new HttpError(404, 'not_found', `no track ${id}`);
        return { status: 200, json: t };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/tracks',
      operationId: 'getTracks',
      tag: 'tracks',
      summary: `Several tracks by id (at most ${MAX_TRACK_IDS}); null for an unknown one`,
      query: Type.Object({
        ids: Type.String({
          minLength: 1,
          description: `comma-separated track ids, at most ${MAX_TRACK_IDS}`,
        }),
        market: Market,
      }),
      ok: { 200: { description: 'the tracks, in the order asked', schema: ManyTracks } },
      errors: {},
      async handle({ query, country, plan, baseUrl }) {
        const ids = query.ids.split(',');
        if (ids.length > MAX_TRACK_IDS)
          throw new HttpError(400, 'bad_request', `query: ids has more than ${MAX_TRACK_IDS} ids`);
        const re = new RegExp(TrackId);
        const bad = ids.find((id) => !re.test(id));
        if (bad !== undefined)
          throw new HttpError(400, 'bad_request', `query: ids has an invalid id '${bad.slice(0, 64)}'`);
        return { status: 200, json: { tracks: await tracksFor(ids, country, plan, baseUrl) } };
      },
    }),
  ];
}
