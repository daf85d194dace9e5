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
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Rights } from '../../storage/catalog.ts';

/** Epoch milliseconds or a date string; strings are checked with `Date.parse` after the schema. */
const instant = Type.Union([Type.Integer({ minimum: 0 }), Type.String()]);

const sidecar = Compile(
  Type.Object(
    {
      territories: Type.Array(
        Type.Object(
          {
            territory: Type.String({ pattern: '^([A-Z]{2}|\\*)$' }),
            allowed: Type.Boolean(),
            availableFrom: Type.Optional(instant),
            availableUntil: Type.Optional(instant),
            premiumOnly: Type.Optional(Type.Boolean()),
          },
          { additionalProperties: false },
        ),
        { minItems: 1 },
      ),
    },
    { additionalProperties: false },
  ),
);

/** What a field must be, where TypeBox's own words would name a pattern or a union branch. */
const INSTANT_EXPECTED = 'epoch milliseconds (integer >= 0) or an ISO 8601 date';
const EXPECTED = new Map([
  ['territory', 'ISO 3166-1 alpha-2 code or "*"'],
  ['availableFrom', INSTANT_EXPECTED],
  ['availableUntil', INSTANT_EXPECTED],
]);

/** `/territories/0/allowed` -> `territories.0.allowed`; the document itself is `(root)`. */
const fieldPath = (pointer: string) => pointer.split('/').slice(1).join('.') || '(root)';

/** The first problem of an invalid sidecar, as `path: what is wrong`. */
function describeInvalid(json: unknown): string {
  // Skip the per-branch errors of a union and the `schema is false` twin of an unknown key:
  // the union's own error and the additionalProperties error say the same more plainly.
  const first = sidecar
    .Errors(json)
    .find((e) => e.keyword !== 'boolean' && !e.schemaPath.includes('/anyOf/'));
  if (!first) return '(root): invalid';
  const at = fieldPath(first.instancePath);
  if (first.keyword === 'required') {
    const names = (first.params as { requiredProperties?: string[] }).requiredProperties ?? [];
    return `${at}: missing field ${names.join(', ')}`;
  }
  if (first.keyword === 'additionalProperties') {
    const names = (first.params as { additionalProperties?: string[] }).additionalProperties ?? [];
    return `${at}: unknown field ${names.map((n) => JSON.stringify(n)).join(', ')}`;
  }
  const field = first.instancePath.split('/').pop() ?? '';
  return `${at}: ${EXPECTED.get(field) ?? first.message}`;
}

export type RightsSpec = Omit<Rights, 'trackId'>;

export const WORLDWIDE: readonly RightsSpec[] = [{ territory: '*', allowed: true }];

const toMs = (v: number | string | undefined) =>
  v === undefined ? undefined : typeof v === 'number' ? v : Date.parse(v);

/** Validates sidecar JSON; returns rights rows or a reason. */
export function parseRightsSidecar(
  json: unknown,
): { ok: true; value: RightsSpec[] } | { ok: false; reason: string } {
  if (!sidecar.Check(json)) return { ok: false, reason: describeInvalid(json) };
  const seen = new Set<string>();
  const out: RightsSpec[] = [];
  for (const [i, t] of json.territories.entries()) {
    for (const key of ['availableFrom', 'availableUntil'] as const) {
      const v = t[key];
      if (typeof v === 'string' && Number.isNaN(Date.parse(v))) {
        return { ok: false, reason: `territories.${i}.${key}: not an ISO 8601 date` };
      }
    }
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
