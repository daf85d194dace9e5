/**
 * Users port: the account facts a session needs (plan, country, quality).
 * Adapters: storage/users.lmdb.ts, storage/users.scylla.ts; contract suite
 * storage/users.contract.ts.
 */
import type { Plan, Quality } from '../actors/types.ts';

export interface User {
  id: string;
  displayName: string;
  plan: Plan;
  /** ISO 3166-1 alpha-2. */
  country: string;
  quality: Quality;
}

export interface UserStore {
  /**
   * Upsert by id (the last write wins); durable once resolved. `bad_request` (nothing written)
   * for an empty or over-long id, an unknown plan or quality, or a country that is not two
   * upper-case letters.
   */
  putUser(user: User): Promise<void>;
  /** The stored user exactly as written; undefined when unknown. */
  getUser(id: string): Promise<User | undefined>;
}
