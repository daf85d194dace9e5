/**
 * Client-side prefetch cache: fetches the chunks each `prefetch` frame names, verifies each
 * one against the chunk table (origin/chunk-verify.ts: byte size, and SHA-256 where known),
 * refetches ONCE on a mismatch, and keeps verified chunks (bounded by bytes, oldest out
 * first) so a skip to a prefetched track plays from memory.
 *
 * What a chunk is checked against:
 * - its SHA-256 is its content address, the last segment of the URL path (`/o/<sha256>`);
 * - its byte size comes from a `playback` frame's chunk table (`learn()`; the SDK calls it on
 *   every playback frame) or from an explicit expectation passed to `fetchChunk()`. A prefetch
 *   frame carries no sizes, so a prefetched chunk of a track not yet played is checked by hash
 *   alone (a hash match implies the right size).
 *
 * Why one refetch: a mismatch means a CDN, proxy or disk served damaged bytes; one retry with
 * `Cache-Control: no-cache` (so a caching layer revalidates) fixes a transient fault, and a
 * second mismatch is reported (ChunkFetchError with the verdict) rather than retried forever.
 *
 * Keys are URL paths without the query: a re-signed URL of the same chunk is the same chunk.
 */
import { verifyChunk, type ChunkExpectation, type ChunkVerdict } from '../protocol/chunk-verify.ts';
import type { PlaybackFrame, PrefetchFrame } from '../protocol/messages.ts';
import { ChunkFetchError } from './errors.ts';

export interface PrefetchCacheOptions {
  /** Base URL the relative chunk URLs are resolved against (http://host:port). */
  baseUrl: string;
  maxBytes?: number;
  fetch?: typeof fetch;
  /** Called for every chunk that could not be fetched intact (after the refetch). */
  onError?: (url: string, err: ChunkFetchError) => void;
}

export interface CachedChunk {
  path: string;
  bytes: Uint8Array;
  fetchedAt: number;
}

/** What `fetchChunk` did: the verified chunk, or why not; `mismatches` lists refused attempts. */
export type ChunkFetchResult =
  | { ok: true; chunk: CachedChunk; attempts: number; mismatches: ChunkVerdict[] }
  | { ok: false; error: ChunkFetchError; attempts: number; mismatches: ChunkVerdict[] };

/** A partial row of the chunk table: whatever is known about the chunk. */
export type ChunkHint = Partial<ChunkExpectation>;

const CONTENT_ADDRESS = /\/([0-9a-f]{64})(?:\.[a-z0-9]+)?$/i;
/**
 * The refetch bypasses the browser's HTTP cache (`cache`, standard fetch; Node 20's RequestInit
 * type lacks it though undici accepts it) and asks CDNs and proxies to revalidate.
 */
const REVALIDATE = { cache: 'no-store', headers: { 'cache-control': 'no-cache' } } as RequestInit;
/** Learned sizes kept at most (a few tracks' chunk tables); cleared wholesale past it. */
const MAX_LEARNED = 4096;

export class PrefetchCache {
  private readonly chunks = new Map<string, CachedChunk>();
  private readonly inFlight = new Map<string, Promise<ChunkFetchResult>>();
  private readonly sizes = new Map<string, number>();
  private hold: Promise<void> | undefined;
  private bytes = 0;
  private readonly fetchFn: typeof fetch;
  private readonly maxBytes: number;
  /** Fetched bodies refused by verification (each attempt counts). */
  rejected = 0;
  /** Refetches made after a mismatch. */
  refetched = 0;

  constructor(private readonly opts: PrefetchCacheOptions) {
    this.fetchFn = opts.fetch ?? globalThis.fetch.bind(globalThis);
    this.maxBytes = opts.maxBytes ?? 16 * 1024 * 1024;
  }

  static keyOf(url: string): string {
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    return path.replace(/^[a-z]+:\/\/[^/]+/i, '');
  }

  /**
   * Starts fetching every URL of a prefetch frame (once the hold, if any, is released);
   * resolves when all have settled.
   */
  apply(frame: PrefetchFrame): Promise<void> {
    const urls = frame.items.flatMap((i) => (i.init_url ? [i.init_url, ...i.urls] : i.urls));
    const fetchAll = () => Promise.all(urls.map((u) => this.fetchChunk(u))).then(() => undefined);
    // Unheld, the fetches start now (whenReady sees them in flight at once).
    return this.hold ? this.hold.then(fetchAll) : fetchAll();
  }

  /**
   * Holds prefetching until `until` settles: a player starting a track wants the whole link
   * for the chunk it is about to play, not shared with the next track's prefetch. A chunk
   * asked for with fetchChunk is fetched at once all the same.
   */
  holdPrefetch(until: Promise<unknown>): void {
    const hold: Promise<void> = until.then(
      () => {
        if (this.hold === hold) this.hold = undefined;
      },
      () => {
        if (this.hold === hold) this.hold = undefined;
      },
    );
    this.hold = hold;
  }

