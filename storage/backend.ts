/**
 * Which engine a set of stores runs on, and the handle to it. FOR storage/ ADAPTERS ONLY:
 * sibling ports (e.g. the pipeline's ledgers) use it to open their tables in the same LMDB
 * environment or CQL session; nothing outside storage/ should touch it.
 */
import type { Client } from 'cassandra-driver';
import type { EmbeddedEnv } from './lmdb-env.ts';

export type StoreBackend =
  | { kind: 'embedded'; env: EmbeddedEnv; dataDir: string }
  | { kind: 'scylla'; client: Client; keyspace: string };
