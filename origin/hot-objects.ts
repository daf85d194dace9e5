/**
 * Which objects the origin serves from memory. An LRU bounded by BYTES (lru-cache's
 * maxSize) holds whole objects; an object is admitted on its SECOND request within the
 * "seen" window, so a one-off read of a long tail object streams from disk and never
 * evicts a chunk that many listeners are fetching (first chunks of popular tracks, which
 * are exactly what prefetch asks for). Objects larger than `maxObjectBytes` always stream.
 * Sizes are cached too: objects are immutable, so a size never goes stale (unknown keys are
 * not cached, an object may appear later).
 */
import { LRUCache } from 'lru-cache';

export const DEFAULT_HOT_BYTES = 256 * 1024 * 1024;
export const DEFAULT_HOT_MAX_OBJECT_BYTES = 4 * 1024 * 1024;
const SEEN_ENTRIES = 65_536;
const SIZE_ENTRIES = 262_144;

export interface HotObjectsOptions {
  maxBytes: number;
  maxObjectBytes: number;
}

export class HotObjects {
  private readonly bodies: LRUCache<string, Buffer>;
  private readonly seen = new LRUCache<string, true>({ max: SEEN_ENTRIES });
  private readonly sizes = new LRUCache<string, number>({ max: SIZE_ENTRIES });
  hits = 0;
  misses = 0;

  constructor(
    private readonly opts: HotObjectsOptions = {
      maxBytes: DEFAULT_HOT_BYTES,
      maxObjectBytes: DEFAULT_HOT_MAX_OBJECT_BYTES,
    },
  ) {
    this.bodies = new LRUCache<string, Buffer>({
      maxSize: Math.max(1, opts.maxBytes),
      sizeCalculation: (b) => Math.max(1, b.length),
    });
  }

  /** The whole object when hot. */
  get(key: string): Buffer | undefined {
    const b = this.bodies.get(key);
    if (b) this.hits++;
    else this.misses++;
    return b;
  }

  knownSize(key: string): number | undefined {
    return this.sizes.get(key);
  }

  rememberSize(key: string, size: number): void {
    this.sizes.set(key, size);
  }

  /** Records a miss; true when this object should now be loaded into memory. */
  shouldAdmit(key: string, size: number): boolean {
    if (size > this.opts.maxObjectBytes || size > this.opts.maxBytes) return false;
    if (this.seen.has(key)) {
      this.seen.delete(key);
      return true;
    }
    this.seen.set(key, true);
    return false;
  }

  admit(key: string, body: Buffer): void {
    this.bodies.set(key, body);
  }

  get bytes(): number {
    return this.bodies.calculatedSize;
  }
}
