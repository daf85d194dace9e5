/**
 * Scrobbler: a pipeline consumer that turns listening events into ListenBrainz calls for the
 * listeners who linked an account (storage/scrobbles.ts):
 * - `play.start` -> `playing_now` (the newest start of a listener in the batch whose play has
 *   not ended in it and is recent: a backlog replayed after an outage announces nothing);
 * - `play.end` of a play that is a listen (scrobble-rule.ts) -> one listen, at most
 *   MAX_LISTENS_PER_REQUEST per request, `listened_at` the play's start (deterministic).
 *
 * Exactly once per play: a play is submitted only if not recorded as submitted, and recorded
 * right after the call succeeds, before the batch is acked; a redelivered event finds it
 * recorded. Only a crash in the instant between the call's answer and that record sends it
 * again, with the same `listened_at`, which ListenBrainz keeps once.
 *
 * Failures: 429, 5xx and network errors are retried with exponential backoff (honouring the
 * service's reset time); still failing, the batch is nak'ed and comes back later (the
 * listeners already submitted are recorded, so they are not sent twice). A 401 deactivates
 * that listener's link with a logged reason and never holds up the others; another 4xx drops
 * those listens with a warning (they would fail forever).
 */
import type { Logger } from 'pino';
import type { ListeningEvent, TrackRow } from '../actors/types.ts';
import type { BatchHandler, ConsumerSpec } from '../storage/event-source.ts';
import type { ScrobbleLink, ScrobbleStore } from '../storage/scrobbles.ts';
import { forEachBounded } from './consumers/bounded.ts';
import {
  MAX_LISTENS_PER_REQUEST,
  submitListens,
  type Listen,
  type ListenType,
  type SubmitResult,
} from './listenbrainz.ts';
import { isListen } from './scrobble-rule.ts';

export const SCROBBLE_CONSUMER: ConsumerSpec = {
  name: 'scrobbles',
  ackWaitMs: 120_000,
  maxBatch: MAX_LISTENS_PER_REQUEST,
  retryDelayMs: 5_000,
};

export interface ScrobbleRetry {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}
export const DEFAULT_SCROBBLE_RETRY: ScrobbleRetry = { attempts: 4, baseDelayMs: 500, maxDelayMs: 30_000 };
/** A start older than this (a backlog) is not announced as playing now. */
export const PLAYING_NOW_MAX_AGE_MS = 10 * 60_000;

export interface ScrobblerDeps {
  store: ScrobbleStore;
  getTracks(ids: readonly string[]): Promise<Map<string, TrackRow & { isrc?: string }>>;
  log: Logger;
  now?: () => number;
  retry?: ScrobbleRetry;
  fetch?: typeof fetch;
  /** Fault injection for crash tests: after a listens call succeeded, before it is recorded. */
  afterSubmit?: (playIds: readonly string[]) => Promise<void>;
  /** Fault injection for crash tests: after the plays are recorded, before the batch is acked. */
  afterRecorded?: (playIds: readonly string[]) => Promise<void>;
  sleep?: (ms: number) => Promise<void>;
}

/** A refusal that retrying will not cure. */
class Refused extends Error {
  constructor(readonly result: Extract<SubmitResult, { ok: false }>) {
    super(`ListenBrainz answered ${result.status}: ${result.message}`);
  }
}

const retryable = (status: number) => status === 0 || status === 429 || status >= 500;

function listenOf(e: ListeningEvent, t: TrackRow & { isrc?: string }, withTime: boolean): Listen {
  return {
    ...(withTime ? { listened_at: Math.floor(Math.max(0, e.ts - e.ms_played) / 1000) } : {}),
    track_metadata: {
      artist_name: t.artistName,
      track_name: t.title,
      release_name: t.albumName,
      additional_info: {
        duration_ms: Math.round(t.durationMs),
        ...(t.trackNumber !== undefined ? { tracknumber: t.trackNumber } : {}),
        ...(t.isrc ? { isrc: t.isrc } : {}),
        submission_client: 'playback-session-server',
        play_id: e.play_id,
      },
    },
  };
}

