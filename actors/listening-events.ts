/**
 * Listening events: play.start, play.progress (once, when ms_played crosses the royalty
 * threshold) and play.end. Ids are deterministic: a play id comes from the user, the
 * session epoch and a per-session counter, and an event id is `${play_id}:${type}`, so a
 * retried frame or a replayed publish is the same event to the log's dedup.
 */

import type { EndReason, ListeningEvent, ListeningEventType, Plan } from './types.ts';

/** The facts of one play that every event of it carries. */
export interface PlayFacts {
  playId: string;
  userId: string;
  trackId: string;
  artistId: string;
  contextUri: string | null;
  country: string;
  plan: Plan;
  deviceId: string;
}

export const makePlayId = (userId: string, epoch: number, counter: number): string =>
  `${userId}:${epoch.toString(36)}:${counter.toString(36)}`;

export const eventId = (playId: string, type: ListeningEventType): string => `${playId}:${type}`;

export function listeningEvent(
  type: ListeningEventType,
  play: PlayFacts,
  ts: number,
  msPlayed: number,
  reason?: EndReason,
): ListeningEvent {
  const e: ListeningEvent = {
    event_id: eventId(play.playId, type),
    type,
    play_id: play.playId,
    user: play.userId,
    track: play.trackId,
    artist: play.artistId,
    ts,
    ms_played: Math.max(0, Math.round(msPlayed)),
    context: play.contextUri ?? '',
    country: play.country,
    product: play.plan,
    device: play.deviceId,
  };
  if (reason) e.reason = reason;
  return e;
}
