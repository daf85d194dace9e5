/**
 * Catalog uris on the wire: `spotify:<kind>:<id>`. A track uri names one track; a context
 * uri names something that resolves to an ordered list of tracks (playlist, album, artist).
 */

export const TRACK_KINDS = ['track'] as const;
export const CONTEXT_KINDS = ['playlist', 'album', 'artist'] as const;
export type ContextKind = (typeof CONTEXT_KINDS)[number];
export type UriKind = 'track' | ContextKind;

/** Ids are url-safe tokens: letters, digits, `_`, `-`, `.`; at most 128 characters. */
const ID = '[A-Za-z0-9_.-]{1,128}';

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

export function contextUri(kind: ContextKind, id: string): string {
  return `spotify:${kind}:${id}`;
}
