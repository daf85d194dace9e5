/**
 * Entitlement policy: may this listener play this track now? Pure; the rights rows come
 * with the track bundle (the listener's territory and the worldwide '*' row).
 *
 * Order of checks, first failure wins:
 * 1. rights: the territory row if there is one, else the '*' row; none, or `allowed: false`
 *    -> region_blocked;
 * 2. release window of that row (availableFrom <= now < availableUntil) -> not_available;
 * 3. no encoded audio -> not_available;
 * 4. premiumOnly and a free plan -> premium_required.
 * A track that does not exist at all is `not_found`, decided before this policy.
 */

import type { ForbiddenReason, Plan, RightsRow, TrackBundle } from './types.ts';

export type Entitlement = { ok: true } | { ok: false; reason: ForbiddenReason };

export interface Listener {
  country: string;
  plan: Plan;
}

/** The row that governs a territory: its own row overrides the worldwide one. */
export function governingRights(rights: readonly RightsRow[], country: string): RightsRow | undefined {
  const c = country.toUpperCase();
  return rights.find((r) => r.territory.toUpperCase() === c) ?? rights.find((r) => r.territory === '*');
}

export function checkEntitlement(bundle: TrackBundle, listener: Listener, now: number): Entitlement {
  const row = governingRights(bundle.rights, listener.country);
  if (!row || !row.allowed) return { ok: false, reason: 'region_blocked' };
  if (row.availableFrom !== undefined && now < row.availableFrom)
    return { ok: false, reason: 'not_available' };
  if (row.availableUntil !== undefined && now >= row.availableUntil)
    return { ok: false, reason: 'not_available' };
  if (bundle.files.length === 0 || bundle.files.every((f) => f.chunks.length === 0)) {
    return { ok: false, reason: 'not_available' };
  }
  if (row.premiumOnly && listener.plan !== 'premium') return { ok: false, reason: 'premium_required' };
  return { ok: true };
}

export const FORBIDDEN_MESSAGES: Readonly<Record<ForbiddenReason, string>> = {
  region_blocked: 'track is not licensed in your country',
  not_available: 'track is not available now',
  premium_required: 'track needs a premium plan',
};
