/**
 * Memo of decoded cache values, keyed by the raw bytes each was decoded from.
 *
 * A warm playlist view reads the same page and the same 100 track values again and again;
 * decoding them (JSON.parse of the page and of each track) was most of what the view cost
 * beyond a bare MGET (loadtest/README.md, "Playlist view"). The memo holds, per cache key, the
 * bytes last read and the value decoded from them: a read whose bytes are equal (a byte-wise
 * compare, no decode) gets that value; any other bytes are decoded afresh and replace it. So a
 * changed value in the cache is seen at the read that returns it, never a stale one.
 *
 * Values are deep-frozen: every reader of an unchanged key gets the same object, and none can
 * change what the others see. Bytes that do not decode are not remembered (the next read
 * decodes them again and misses again, as without the memo). Memory is bounded by the raw
 * bytes kept (`maxBytes`), least recently used first out; the decoded values are a few times
 * their raw size.
 */
import { LRUCache } from 'lru-cache';

interface Decoded<T> {
  raw: Buffer;
  value: T;
}

export interface DecodedMemo<T> {
  /** The value `raw` decodes to (from the memo when `key` last held the same bytes); undefined if it does not decode. */
  decode(key: string, raw: Buffer): T | undefined;
  /** Bytes held (for tests and metrics). */
  readonly bytes: number;
  clear(): void;
}

/** Freezes `v` and everything it holds (decoded JSON: plain objects and arrays only). */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/**
 * `parse` turns bytes into a value, or undefined when they are not a valid one (it may throw:
 * that counts as undefined). `maxBytes` bounds the raw bytes remembered; a value larger than
 * that is decoded and not remembered.
 */
export function createDecodedMemo<T>(
  parse: (raw: Buffer) => T | undefined,
  maxBytes: number,
): DecodedMemo<T> {
  const entries = new LRUCache<string, Decoded<T>>({
    maxSize: maxBytes,
    // The key's length too, so many small values cannot exceed the bound through their keys.
    sizeCalculation: (d, key) => d.raw.length + key.length + 1,
  });
  return {
    decode(key, raw) {
      const held = entries.get(key);
      if (held !== undefined && held.raw.equals(raw)) return held.value;
      let value: T | undefined;
      try {
        value = parse(raw);
      } catch {
        value = undefined;
      }
      if (value === undefined) {
        entries.delete(key);
        return undefined;
      }
      deepFreeze(value);
      // A copy: `raw` may be a view into a socket read that holds other replies too.
      if (raw.length + key.length + 1 <= maxBytes) entries.set(key, { raw: Buffer.from(raw), value });
      else entries.delete(key);
      return value;
    },
    get bytes() {
      return entries.calculatedSize;
    },
    clear() {
      entries.clear();
    },
  };
}
