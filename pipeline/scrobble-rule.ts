/**
 * When a play is a listen (the Last.fm and ListenBrainz rule): the track is at least 30 s
 * long, and it played half its length or 4 minutes, whichever comes first.
 */
export const MIN_TRACK_MS = 30_000;
export const MAX_NEEDED_MS = 240_000;

export const isListen = (trackMs: number, msPlayed: number): boolean =>
  trackMs >= MIN_TRACK_MS && msPlayed >= Math.min(trackMs / 2, MAX_NEEDED_MS);
