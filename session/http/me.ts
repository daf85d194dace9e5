/**
 * The caller's own listening: `/v1/me/history` (the history port, newest first, cursor
 * paging) and `/v1/me/royalties` (the royalty ledger rows of the caller's plays in a month).
 * What a listener, or a client written against the docs, uses to see that a play counted.
 */
import { trackUri } from '../../protocol/uris.ts';
import type { CatalogStore } from '../../storage/catalog.ts';
import { monthOf } from '../../storage/event-codec.ts';
import type { HistoryStore } from '../../storage/history.ts';
import type { CountedPlay, RoyaltyStore } from '../../storage/royalties.ts';
import { route, type ApiRoute } from './api-router.ts';
import { HistoryPage, HistoryQuery, MAX_HISTORY_LIMIT, RoyaltiesPage, RoyaltiesQuery } from './schemas.ts';

export interface MeApiDeps {
  history: HistoryStore;
  royalties: RoyaltyStore;
  catalog: CatalogStore;
  /** The royalty rule's threshold (pipeline/royalty-rule.ts), reported with the counts. */
  streamThresholdMs: number;
  now?: () => number;
}

const DEFAULT_HISTORY_LIMIT = 20;

export function meRoutes(deps: MeApiDeps): ApiRoute[] {
  const now = deps.now ?? Date.now;
  return [
    route({
      method: 'GET',
      path: '/v1/me/history',
      operationId: 'getHistory',
      tag: 'me',
      summary: "The caller's plays, newest first, each with whether it counted as a royalty stream",
      description:
        'One entry per play, written by the history consumer once the play ends (so a play in ' +
        'progress is not listed yet). Page with `before`: pass the `cursors.before` of the previous ' +
        `page. At most ${MAX_HISTORY_LIMIT} per page.`,
      query: HistoryQuery,
      ok: { 200: { description: 'one page', schema: HistoryPage } },
      errors: {},
      async handle({ query, userId }) {
        const limit = query.limit ?? DEFAULT_HISTORY_LIMIT;
        const page = await deps.history.readHistory(userId, {
          limit,
          ...(query.before ? { cursor: query.before } : {}),
        });
        const ids = [...new Set(page.entries.map((e) => e.trackId))];
        const [tracks, counted] = await Promise.all([
          deps.catalog.getTracks(ids),
          Promise.all(page.entries.map((e) => deps.royalties.getLedgerRow(e.playId))),
        ]);
        const next = page.next ?? null;
        return {
          status: 200,
          json: {
            items: page.entries.map((e, i) => {
              const t = tracks.get(e.trackId);
              return {
                play_id: e.playId,
                played_at: new Date(e.ts).toISOString(),
                ms_played: Math.round(e.msPlayed),
                track: {
                  id: e.trackId,
                  uri: trackUri(e.trackId),
                  ...(t ? { name: t.title, artist: t.artistName, duration_ms: t.durationMs } : {}),
                },
                ...(e.context ? { context_uri: e.context } : {}),
                ...(e.device ? { device_id: e.device } : {}),
                ...(e.reason ? { end_reason: e.reason } : {}),
                royalty_counted: counted[i] !== undefined,
              };
            }),
            limit,
            next: next && `/v1/me/history?limit=${limit}&before=${encodeURIComponent(next)}`,
            cursors: { before: next },
          },
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/me/royalties',
      operationId: 'getRoyalties',
      tag: 'me',
      summary: "The caller's plays counted as royalty streams in a month (the ledger rows)",
      description:
        `A play counts once, when ${deps.streamThresholdMs / 1000} s of it have been heard, in the month of the event that ` +
        'qualified it. This reads the month of the ledger and keeps the caller’s rows: fine for a ' +
        'listener or a small deployment; operators use `npm run job -- reconcile|payouts` ' +
        '(reports under DATA_DIR/reports).',
      query: RoyaltiesQuery,
      ok: { 200: { description: 'the counted streams', schema: RoyaltiesPage } },
      errors: {},
      async handle({ query, userId }) {
        const month = query.month ?? monthOf(now());
        const rows: CountedPlay[] = [];
        for await (const r of deps.royalties.scanLedger(month)) if (r.userId === userId) rows.push(r);
        rows.sort((a, b) => b.ts - a.ts || b.playId.localeCompare(a.playId));
        return {
          status: 200,
          json: {
            month,
            threshold_ms: deps.streamThresholdMs,
            streams: rows.length,
            items: rows.map((r) => ({
              play_id: r.playId,
              track_id: r.trackId,
              artist_id: r.artistId,
              territory: r.territory,
              product: r.product,
              counted_at: new Date(r.ts).toISOString(),
              ms_played: Math.round(r.msPlayed),
              event_id: r.eventId,
            })),
          },
        };
      },
    }),
  ];
}
