/** The cluster's section of the app config (app/config.ts parses it), and its defaults. */

export const DEFAULT_CLUSTER_NAME = 'playback';
/** Node lease lifetime without renewal: the longest a paused owner can keep a listener from others. */
export const DEFAULT_LEASE_TTL_MS = 4_000;

export interface ClusterConfig {
  natsUrl: string;
  /** Unique among the live nodes of the cluster: [A-Za-z0-9_-]{1,64}. */
  nodeId: string;
  /** Subject prefix and lease buckets (`<name>_leases`, `<name>_listeners`): one per cluster on a NATS. */
  name: string;
  /** Node lease lifetime without renewal (its bucket's TTL); renewed every quarter of it. */
  leaseTtlMs: number;
  /** The acknowledged-command journal on JetStream (CLUSTER_JOURNAL, default on). */
  journal: boolean;
}
