/**
 * The embedded store's LMDB environment, shared by every storage/ adapter (catalog, users,
 * playlists, history, snapshots, and the pipeline's ledgers). Each port opens its own named
 * sub-databases in it with `openTable`; keys are arrays ordered like CQL partition key +
 * clustering key (ordered-binary), so a partition is a key prefix and a clustering slice is a
 * range read. Only storage/ adapters import this file.
 */
import { mkdirSync } from 'node:fs';
import type { Database, Key, RootDatabase } from 'lmdb';

/** Room for every port's sub-databases, ours and the pipeline's. */
export const DEFAULT_MAX_DBS = 64;

export type EmbeddedEnv = RootDatabase;

/** Opens (creating if needed) the LMDB environment in `dir`. Durable: commits are synced. */
export async function openEmbeddedEnv(dir: string): Promise<EmbeddedEnv> {
  mkdirSync(dir, { recursive: true });
  const { open } = await import('lmdb');
  // noSubdir: false, or lmdb takes a directory whose name has a dot (mktemp's /tmp/tmp.X) for a file.
  return open({ path: dir, noSubdir: false, maxDbs: DEFAULT_MAX_DBS, compression: false });
}

/** A named sub-database of JSON-like values (msgpack) under ordered array keys. */
export function openTable<V>(env: EmbeddedEnv, name: string): Database<V, Key> {
  return env.openDB<V, Key>({ name, encoding: 'msgpack', keyEncoding: 'ordered-binary' });
}

/** Upper bound for a prefix range read: every key starting with `prefix` sorts below it. */
export const prefixEnd = (prefix: readonly Key[]): Key[] => [...prefix, MAX_KEY_PART];
/** Sorts after any string or number in ordered-binary. */
export const MAX_KEY_PART = '\uffff\uffff';
