/** Users port: the account facts a session needs (plan, country, quality). */

export type Plan = 'free' | 'premium';
export type Quality = 'low' | 'normal' | 'high' | 'very_high';

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
