/**
 * Client-side prefetch cache: fetches the chunks each `prefetch` frame names, verifies each
 * one against the content address in its URL (`/o/<sha256 hex>`), and keeps them (bounded by
 * bytes, oldest out first) so a skip to a prefetched track plays from memory.
 *
 * Keys are URL paths without the query: a re-signed URL of the same chunk is the same chunk.
 */
import type { PrefetchFrame } from '../protocol/messages.ts';

export type ChunkVerifier = (path: string, bytes: Uint8Array) => Promise<boolean>;

/** Default verifier: SHA-256 of the body equals the hex content address ending the path. */
export const verifyByContentAddress: ChunkVerifier = async (path, bytes) => {
  const m = /\/([0-9a-f]{64})(?:\.[a-z0-9]+)?$/i.exec(path);
  if (!m) return true; // not content-addressed: nothing to check against
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  let hex = '';
  for (const b of digest) hex += b.toString(16).padStart(2, '0');
  return hex === m[1]!.toLowerCase();
};

export interface PrefetchCacheOptions {
  /** Base URL the relative chunk URLs are resolved against (http://host:port). */
  baseUrl: string;
  maxBytes?: number;
  fetch?: typeof fetch;
  verify?: ChunkVerifier;
  onError?: (url: string, err: Error) => void;
}

export interface CachedChunk {
  path: string;
  bytes: Uint8Array;
  fetchedAt: number;
}

export class PrefetchCache {
  private readonly chunks = new Map<string, CachedChunk>();
  private readonly inFlight = new Map<string, Promise<CachedChunk | undefined>>();
  private bytes = 0;
  private readonly fetchFn: typeof fetch;
  private readonly verify: ChunkVerifier;
  private readonly maxBytes: number;
  /** Chunks fetched but refused by verification. */
  rejected = 0;

  constructor(private readonly opts: PrefetchCacheOptions) {
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.verify = opts.verify ?? verifyByContentAddress;
    this.maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  }

  static keyOf(url: string): string {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    return path.replace(/^[a-z]+:\/\/[^/]+/i, '');
  }

  /** Starts fetching every URL of a prefetch frame; resolves when all have settled. */
  apply(frame: PrefetchFrame): Promise<void> {
    const urls = frame.items.flatMap((i) => (i.init_url ? [i.init_url, ...i.urls] : i.urls));
    return Promise.all(urls.map((u) => this.fetchOne(u))).then(() => undefined);
  }

  has(url: string): boolean {
    return this.chunks.has(PrefetchCache.keyOf(url));
  }

  get(url: string): CachedChunk | undefined {
    return this.chunks.get(PrefetchCache.keyOf(url));
  }

  /** Waits for a chunk being fetched (or already cached). */
  whenReady(url: string): Promise<CachedChunk | undefined> {
    const key = PrefetchCache.keyOf(url);
    return this.inFlight.get(key) ?? Promise.resolve(this.chunks.get(key));
  }

  get size(): { chunks: number; bytes: number } {
    return { chunks: this.chunks.size, bytes: this.bytes };
  }

  private fetchOne(url: string): Promise<CachedChunk | undefined> {
    const key = PrefetchCache.keyOf(url);
    const have = this.chunks.get(key);
    if (have) return Promise.resolve(have);
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = (async () => {
      try {
        const abs = new URL(url, this.opts.baseUrl).toString();
        const res = await this.fetchFn(abs);
        if (!res.ok) throw new Error(`HTTP ${res.status} for ${key}`);
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (!(await this.verify(key, bytes))) {
          this.rejected++;
          throw new Error(`chunk ${key} failed verification`);
        }
        const chunk = { path: key, bytes, fetchedAt: Date.now() };
        this.store(chunk);
        return chunk;
      } catch (err) {
        this.opts.onError?.(url, err as Error);
        return undefined;
      } finally {
        this.inFlight.delete(key);
      }
    })();
    this.inFlight.set(key, p);
    return p;
  }

  private store(chunk: CachedChunk): void {
    this.chunks.set(chunk.path, chunk);
    this.bytes += chunk.bytes.byteLength;
    // Map iteration order is insertion order: the first entries are the oldest.
    for (const [k, c] of this.chunks) {
      if (this.bytes <= this.maxBytes) break;
      this.chunks.delete(k);
      this.bytes -= c.bytes.byteLength;
    }
  }
}
