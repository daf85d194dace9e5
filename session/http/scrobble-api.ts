/**
 * `/v1/me/listenbrainz`: the caller links their ListenBrainz account (a user token and one of
 * the endpoints the operator allows, LISTENBRAINZ_ENDPOINTS), reads the link's state (never
 * the token: whether it is active, and why it was unlinked when ListenBrainz refused it) and
 * removes it. The scrobbler (pipeline/scrobbler.ts) submits the linked listeners' plays.
 */
import { Type } from 'typebox';
import { MAX_TOKEN_LENGTH, type ScrobbleStore } from '../../storage/scrobbles.ts';
import { HttpError, route, type ApiRoute } from './api-router.ts';
import { COMPONENTS } from './schemas.ts';

export interface ScrobbleApiDeps {
  store: ScrobbleStore;
  /** The endpoints a link may name; the first is the default. */
  endpoints: readonly string[];
  now?: () => number;
}

const LinkState = Type.Object(
  {
    service: Type.Literal('listenbrainz'),
    endpoint: Type.String(),
    active: Type.Boolean({ description: 'false once ListenBrainz refused the token (relink to resume)' }),
    linked_at: Type.String({ format: 'date-time' }),
    unlinked_reason: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'ScrobbleLink' },
);
COMPONENTS.ScrobbleLink = LinkState;

export function scrobbleLinkRoutes(deps: ScrobbleApiDeps): ApiRoute[] {
  const now = deps.now ?? Date.now;
  const path = '/v1/me/listenbrainz';
  return [
    route({
      method: 'PUT',
      path,
      operationId: 'linkListenBrainz',
      tag: 'scrobbles',
      summary: 'Link a ListenBrainz account: plays from now on are submitted (an extension)',
      description:
        'A listen is submitted once the track (at least 30 s long) has played half its length or ' +
        '4 minutes; `playing_now` when a play starts. A token ListenBrainz refuses (401) deactivates ' +
        `the link. \`endpoint\` defaults to ${deps.endpoints[0]}; it must be one the operator allows.`,
      body: Type.Object({
        token: Type.String({
          minLength: 1,
          maxLength: MAX_TOKEN_LENGTH,
          description: 'the ListenBrainz user token',
        }),
        endpoint: Type.Optional(Type.String({ description: 'the ListenBrainz API base URL' })),
      }),
      ok: { 200: { description: 'linked', schema: LinkState } },
      errors: {},
      async handle({ body, userId }) {
        const endpoint = (body.endpoint ?? deps.endpoints[0]!).replace(/\/+$/, '');
        if (!deps.endpoints.includes(endpoint))
          throw new HttpError(
            400,
            'bad_request',
            `body: endpoint must be one of ${deps.endpoints.join(', ')}`,
          );
        const linkedAt = now();
        await deps.store.putLink({ userId, endpoint, token: body.token, linkedAt });
        return { status: 200, json: state({ endpoint, linkedAt, active: true }) };
      },
    }),
    route({
      method: 'GET',
      path,
      operationId: 'getListenBrainzLink',
      tag: 'scrobbles',
      summary: "The caller's ListenBrainz link: active, or why it was unlinked (never the token)",
      ok: { 200: { description: 'the link', schema: LinkState } },
      errors: { 404: 'no link' },
      async handle({ userId }) {
        const l = await deps.store.getLink(userId);
        if (!l) throw new HttpError(404, 'not_found', 'no ListenBrainz account is linked');
        return { status: 200, json: state(l) };
      },
    }),
    route({
      method: 'DELETE',
      path,
      operationId: 'unlinkListenBrainz',
      tag: 'scrobbles',
      summary: 'Remove the ListenBrainz link: nothing more is submitted',
      ok: { 204: { description: 'removed (or there was none)' } },
      errors: {},
      async handle({ userId }) {
        await deps.store.deleteLink(userId);
        return { status: 204, json: undefined };
      },
    }),
  ];
}

const state = (l: { endpoint: string; linkedAt: number; active: boolean; unlinkedReason?: string }) => ({
  service: 'listenbrainz' as const,
  endpoint: l.endpoint,
  active: l.active,
  linked_at: new Date(l.linkedAt).toISOString(),
  unlinked_reason: l.unlinkedReason ?? null,
});
