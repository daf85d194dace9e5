/**
 * Catalog identity and metadata of an ingested file.
 *
 * Track ids are derived from the SOURCE bytes: `trk_` + the first 24 hex digits (96 bits) of
 * their SHA-256. The same file ingested twice, from any path or machine, gets the same id,
 * which is what makes re-ingest a no-op and identical inputs one track. Artist and album ids
 * are derived from their normalised names the same way, so tracks of one artist/album
 * group together without a lookup. Callers that need fixed ids (the demo catalog) pass
 * them in instead.
 */
import { createHash } from 'node:crypto';
import { basename, extname } from 'node:path';
import type { Track } from '../../storage/catalog.ts';

const short = (s: string, n = 24) => createHash('sha256').update(s).digest('hex').slice(0, n);
const norm = (s: string) => s.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();

export const trackIdFromSource = (sourceSha256: string): string => `trk_${sourceSha256.slice(0, 24)}`;
export const artistIdFromName = (artist: string): string => `art_${short(norm(artist), 16)}`;
export const albumIdFromName = (artistId: string, album: string): string =>
  `alb_${short(`${artistId}\n${norm(album)}`, 16)}`;

/** ISO 3166 ISRC, e.g. USRC17607839 (hyphens allowed in tags and stripped). */
const ISRC_RE = /^[A-Z]{2}[A-Z0-9]{3}\d{7}$/;

export interface MetadataOverrides {
  title?: string;
  artistName?: string;
  albumName?: string;
  artistId?: string;
  albumId?: string;
  trackNumber?: number;
  isrc?: string;
}

/** Builds the catalog row from probe tags (title, artist, album, track, ISRC/TSRC) and overrides. */
export function trackFromTags(
  trackId: string,
  sourcePath: string,
  tags: Record<string, string>,
  durationMs: number,
  overrides: MetadataOverrides = {},
): Track {
  const title = overrides.title ?? (tags.title?.trim() || basename(sourcePath, extname(sourcePath)));
  const artistName =
    overrides.artistName ?? (tags.artist?.trim() || tags.album_artist?.trim() || 'Unknown Artist');
  const albumName = overrides.albumName ?? (tags.album?.trim() || title);
  const artistId = overrides.artistId ?? artistIdFromName(artistName);
  const albumId = overrides.albumId ?? albumIdFromName(artistId, albumName);
  const trackNo = overrides.trackNumber ?? Number.parseInt(tags.track ?? tags.tracknumber ?? '', 10);
  const isrcRaw = (overrides.isrc ?? tags.isrc ?? tags.tsrc ?? '').replace(/-/g, '').trim().toUpperCase();
  const track: Track = {
    id: trackId,
    title,
    artistId,
    artistName,
    albumId,
    albumName,
    trackNumber: Number.isInteger(trackNo) && trackNo > 0 ? trackNo : 1,
    durationMs,
  };
  if (ISRC_RE.test(isrcRaw)) track.isrc = isrcRaw;
  return track;
}
