/** Shape checks for session snapshots, shared by both adapters. */
import { checkId } from './catalog-validate.ts';
import { StorageError } from './errors.ts';
import type { SessionSnapshot } from './snapshots.ts';

/** A snapshot larger than this is a bug in the actor, not something to store. */
export const MAX_SNAPSHOT_BYTES = 512 * 1024;

/** Validates and serialises the state once, so both adapters store identical JSON. */
export function snapshotStateJson(s: SessionSnapshot): string {
  checkId('user id', s?.userId);
  if (!Number.isSafeInteger(s.version) || s.version < 0)
    throw new StorageError('bad_request', 'snapshot version must be a non-negative integer');
  if (!Number.isSafeInteger(s.savedAt) || s.savedAt < 0)
    throw new StorageError('bad_request', 'snapshot savedAt must be epoch ms');
  let json: string | undefined;
  try {
    json = JSON.stringify(s.state);
  } catch (e) {
    throw new StorageError('bad_request', 'snapshot state is not JSON-serialisable', { cause: e });
  }
  if (json === undefined) throw new StorageError('bad_request', 'snapshot state is not JSON-serialisable');
  if (json.length > MAX_SNAPSHOT_BYTES)
    throw new StorageError('bad_request', `snapshot state exceeds ${MAX_SNAPSHOT_BYTES} bytes`);
  return json;
}

export const staleSnapshot = (userId: string, stored: number, offered: number): StorageError =>
  new StorageError('conflict', `snapshot of ${userId}: stored version ${stored} is newer than ${offered}`);

/** A fencing token: a non-negative integer (a lease revision). */
export function checkFence(fence: number | undefined): void {
  if (fence !== undefined && (!Number.isSafeInteger(fence) || fence < 0))
    throw new StorageError('bad_request', 'fencing token must be a non-negative integer');
}

export const fencedOut = (userId: string, stored: number, offered: number): StorageError =>
  new StorageError(
    'conflict',
    `snapshot of ${userId}: fenced out (token ${offered}, a newer owner holds ${stored})`,
  );
