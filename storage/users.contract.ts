/**
 * Users port contract (storage/users.ts), run against every adapter: users.test.ts (LMDB) and
 * users.engine.test.ts (CQL node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User, UserStore } from './users.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

const user = (id: string, over: Partial<User> = {}): User => ({
  id,
  displayName: `User ${id}`,
  plan: 'premium',
  country: 'SE',
  quality: 'high',
  ...over,
});

export function usersContract(adapter: string, open: PortFactory<UserStore>): void {
  describe(`users contract (${adapter})`, () => {
    let opened: OpenedPort<UserStore>;
    let u: UserStore;
    beforeAll(async () => {
      opened = await open();
      u = opened.port;
    });
    afterAll(() => opened?.close());

    it('users - put then get returns the same user; unknown is undefined', async () => {
      await u.putUser(user('u1'));
      expect(await u.getUser('u1')).toEqual(user('u1'));
      expect(await u.getUser('nobody')).toBeUndefined();
    });

    it('users - putUser is an upsert: the last write wins', async () => {
      await u.putUser(user('u2'));
      await u.putUser(user('u2', { plan: 'free', quality: 'normal', country: 'US', displayName: 'Bo' }));
      expect(await u.getUser('u2')).toEqual(
        user('u2', { plan: 'free', quality: 'normal', country: 'US', displayName: 'Bo' }),
      );
    });

    it('users - every plan and quality round-trips', async () => {
      for (const plan of ['free', 'premium'] as const)
        for (const quality of ['low', 'normal', 'high', 'very_high'] as const) {
          const id = `q-${plan}-${quality}`;
          await u.putUser(user(id, { plan, quality }));
          expect(await u.getUser(id)).toEqual(user(id, { plan, quality }));
        }
    });

    it('users - bad input is bad_request and stores nothing', async () => {
      expect(await storageErrorCode(u.putUser(user('')))).toBe('bad_request');
      expect(await storageErrorCode(u.putUser(user('b1', { plan: 'gold' as never })))).toBe('bad_request');
      expect(await storageErrorCode(u.putUser(user('b2', { country: 'Sweden' })))).toBe('bad_request');
      expect(await storageErrorCode(u.putUser(user('b3', { country: 'se' })))).toBe('bad_request');
      expect(await storageErrorCode(u.putUser(user('b5', { displayName: 7 as never })))).toBe('bad_request');
      expect(await storageErrorCode(u.putUser(user('b4', { quality: 'lossless' as never })))).toBe(
        'bad_request',
      );
      for (const id of ['b1', 'b2', 'b3', 'b4', 'b5']) expect(await u.getUser(id)).toBeUndefined();
    });

    it('users - a user survives a restart', async () => {
      await u.putUser(user('dur', { plan: 'free' }));
      u = await opened.reopen();
      expect(await u.getUser('dur')).toEqual(user('dur', { plan: 'free' }));
    });
  });
}
