/** Users port: the account facts a session needs (plan, country, quality). */
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
  putUser(user: User): Promise<void>;
  /** undefined when unknown. */
  getUser(id: string): Promise<User | undefined>;
}