  /** Records the byte sizes of a playback frame's chunk table, so its chunks are size-checked too. */
  learn(frame: PlaybackFrame): void {
    if (this.sizes.size + frame.urls.length > MAX_LEARNED) this.sizes.clear();
    frame.urls.forEach((url, i) => {
      const size = frame.chunks.sizes[i];
      if (size !== undefined) this.sizes.set(PrefetchCache.keyOf(url), size);
    });
    // The first chunk (the chunk holding the start position, at the start bitrate) is in this
    // table only at the same bitrate, where its URL is one of `urls`: sized above. At another
    // bitrate its size is unknown here and its hash alone checks it.
  }

  /** What is known about a chunk: hash from its content address, size from a learned table. */
  expectationOf(url: string, hint: ChunkHint = {}): ChunkHint {
    const key = PrefetchCache.keyOf(url);
    const sha256 = hint.sha256 ?? CONTENT_ADDRESS.exec(key)?.[1];
    const bytes = hint.bytes ?? this.sizes.get(key);
    return { ...(sha256 ? { sha256 } : {}), ...(bytes !== undefined ? { bytes } : {}) };
  }

  has(url: string): boolean {
    return this.chunks.has(PrefetchCache.keyOf(url));
  }

  get(url: string): CachedChunk | undefined {
    return this.chunks.get(PrefetchCache.keyOf(url));
  }

  /** Waits for a chunk being fetched (or already cached); undefined when it failed. */
  whenReady(url: string): Promise<CachedChunk | undefined> {
    const key = PrefetchCache.keyOf(url);
    const running = this.inFlight.get(key);
    if (running) return running.then((r) => (r.ok ? r.chunk : undefined));
    return Promise.resolve(this.chunks.get(key));
  }

  /** Forgets every cached chunk (a listener signing out; a benchmark's cold start). */
  clear(): void {
    this.chunks.clear();
    this.bytes = 0;
  }

  get size(): { chunks: number; bytes: number } {
    return { chunks: this.chunks.size, bytes: this.bytes };
  }

  /**
   * Fetches one chunk (or returns it from the cache), verifies it against `hint` merged with
   * what the cache knows, refetches once on a mismatch, and caches it when intact. Never rejects.
   */
  fetchChunk(url: string, hint: ChunkHint = {}): Promise<ChunkFetchResult> {
    const key = PrefetchCache.keyOf(url);
    const have = this.chunks.get(key);
    if (have) return Promise.resolve({ ok: true, chunk: have, attempts: 0, mismatches: [] });
    const running = this.inFlight.get(key);
    if (running) return running;
    const p = this.fetchVerified(url, key, this.expectationOf(url, hint)).finally(() =>
      this.inFlight.delete(key),
    );
    this.inFlight.set(key, p);
    return p;
  }

  private async fetchVerified(url: string, key: string, expect: ChunkHint): Promise<ChunkFetchResult> {
    const mismatches: ChunkVerdict[] = [];
    let attempts = 0;
    const fail = (error: ChunkFetchError): ChunkFetchResult => {
      this.opts.onError?.(url, error);
      return { ok: false, error, attempts, mismatches };
    };
    while (attempts < 2) {
      attempts++;
      let body: Uint8Array;
      try {
        body = await this.download(url, key, attempts > 1);
      } catch (err) {
        return fail(err as ChunkFetchError);
      }
      const verdict = await check(body, expect);
      if (verdict.ok) {
        const chunk = { path: key, bytes: body, fetchedAt: Date.now() };
        this.store(chunk);
        return { ok: true, chunk, attempts, mismatches };
      }
      this.rejected++;
      mismatches.push(verdict);
      if (attempts < 2) this.refetched++;
    }
    const last = mismatches[mismatches.length - 1] as Extract<ChunkVerdict, { ok: false }>;
    return fail(
      new ChunkFetchError(
        last.reason,
        key,
        `chunk ${key} failed verification twice (expected ${last.expected}, got ${last.actual})`,
        { expected: last.expected, actual: last.actual },
      ),
    );
  }

  private async download(url: string, key: string, revalidate: boolean): Promise<Uint8Array> {
    let res: Response;
    try {
      const abs = new URL(url, this.opts.baseUrl).toString();
      res = await this.fetchFn(abs, revalidate ? REVALIDATE : {});
    } catch (err) {
      throw new ChunkFetchError(
        'network',
        key,
        `fetching ${key} failed: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      throw new ChunkFetchError('http_status', key, `HTTP ${res.status} for ${key}`, { status: res.status });
    }
    try {
      return new Uint8Array(await res.arrayBuffer());
    } catch (err) {
      throw new ChunkFetchError(
        'network',
        key,
        `reading ${key} failed: ${(err as Error).message}`,
        {},
        { cause: err },
      );
    }
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

/** verifyChunk with whatever is known; with no size, the hash alone decides (it implies the size). */
function check(body: Uint8Array, expect: ChunkHint): Promise<ChunkVerdict> | ChunkVerdict {
  if (expect.bytes === undefined && expect.sha256 === undefined) return { ok: true };
  return verifyChunk(body, {
    bytes: expect.bytes ?? body.byteLength,
    ...(expect.sha256 !== undefined ? { sha256: expect.sha256 } : {}),
  });
}
