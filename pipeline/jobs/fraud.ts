/**
 * Fraud rules, pure, per listener over one month. A flagged listener's counted plays are
 * excluded from payouts with the rules as the reason. Rules (thresholds are constants below):
 *
 * - `round_the_clock`: on some UTC day the listener played in >= 20 distinct hours: people sleep.
 * - `no_skips`: >= 100 finished plays in the month and not one skip: people skip.
 * - `loop`: >= 50 counted plays and one track makes >= 80 % of them.
 * - `just_past_30s`: >= 50 counted plays and >= 70 % of them ended between 30 and 32 s: the
 *   pattern of a bot that stops as soon as a stream pays.
 *
 * The listener's finished plays (for skips and final ms_played) come from the exported events.
 */
import type { ListeningEvent } from '../../actors/types.ts';
import type { CountedPlay } from '../../storage/royalties.ts';

export const ROUND_THE_CLOCK_HOURS = 20;
export const NO_SKIPS_MIN_PLAYS = 100;
export const LOOP_MIN_PLAYS = 50;
export const LOOP_SHARE = 0.8;
export const JUST_PAST_MIN_PLAYS = 50;
export const JUST_PAST_SHARE = 0.7;
export const JUST_PAST_MAX_MS = 32_000;

export type FraudRule = 'round_the_clock' | 'no_skips' | 'loop' | 'just_past_30s';

export interface FraudFlag {
  user: string;
  rules: FraudRule[];
  countedPlays: number;
  detail: string;
}

export function detectFraud(
  ledger: Iterable<CountedPlay>,
  events: Iterable<ListeningEvent>,
): Map<string, FraudFlag> {
  const counted = new Map<string, CountedPlay[]>();
  for (const r of ledger) {
    const l = counted.get(r.userId);
    if (l) l.push(r);
    else counted.set(r.userId, [r]);
  }
  // Final state of each play from its events: max ms_played, skipped or not, start hour.
  const plays = new Map<string, { user: string; ms: number; skipped: boolean; ended: boolean }>();
  for (const e of events) {
    const p = plays.get(e.play_id) ?? { user: e.user, ms: 0, skipped: false, ended: false };
    p.ms = Math.max(p.ms, e.ms_played);
    if (e.type === 'play.end') {
      p.ended = true;
      if (e.reason === 'skip') p.skipped = true;
    }
    plays.set(e.play_id, p);
  }
  const perUser = new Map<string, { ended: number; skips: number; ms: Map<string, number> }>();
  for (const [id, p] of plays) {
    const u = perUser.get(p.user) ?? { ended: 0, skips: 0, ms: new Map() };
    if (p.ended) u.ended++;
    if (p.skipped) u.skips++;
    u.ms.set(id, p.ms);
    perUser.set(p.user, u);
  }

  const flags = new Map<string, FraudFlag>();
  for (const [user, rows] of counted) {
    const rules: FraudRule[] = [];
    const details: string[] = [];
    const hoursByDay = new Map<string, Set<number>>();
    for (const r of rows) {
      const d = new Date(r.ts);
      const day = d.toISOString().slice(0, 10);
      const set = hoursByDay.get(day) ?? new Set<number>();
      set.add(d.getUTCHours());
      hoursByDay.set(day, set);
    }
    const maxHours = Math.max(0, ...[...hoursByDay.values()].map((s) => s.size));
    if (maxHours >= ROUND_THE_CLOCK_HOURS) {
      rules.push('round_the_clock');
      details.push(`${maxHours} distinct hours in one day`);
    }
    const u = perUser.get(user);
    if (u && u.ended >= NO_SKIPS_MIN_PLAYS && u.skips === 0) {
      rules.push('no_skips');
      details.push(`${u.ended} plays, 0 skips`);
    }
    if (rows.length >= LOOP_MIN_PLAYS) {
      const byTrack = new Map<string, number>();
      for (const r of rows) byTrack.set(r.trackId, (byTrack.get(r.trackId) ?? 0) + 1);
      const [top, n] = [...byTrack].sort((a, b) => b[1] - a[1])[0]!;
      if (n / rows.length >= LOOP_SHARE) {
        rules.push('loop');
        details.push(`${top} is ${Math.round((100 * n) / rows.length)}% of ${rows.length} streams`);
      }
    }
    if (u && rows.length >= JUST_PAST_MIN_PLAYS) {
      const short = rows.filter((r) => (u.ms.get(r.playId) ?? r.msPlayed) < JUST_PAST_MAX_MS).length;
      if (short / rows.length >= JUST_PAST_SHARE) {
        rules.push('just_past_30s');
        details.push(`${short}/${rows.length} streams ended before ${JUST_PAST_MAX_MS / 1000}s`);
      }
    }
    if (rules.length) flags.set(user, { user, rules, countedPlays: rows.length, detail: details.join('; ') });
  }
  return flags;
}
