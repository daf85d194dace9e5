/** Shape checks for catalog writes, shared by both adapters so bad rows get one error. */
import type { AudioFile, Rights, Track } from './catalog.ts';
import { StorageError } from './errors.ts';
import { MAX_ID_LENGTH } from './playlists.ts';

const bad = (msg: string): never => {
  throw new StorageError('bad_request', msg);
};

export function checkId(what: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH)
    bad(`${what} must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
}

const isInt = (n: unknown, min = 0): n is number => Number.isInteger(n) && (n as number) >= min;

export function validateTrack(t: Track): void {
  checkId('track id', t?.id);
  checkId('artist id', t.artistId);
  checkId('album id', t.albumId);
  if (typeof t.title !== 'string') bad(`track ${t.id}: title must be a string`);
  // The CQL adapter reads a missing name back as '': require them so both adapters agree.
  if (typeof t.artistName !== 'string') bad(`track ${t.id}: artistName must be a string`);
  if (typeof t.albumName !== 'string') bad(`track ${t.id}: albumName must be a string`);
  if (t.isrc !== undefined && typeof t.isrc !== 'string') bad(`track ${t.id}: isrc must be a string`);
  if (!isInt(t.trackNumber, 0)) bad(`track ${t.id}: trackNumber must be a non-negative integer`);
  if (!isInt(t.durationMs, 0)) bad(`track ${t.id}: durationMs must be a non-negative integer`);
}

export function validateAudioFile(f: AudioFile): void {
  checkId('track id', f?.trackId);
  if (!isInt(f.bitrateKbps, 1)) bad(`audio file of ${f.trackId}: bitrateKbps must be a positive integer`);
  if (!Array.isArray(f.chunks)) bad(`audio file of ${f.trackId}: chunks must be an array`);
}

export function validateRights(r: Rights): void {
  checkId('track id', r?.trackId);
  if (typeof r.territory !== 'string' || !/^([A-Z]{2}|\*)$/.test(r.territory))
    bad(`rights of ${r.trackId}: territory must be an ISO 3166-1 alpha-2 code or '*'`);
  if (typeof r.allowed !== 'boolean') bad(`rights of ${r.trackId}: allowed must be a boolean`);
}