export function scrobbleHandler(deps: ScrobblerDeps): BatchHandler {
  const now = deps.now ?? Date.now;
  const retry = deps.retry ?? DEFAULT_SCROBBLE_RETRY;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  /** One call, retried while the failure is transient; throws Refused or the last failure. */
  async function call(link: ScrobbleLink, type: ListenType, payload: Listen[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const r = await submitListens(link.endpoint, link.token, type, payload, deps.fetch);
      if (r.ok) return;
      if (!retryable(r.status)) throw new Refused(r);
      if (attempt >= retry.attempts) throw new Error(`ListenBrainz unavailable (${r.status}): ${r.message}`);
      const backoff = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.min(retry.maxDelayMs, Math.max(backoff, r.retryAfterMs ?? 0)));
    }
  }

  async function unlink(link: ScrobbleLink, r: Refused): Promise<void> {
    const reason = `ListenBrainz refused the token (401): ${r.result.message}`.slice(0, 300);
    deps.log.warn({ user: link.userId, endpoint: link.endpoint, reason }, 'scrobbling unlinked');
    await deps.store.deactivateLink(link.userId, reason, now());
  }

  async function scrobbleUser(
    link: ScrobbleLink,
    events: ListeningEvent[],
    tracks: Map<string, TrackRow & { isrc?: string }>,
  ): Promise<void> {
    const ends = new Map<string, ListeningEvent>();
    for (const e of events) {
      if (e.type !== 'play.end' || e.reason === 'blocked' || ends.has(e.play_id)) continue;
      const t = tracks.get(e.track);
      if (t && isListen(t.durationMs, e.ms_played)) ends.set(e.play_id, e);
    }
    const done = await deps.store.submittedPlays([...ends.keys()]);
    const todo = [...ends.values()].filter((e) => !done.has(e.play_id));
    for (let i = 0; i < todo.length; i += MAX_LISTENS_PER_REQUEST) {
      const chunk = todo.slice(i, i + MAX_LISTENS_PER_REQUEST);
      const ids = chunk.map((e) => e.play_id);
      try {
        await call(
          link,
          chunk.length === 1 ? 'single' : 'import',
          chunk.map((e) => listenOf(e, tracks.get(e.track)!, true)),
        );
      } catch (err) {
        if (!(err instanceof Refused)) throw err;
        if (err.result.status === 401) return unlink(link, err);
        deps.log.warn({ user: link.userId, plays: ids.length, err: err.message }, 'listens refused; dropped');
      }
      await deps.afterSubmit?.(ids);
      await deps.store.markSubmitted(ids, now());
      await deps.afterRecorded?.(ids);
    }
    // The newest start whose play is still going (as far as this batch knows), if recent.
    const start = events
      .filter(
        (e) =>
          e.type === 'play.start' && !events.some((x) => x.type === 'play.end' && x.play_id === e.play_id),
      )
      .at(-1);
    const t = start && tracks.get(start.track);
    if (start && t && now() - start.ts <= PLAYING_NOW_MAX_AGE_MS) {
      try {
        await call(link, 'playing_now', [listenOf(start, t, false)]);
      } catch (err) {
        if (err instanceof Refused && err.result.status === 401) return unlink(link, err);
        // Ephemeral: a playing-now lost is not worth redelivering the batch.
        deps.log.warn({ user: link.userId, err: String(err) }, 'playing_now not submitted');
      }
    }
  }

  return async (batch) => {
    const events = batch.map((d) => d.event).filter((e) => e.type === 'play.start' || e.type === 'play.end');
    if (events.length === 0) return;
    const byUser = new Map<string, ListeningEvent[]>();
    for (const e of events) (byUser.get(e.user) ?? byUser.set(e.user, []).get(e.user)!).push(e);
    const links = new Map<string, ScrobbleLink>();
    await forEachBounded([...byUser.keys()], 16, async (u) => {
      const l = await deps.store.getLink(u);
      if (l?.active && l.token) links.set(u, l);
    });
    if (links.size === 0) return;
    const ids = new Set<string>();
    for (const u of links.keys()) for (const e of byUser.get(u)!) ids.add(e.track);
    const tracks = await deps.getTracks([...ids]);
    const failures: unknown[] = [];
    // Each listener on their own: one failing never holds up the others' calls.
    await forEachBounded([...links.values()], 8, async (link) => {
      try {
        await scrobbleUser(link, byUser.get(link.userId)!, tracks);
      } catch (err) {
        failures.push(err);
      }
    });
    if (failures.length > 0) throw failures[0];
  };
}
