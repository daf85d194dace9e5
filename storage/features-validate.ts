/** Shape checks for finished plays, shared by both feature adapters so bad input gets one error. */
import { checkId } from './catalog-validate.ts';
import { StorageError } from './errors.ts';
import type { FinishedPlay } from './features.ts';

const bad = (msg: string): never => {
  throw new StorageError('bad_request', msg);
};

const isEpochMs = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;

export function validateFinishedPlay(p: FinishedPlay): void {
  checkId('play id', p?.playId);
  checkId('user id', p.userId);
  checkId('track id', p.trackId);
  if (!isEpochMs(p.ts)) bad(`play ${p.playId}: ts must be epoch ms`);
  if (typeof p.skipped !== 'boolean') bad(`play ${p.playId}: skipped must be a boolean`);
  if (!Array.isArray(p.neighbours)) bad(`play ${p.playId}: neighbours must be an array of track ids`);
  for (const n of p.neighbours) checkId('neighbour track id', n);
  if (typeof p.tail !== 'object' || p.tail === null || !Array.isArray(p.tail.tracks))
    bad(`play ${p.playId}: tail must be { tracks, lastTs }`);
  for (const t of p.tail.tracks) checkId('tail track id', t);
  if (!isEpochMs(p.tail.lastTs)) bad(`play ${p.playId}: tail.lastTs must be epoch ms`);
}

/** `cooccurring`'s limit: a positive integer (a negative one would slice from the end). */
export function validateLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new StorageError('bad_request', 'co-occurrence limit must be a positive integer');
}
