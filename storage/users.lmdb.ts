/** Embedded users adapter: table `users` keyed [userId]. */
import type { User, UserStore } from './users.ts';
import { validateUser } from './users-validate.ts';
import { type EmbeddedEnv, openTable } from './lmdb-env.ts';

export function createLmdbUsers(env: EmbeddedEnv): UserStore {
  const users = openTable<User>(env, 'users');
  return {
    async putUser(user) {
      validateUser(user);
      await users.put([user.id], user);
    },
    async getUser(id) {
      return users.get([id]);
    },
  };
}
