/**
 * Territory rights for an ingested file. Without a sidecar a track is allowed worldwide.
 *
 * Sidecar: `<audio file>.rights.json` beside the file, e.g. `song.flac.rights.json`:
 *
 *     {
 *       "territories": [
 *         { "territory": "*",  "allowed": true },
 *         { "territory": "DE", "allowed": false },
 *         { "territory": "US", "allowed": true, "availableFrom": "2030-01-01T00:00:00Z" },
 *         { "territory": "JP", "allowed": true, "premiumOnly": true }
 *       ]
 *     }
 *
 * `territory` is an ISO 3166-1 alpha-2 code or "*" (worldwide); `availableFrom` /
 * `availableUntil` are ISO 8601 dates or epoch milliseconds (the release window);
 * `premiumOnly` limits on-demand play to premium listeners. Each territory at most once.
 * A bad sidecar fails that file (code `bad_rights`): better no track than wrong rights.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { Rights } from '../../storage/catalog.ts';

const instant = z.union([
  z.number().int().nonnegative(),
  z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO 8601 date'),
]);

const sidecarSchema = z
  .object({
    territories: z
      .array(
        z
          .object({
            territory: z.string().regex(/^([A-Z]{2}|\*)$/, 'ISO 3166-1 alpha-2 code or "*"'),
            allowed: z.boolean(),
            availableFrom: instant.optional(),
            availableUntil: instant.optional(),
            premiumOnly: z.boolean().optional(),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type RightsSpec = Omit<Rights, 'trackId'>;

export const WORLDWIDE: readonly RightsSpec[] = [{ territory: '*', allowed: true }];

const toMs = (v: number | string | undefined) =>
  v === undefined ? undefined : typeof v === 'number' ? v : Date.parse(v);

/** Validates sidecar JSON; returns rights rows or a reason. */
export function parseRightsSidecar(
  json: unknown,
): { ok: true; value: RightsSpec[] } | { ok: false; reason: string } {
  const r = sidecarSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { ok: false, reason: `${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}` };
  }
  const seen = new Set<string>();
  const out: RightsSpec[] = [];
  for (const t of r.data.territories) {
    if (seen.has(t.territory)) return { ok: false, reason: `territory ${t.territory} listed twice` };
    seen.add(t.territory);
    const row: RightsSpec = { territory: t.territory, allowed: t.allowed };
    const from = toMs(t.availableFrom);
    const until = toMs(t.availableUntil);
    if (from !== undefined && until !== undefined && until <= from) {
      return { ok: false, reason: `territory ${t.territory}: availableUntil is not after availableFrom` };
    }
    if (from !== undefined) row.availableFrom = from;
    if (until !== undefined) row.availableUntil = until;
    if (t.premiumOnly !== undefined) row.premiumOnly = t.premiumOnly;
    out.push(row);
  }
  return { ok: true, value: out };
}

/** Reads `<path>.rights.json` if present; worldwide when absent. */
export async function readRightsSidecar(
  audioPath: string,
): Promise<{ ok: true; value: RightsSpec[] } | { ok: false; reason: string }> {
  let text: string;
  try {
    text = await readFile(`${audioPath}.rights.json`, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { ok: true, value: [...WORLDWIDE] };
    return { ok: false, reason: `cannot read rights sidecar: ${(e as Error).message}` };
  }
  try {
    return parseRightsSidecar(JSON.parse(text));
  } catch (e) {
    return { ok: false, reason: `rights sidecar is not JSON: ${(e as Error).message}` };
  }
}
