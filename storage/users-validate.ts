/** Shape checks for user writes, shared by both adapters. */
import { checkId } from './catalog-validate.ts';
import { StorageError } from './errors.ts';
import type { User } from './users.ts';

const PLANS = new Set(['free', 'premium']);
const QUALITIES = new Set(['low', 'normal', 'high', 'very_high']);

export function validateUser(u: User): void {
  checkId('user id', u?.id);
  if (typeof u.displayName !== 'string')
    throw new StorageError('bad_request', `user ${u.id}: displayName must be a string`);
  if (!PLANS.has(u.plan)) throw new StorageError('bad_request', `user ${u.id}: plan must be free or premium`);
  if (!/^[A-Z]{2}$/.test(u.country ?? ''))
    throw new StorageError('bad_request', `user ${u.id}: country must be an ISO 3166-1 alpha-2 code`);
  if (!QUALITIES.has(u.quality))
    throw new StorageError(
      'bad_request',
      `user ${u.id}: quality must be one of ${[...QUALITIES].join(', ')}`,
    );
}
