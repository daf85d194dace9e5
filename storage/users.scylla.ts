/** CQL users adapter (table `users`). */
import type { Client } from 'cassandra-driver';
import type { Plan, Quality } from '../actors/types.ts';
import type { UserStore } from './users.ts';
import { validateUser } from './users-validate.ts';
import { exec, IDEMPOTENT_WRITE, READ } from './cql-client.ts';

export function createScyllaUsers(client: Client, ks: string): UserStore {
  const put = `INSERT INTO ${ks}.users (user_id, display_name, plan, country, quality) VALUES (?, ?, ?, ?, ?)`;
  const get = `SELECT * FROM ${ks}.users WHERE user_id = ?`;
  return {
    async putUser(u) {
      validateUser(u);
      await exec(client, put, [u.id, u.displayName ?? '', u.plan, u.country, u.quality], IDEMPOTENT_WRITE);
    },
    async getUser(id) {
      const r = (await exec(client, get, [id], READ)).first();
      if (!r) return undefined;
      return {
        id: r.user_id,
        displayName: r.display_name ?? '',
        plan: r.plan as Plan,
        country: r.country,
        quality: r.quality as Quality,
      };
    },
  };
}
