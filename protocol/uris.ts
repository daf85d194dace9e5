/**
 * Catalog uris on the wire: `spotify:<kind>:<id>`. A track uri names one track; a context
 * uri names something that resolves to an ordered list of tracks (playlist, album, artist).
 */

export const CONTEXT_KINDS = ['playlist', 'album', 'artist'] as const;
export type ContextKind = (typeof CONTEXT_KINDS)[number];
export type UriKind = 'track' | ContextKind;

/**
 * Names an id may not be: Object.prototype's members (`constructor`, `__proto__`,
 * `toString`...). Ids key plain records on every side (actors' bundle tables, caches); such
 * an id would read an inherited member as if it were a loaded track, or set a prototype.
 */
export const RESERVED_IDS: readonly string[] = Object.getOwnPropertyNames(Object.prototype);

/**
 * Ids are url-safe tokens: letters, digits, `_`, `-`, `.`; at most 128 characters; none of
 * RESERVED_IDS. Always followed by the end of the uri in the patterns below.
 */
const ID = `(?!(?:${RESERVED_IDS.join('|')})$)[A-Za-z0-9_.-]{1,128}`;

/** Whether `id` may name a catalog entity (track, playlist, album, artist). */
export function isCatalogId(id: string): boolean {
  return ID_ONLY.test(id);
}
const ID_ONLY = new RegExp(`^${ID}$`);

export const TRACK_URI_PATTERN = new RegExp(`^spotify:track:${ID}$`);
export const CONTEXT_URI_PATTERN = new RegExp(`^spotify:(?:${CONTEXT_KINDS.join('|')}):${ID}$`);
const ANY_URI = new RegExp(`^spotify:(track|${CONTEXT_KINDS.join('|')}):(${ID})$`);

export interface ParsedUri {
  kind: UriKind;
  id: string;
}

/** Splits a uri into kind and id; null when it is not one of ours. */
export function parseUri(uri: string): ParsedUri | null {
  const m = ANY_URI.exec(uri);
  if (!m) return null;
  return { kind: m[1] as UriKind, id: m[2]! };
}

export function trackUri(id: string): string {
  return `spotify:track:${id}`;
}
