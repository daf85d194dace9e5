/** Shared history helpers: month partitions, cursor encoding, input checks. */
import { monthOf } from './event-codec.ts';
import { checkId } from './catalog-validate.ts';
import { StorageError } from './errors.ts';
import { DEFAULT_HISTORY_PAGE, type HistoryEntry, MAX_HISTORY_PAGE } from './history.ts';

/** Position of the last entry returned; the next page starts strictly after it. */
export interface HistoryCursor {
  month: string;
  ts: number;
  playId: string;
}

export const encodeCursor = (e: HistoryEntry): string =>
  Buffer.from(JSON.stringify([monthOf(e.ts), e.ts, e.playId])).toString('base64url');

export function decodeCursor(cursor: string): HistoryCursor {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && typeof v[0] === 'string' && Number.isFinite(v[1]) && typeof v[2] === 'string')
      return { month: v[0], ts: v[1], playId: v[2] };
  } catch {
    // fall through to the error below
  }
  throw new StorageError('bad_request', 'malformed history cursor');
}

export function pageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_HISTORY_PAGE;
  if (!Number.isInteger(limit) || limit < 1)
    throw new StorageError('bad_request', 'history limit must be a positive integer');
  return Math.min(limit, MAX_HISTORY_PAGE);
}

export function validateHistoryEntry(e: HistoryEntry): void {
  checkId('user id', e?.userId);
  checkId('play id', e.playId);
  checkId('track id', e.trackId);
  if (!Number.isSafeInteger(e.ts) || e.ts < 0)
    throw new StorageError('bad_request', 'history ts must be epoch ms');
  if (!Number.isFinite(e.msPlayed) || e.msPlayed < 0)
    throw new StorageError('bad_request', 'history msPlayed must be a non-negative number');
}
