/**
 * Storage errors: adapters translate driver errors into these kinds at the edge, so
 * callers never see a CQL or LMDB type. `code` matches the wire error codes of protocol/.
 */
export type StorageErrorCode =
  'not_found' | 'conflict' | 'forbidden' | 'bad_request' | 'unavailable' | 'timeout';

export class StorageError extends Error {
  override readonly name: string = 'StorageError';
  constructor(
    readonly code: StorageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isStorageError = (e: unknown, code?: StorageErrorCode): e is StorageError =>
  e instanceof StorageError && (code === undefined || e.code === code);
