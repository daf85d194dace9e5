/**
 * `GET /v1/me/player/recently-played`, Spotify's cursor paging over the listening history:
 * `limit` (1-50), `before` or `after` (unix ms, exclusive). Reads the history port, newest
 * first; `after` walks back from the newest entry to the cursor and returns the entries
 * closest to it (a bounded scan: at most MAX_AFTER_SCAN entries).
 */
import { Type } from 'typebox';
import { monthOf } from '../../storage/event-codec.ts';
import type { HistoryEntry, HistoryStore } from '../../storage/history.ts';
import type { CatalogStore } from '../../storage/catalog.ts';
import { HttpError, route, type ApiRoute } from './api-router.ts';
import { contextObject, RecentlyPlayed, webTrack } from './player-objects.ts';

const MAX_LIMIT = 50;
const MAX_AFTER_SCAN = 500;

export interface PlayerHistoryDeps {
  history: HistoryStore;
  catalog: CatalogStore;
}

/** A history cursor that starts strictly before `ts` (the storage cursor's own encoding). */
const cursorBefore = (ts: number): string =>
  Buffer.from(JSON.stringify([monthOf(ts), ts, ''])).toString('base64url');

export function playerHistoryRoutes(deps: PlayerHistoryDeps): ApiRoute[] {
  return [
    route({
      method: 'GET',
      path: '/v1/me/player/recently-played',
      operationId: 'getRecentlyPlayed',
      tag: 'player',
      summary: "The caller's recently played tracks, newest first (cursors: unix ms)",
      query: Type.Object({
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_LIMIT })),
        after: Type.Optional(Type.Integer({ minimum: 0, description: 'unix ms: only plays after it' })),
        before: Type.Optional(Type.Integer({ minimum: 0, description: 'unix ms: only plays before it' })),
      }),
      ok: { 200: { description: 'one page', schema: RecentlyPlayed } },
      errors: {},
      async handle({ query, userId, baseUrl }) {
        if (query.after !== undefined && query.before !== undefined)
          throw new HttpError(400, 'bad_request', 'query: give before or after, not both');
        const limit = query.limit ?? 20;
        let entries: HistoryEntry[];
        if (query.after !== undefined) {
          const after = query.after;
          const found: HistoryEntry[] = [];
          let cursor: string | undefined;
          scan: while (found.length < MAX_AFTER_SCAN) {
            const page = await deps.history.readHistory(userId, {
              limit: 100,
              ...(cursor ? { cursor } : {}),
            });
            for (const e of page.entries) {
              if (e.ts <= after) break scan;
              found.push(e);
            }
            if (!page.next) break;
            cursor = page.next;
          }
          entries = found.slice(-limit);
        } else {
          const page = await deps.history.readHistory(userId, {
            limit,
            ...(query.before !== undefined ? { cursor: cursorBefore(query.before) } : {}),
          });
          entries = page.entries;
        }
        const tracks = await deps.catalog.getTracks([...new Set(entries.map((e) => e.trackId))]);
        const items = entries.flatMap((e) => {
          const t = tracks.get(e.trackId);
          if (!t) return [];
          return [
            {
              track: webTrack(t, baseUrl),
              played_at: new Date(e.ts).toISOString(),
              context: contextObject(e.context ?? null, baseUrl),
            },
          ];
        });
        const oldest = entries[entries.length - 1];
        const newest = entries[0];
        const href = `${baseUrl}/v1/me/player/recently-played?limit=${limit}`;
        return {
          status: 200,
          json: {
            href,
            limit,
            next: oldest && entries.length === limit ? `${href}&before=${oldest.ts}` : null,
            cursors: newest ? { after: String(newest.ts), before: String(oldest!.ts) } : null,
            items,
          },
        };
      },
    }),
  ];
}
