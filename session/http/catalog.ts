/**
 * `/v1/catalog/tracks`: the catalog in track-id order, each track with whether the caller may
 * play it (the token's country and plan through the same entitlement policy a play runs,
 * actors/entitlement.ts) and why not. What a player needs to grey a blocked track with its
 * reason before the listener taps it.
 */
import { checkEntitlement, FORBIDDEN_MESSAGES } from '../../actors/entitlement.ts';
import type { CatalogStore } from '../../storage/catalog.ts';
import { HttpError, route, type ApiRoute } from './api-router.ts';
import { trackJson } from './playlists.ts';
import { CatalogTracksPage, PageQuery } from './schemas.ts';

export interface CatalogApiDeps {
  catalog: CatalogStore;
  now?: () => number;
}

const DEFAULT_LIMIT = 50;

export function catalogRoutes(deps: CatalogApiDeps): ApiRoute[] {
  const now = deps.now ?? Date.now;
  return [
    route({
      method: 'GET',
      path: '/v1/catalog/tracks',
      operationId: 'getCatalogTracks',
      tag: 'catalog',
      summary: 'One page of the catalog, each track with whether the caller may play it',
      description:
        'Tracks in id order. `is_playable` and `restrictions.reason` follow the rules a `play` ' +
        "applies for the token's country and plan (`region_blocked`, `not_available`, " +
        '`premium_required`).',
      query: PageQuery,
      ok: { 200: { description: 'one page', schema: CatalogTracksPage } },
      errors: {},
      async handle({ query, plan, country, baseUrl }) {
        const listener = { plan, country };
        const offset = query.offset ?? 0;
        const limit = query.limit ?? DEFAULT_LIMIT;
        const all = (await deps.catalog.listTrackIds()).sort();
        const ids = all.slice(offset, offset + limit);
        const tracks = await deps.catalog.getTracks(ids);
        const at = now();
        const items = await Promise.all(
          ids
            .filter((id) => tracks.has(id))
            .map(async (id) => {
              const track = tracks.get(id)!;
              const [rights, files] = await Promise.all([
                deps.catalog.getRights(id, listener.country),
                deps.catalog.getAudioFiles(id),
              ]);
              const verdict = checkEntitlement({ track, rights, files }, listener, at);
              return verdict.ok
                ? { track: trackJson(track), is_playable: true }
                : {
                    track: trackJson(track),
                    is_playable: false,
                    restrictions: { reason: verdict.reason, message: FORBIDDEN_MESSAGES[verdict.reason] },
                  };
            }),
        );
        const href = (o: number) => `${baseUrl}/v1/catalog/tracks?offset=${o}&limit=${limit}`;
        return {
          status: 200,
          json: {
            href: href(offset),
            limit,
            offset,
            total: all.length,
            next: offset + limit < all.length ? href(offset + limit) : null,
            items,
          },
        };
      },
    }),
  ];
}
