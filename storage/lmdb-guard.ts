/**
 * Translates LMDB failures (map full, I/O errors, a closed environment) into
 * `StorageError('unavailable')` at the edge of every embedded port, as the CQL adapter does for
 * driver errors, so callers never see an LMDB error type. Our own StorageErrors pass through.
 */
import { StorageError } from './errors.ts';

/** Port methods that answer synchronously (a read of the map on the hot path): kept synchronous. */
const SYNCHRONOUS: ReadonlySet<string> = new Set(['headerNow']);

const unavailable = (name: string, key: string, e: unknown) =>
  new StorageError('unavailable', `embedded ${name}.${key}: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });

export function guardEmbedded<T extends object>(port: T, name: string): T {
  const guarded = {} as Record<string, unknown>;
  for (const [key, value] of Object.entries(port)) {
    if (typeof value === 'function' && SYNCHRONOUS.has(key)) {
      guarded[key] = (...args: unknown[]) => {
        try {
          return (value as (...a: unknown[]) => unknown).apply(port, args);
        } catch (e) {
          if (e instanceof StorageError) throw e;
          throw unavailable(name, key, e);
        }
      };
      continue;
    }
    guarded[key] =
      typeof value !== 'function'
        ? value
        : async (...args: unknown[]) => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(port, args);
            } catch (e) {
              if (e instanceof StorageError) throw e;
              throw unavailable(name, key, e);
            }
          };
  }
  return guarded as T;
}
