/**
 * Scrobbles port: the listening-service account each listener linked (a ListenBrainz token
 * and endpoint), and the plays already submitted, so a redelivered event is not submitted
 * twice. Adapters: storage/scrobbles.lmdb.ts, storage/scrobbles.scylla.ts; contract suite
 * storage/scrobbles.contract.ts.
 */
import { checkId } from './catalog-validate.ts';
import { StorageError } from './errors.ts';

export interface ScrobbleLink {
  userId: string;
  /** Base URL of the ListenBrainz API, e.g. `https://api.listenbrainz.org`. */
  endpoint: string;
  /** The listener's user token; empty once unlinked. */
  token: string;
  /** Epoch ms of the link (or of the unlink). */
  linkedAt: number;
  /** False once the service refused the token (401): nothing is submitted until relinked. */
  active: boolean;
  /** Why it was unlinked (for the listener), when it was. */
  unlinkedReason?: string;
}

export const MAX_TOKEN_LENGTH = 512;
export const MAX_ENDPOINT_LENGTH = 512;

export interface ScrobbleStore {
  /** Links (or relinks) a listener: upsert by user id, active. `bad_request` for bad fields. */
  putLink(link: Omit<ScrobbleLink, 'active' | 'unlinkedReason'>): Promise<void>;
  /** The listener's link as stored; undefined when they never linked or removed it. */
  getLink(userId: string): Promise<ScrobbleLink | undefined>;
  /** Marks the link inactive with a reason and forgets the token; nothing when there is none. */
  deactivateLink(userId: string, reason: string, at: number): Promise<void>;
  /** Removes the link; idempotent. */
  deleteLink(userId: string): Promise<void>;
  /** Which of `playIds` were recorded as submitted. */
  submittedPlays(playIds: readonly string[]): Promise<Set<string>>;
  /** Records plays as submitted; idempotent. Durable once resolved. */
  markSubmitted(playIds: readonly string[], at: number): Promise<void>;
}

export function validateLink(l: Omit<ScrobbleLink, 'active' | 'unlinkedReason'>): void {
  checkId('user id', l?.userId);
  if (typeof l.token !== 'string' || l.token.length === 0 || l.token.length > MAX_TOKEN_LENGTH)
    throw new StorageError(
      'bad_request',
      `token must be a non-empty string of at most ${MAX_TOKEN_LENGTH} characters`,
    );
  if (
    typeof l.endpoint !== 'string' ||
    l.endpoint.length > MAX_ENDPOINT_LENGTH ||
    !/^https?:\/\/[^\s/]+/.test(l.endpoint)
  )
    throw new StorageError('bad_request', 'endpoint must be an http(s) URL');
  if (!Number.isSafeInteger(l.linkedAt) || l.linkedAt < 0)
    throw new StorageError('bad_request', 'linkedAt must be epoch ms');
}

export function checkPlayIds(playIds: readonly string[]): void {
  if (!Array.isArray(playIds)) throw new StorageError('bad_request', 'play ids must be an array');
  for (const id of playIds) checkId('play id', id);
}
