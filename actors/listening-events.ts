/**
 * Listening events: play.start, play.progress (once, when ms_played crosses the royalty
 * threshold) and play.end. Ids are deterministic: a play id comes from the user, the
 * session epoch and a per-session counter, and an event id is `${play_id}:${type}`, so a
 * retried frame or a replayed publish is the same event to the log's dedup.
 *
 * A play is one listen of one track, whichever devices it runs on: a transfer moves it to
 * another device with its play id and ms_played, so a listen split across a phone and a
 * speaker is one play (one stream once it reaches the threshold). `device` is the device
 * the play runs on when the event is emitted; `devices` (only once a transfer moved it)
 * lists every device it ran on, each once, in the order they first played it.
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
  /** Every device the play ran on, each once, in the order they first played it; absent: only `deviceId`. */
  devices?: readonly string[];
}

export const makePlayId = (userId: string, epoch: number, counter: number): string =>
  `${userId}:${epoch.toString(36)}:${counter.toString(36)}`;

/**
 * Whether `playId` names a play this session has started: same user and epoch, a counter
 * it has reached. The epoch survives a restore, so plays from before a restart are known.
 */
export function isPlayOfSession(playId: string, userId: string, epoch: number, playCounter: number): boolean {
  const prefix = `${userId}:${epoch.toString(36)}:`;
  if (!playId.startsWith(prefix)) return false;
  const counter = playId.slice(prefix.length);
  if (!/^[0-9a-z]{1,12}$/.test(counter)) return false;
  const n = parseInt(counter, 36);
  return n >= 1 && n <= playCounter;
}

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
  if (play.devices && play.devices.length > 1) e.devices = [...play.devices];
  if (reason) e.reason = reason;
  return e;
}
