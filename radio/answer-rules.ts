/**
 * The rules of an autoplay answer, pure. Candidates arrive ranked (nearest first); the answer
 * keeps the best ones that:
 * - the listener may play now (rights of their country, release windows, plan: the caller's
 *   `playable`, which applies actors/entitlement.ts);
 * - are not excluded (the context, the queue, the listener's last plays, what autoplay
 *   already gave this session);
 * - appear once;
 * - keep artists apart: no artist twice within any 3 consecutive tracks, counting the tracks
 *   that play just before the answer (`leadInArtists`), so the seam holds too.
 * A candidate held back only by spacing waits and goes in as soon as it fits, so a strong
 * neighbour is delayed rather than lost.
 */

export interface Candidate {
  trackId: string;
  artistId: string;
}

export interface AnswerRules {
  count: number;
  /** Track ids never to return. */
  excluded: ReadonlySet<string>;
  /** Artists of the tracks that play right before the answer, oldest first (the last 2 count). */
  leadInArtists: readonly string[];
  playable(trackId: string): boolean;
}

/** Tracks within which an artist may appear once: "no artist twice in any 3 consecutive". */
export const ARTIST_WINDOW = 3;

export function pickAutoplay(ranked: Iterable<Candidate>, rules: AnswerRules): string[] {
  const out: string[] = [];
  if (rules.count <= 0) return out;
  const artists = rules.leadInArtists.slice(-(ARTIST_WINDOW - 1));
  const seen = new Set<string>();
  const waiting: Candidate[] = [];
  const fits = (c: Candidate) => !artists.slice(-(ARTIST_WINDOW - 1)).includes(c.artistId);
  const take = (c: Candidate) => {
    out.push(c.trackId);
    artists.push(c.artistId);
  };
  const drainWaiting = () => {
    for (let i = 0; i < waiting.length && out.length < rules.count;) {
      if (fits(waiting[i]!)) {
        take(waiting.splice(i, 1)[0]!);
        i = 0;
      } else i++;
    }
  };
  for (const c of ranked) {
    if (out.length >= rules.count) break;
    if (seen.has(c.trackId) || rules.excluded.has(c.trackId)) continue;
    seen.add(c.trackId);
    if (!rules.playable(c.trackId)) continue;
    if (fits(c)) {
      take(c);
      drainWaiting();
    } else waiting.push(c);
  }
  drainWaiting();
  return out;
}

/** Pairs of positions that break the spacing rule in a sequence of artists (tests, benchmark). */
export function spacingViolations(artists: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < artists.length; i++)
    for (let j = i + 1; j < Math.min(artists.length, i + ARTIST_WINDOW); j++)
      if (artists[i] === artists[j]) n++;
  return n;
}
