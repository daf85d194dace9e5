/**
 * Translates LMDB failures (map full, I/O errors, a closed environment) into
 * `StorageError('unavailable')` at the edge of every embedded port, as the CQL adapter does for
 * driver errors, so callers never see an LMDB error type. Our own StorageErrors pass through.
 */
import { StorageError } from './errors.ts';

export function guardEmbedded<T extends object>(port: T, name: string): T {
  const guarded = {} as Record<string, unknown>;
  for (const [key, value] of Object.entries(port)) {
    guarded[key] =
      typeof value !== 'function'
        ? value
        : async (...args: unknown[]) => {
            try {
              return await (value as (...a: unknown[]) => Promise<unknown>).apply(port, args);
            } catch (e) {
              if (e instanceof StorageError) throw e;
              throw new StorageError(
                'unavailable',
                `embedded ${name}.${key}: ${(e as Error)?.message ?? String(e)}`,
                { cause: e },
              );
            }
          };
  }
  return guarded as T;
}
