/**
 * The prefetch cache against a tiny real HTTP origin (node:http on loopback) that can serve
 * damaged bytes: verification against the chunk table, the one refetch, the final verdict.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { PlaybackFrame, PrefetchFrame } from '../protocol/messages.ts';
import { ChunkFetchError } from './errors.ts';
import { PrefetchCache } from './prefetch-cache.ts';

const chunk = randomBytes(5000);
const address = createHash('sha256').update(chunk).digest('hex');
const path = `/o/${address}`;

/** How each successive request for the chunk is answered. */
type Answer = 'good' | 'flipped' | 'truncated' | 'missing';
let script: Answer[] = [];
let requests: IncomingHttpHeaders[] = [];
let server: Server;
let baseUrl: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (!req.url?.startsWith(path)) return void res.writeHead(404).end();
    requests.push(req.headers);
    const answer = script.shift() ?? 'good';
    if (answer === 'missing') return void res.writeHead(404).end();
    let body = Buffer.from(chunk);
    if (answer === 'flipped') body[17]! ^= 0xff;
    if (answer === 'truncated') body = body.subarray(0, body.length - 10);
    res.writeHead(200, { 'content-type': 'audio/webm', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

beforeEach(() => {
  script = [];
  requests = [];
});

const signed = `${path}?exp=9999999999&kid=k1&sig=abc`;

describe('prefetch cache - chunk verification', () => {
  it('prefetch cache - a corrupted chunk is refetched once and the intact copy is cached', async () => {
    script = ['flipped', 'good'];
    const errors: ChunkFetchError[] = [];
    const cache = new PrefetchCache({ baseUrl, onError: (_u, e) => errors.push(e) });
    const r = await cache.fetchChunk(signed);
    expect(r.ok).toBe(true);
    expect(r.attempts).toBe(2);
    expect(r.mismatches).toEqual([
      expect.objectContaining({ ok: false, reason: 'hash_mismatch', expected: address }),
    ]);
    expect(requests).toHaveLength(2);
    // The refetch asks caching layers to revalidate; the first request did not.
    expect(requests[0]!['cache-control']).toBeUndefined();
    expect(requests[1]!['cache-control']).toBe('no-cache');
    expect(cache.get(signed)?.bytes).toEqual(new Uint8Array(chunk));
    expect(cache.rejected).toBe(1);
    expect(cache.refetched).toBe(1);
    expect(errors).toEqual([]);
  });

  it('prefetch cache - corrupted twice gives a hash_mismatch verdict, no third request, nothing cached', async () => {
    script = ['flipped', 'flipped', 'good'];
    const errors: ChunkFetchError[] = [];
    const cache = new PrefetchCache({ baseUrl, onError: (_u, e) => errors.push(e) });
    const r = await cache.fetchChunk(signed);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.attempts).toBe(2);
    expect(r.error).toBeInstanceOf(ChunkFetchError);
    expect(r.error.code).toBe('hash_mismatch');
    expect(r.error.detail.expected).toBe(address);
    expect(requests).toHaveLength(2);
    expect(cache.has(signed)).toBe(false);
    expect(cache.rejected).toBe(2);
    expect(errors.map((e) => e.code)).toEqual(['hash_mismatch']);
  });

  it('prefetch cache - a size learned from the playback chunk table catches a truncated body', async () => {
    script = ['truncated', 'truncated'];
    const cache = new PrefetchCache({ baseUrl });
    cache.learn({
      urls: [signed],
      chunks: { count: 1, duration_ms: 2000, sizes: [chunk.length] },
      bitrate_kbps: 96,
      first_chunk: { url: signed, bitrate_kbps: 96, init_url: null },
    } as Partial<PlaybackFrame> as PlaybackFrame);
    expect(cache.expectationOf(signed)).toEqual({ bytes: chunk.length, sha256: address });
    const r = await cache.fetchChunk(signed);
    expect(r.ok).toBe(false);
    expect(r.mismatches).toEqual([
      { ok: false, reason: 'size_mismatch', expected: chunk.length, actual: chunk.length - 10 },
      { ok: false, reason: 'size_mismatch', expected: chunk.length, actual: chunk.length - 10 },
    ]);
    if (!r.ok) expect(r.error.code).toBe('size_mismatch');
  });

  it('prefetch cache - a first chunk of another chunk than 0 at another bitrate is not given chunk 0 size', () => {
    const cache = new PrefetchCache({ baseUrl });
    const other = `${baseUrl}/o/${'b'.repeat(64)}?exp=1&kid=k1&sig=x`;
    // A play from 4.5 s: the first chunk is chunk 1 at the start bitrate, the table is at 160.
    cache.learn({
      urls: [other, `${baseUrl}/o/${'c'.repeat(64)}?exp=1&kid=k1&sig=x`],
      chunks: { count: 2, duration_ms: 4000, sizes: [64_870, 32_805] },
      bitrate_kbps: 160,
      position_ms: 4500,
      first_chunk: { url: signed, bitrate_kbps: 96, init_url: null },
    } as Partial<PlaybackFrame> as PlaybackFrame);
    expect(cache.expectationOf(signed)).toEqual({ sha256: address });
    expect(cache.expectationOf(other)).toEqual({ bytes: 64_870, sha256: 'b'.repeat(64) });
  });

  it('prefetch cache - a held prefetch starts once the hold is released; a direct fetch does not wait', async () => {
    script = ['good', 'good'];
    const cache = new PrefetchCache({ baseUrl });
    let release!: () => void;
    cache.holdPrefetch(new Promise<void>((r) => (release = r)));
    const applied = cache.apply({
      t: 'prefetch',
      after_play_id: 'p1',
      items: [
        { track_id: 't2', position: 1, bitrate_kbps: 96, urls: [signed], init_url: null, expires_at: 0 },
      ],
    });
    await new Promise((r) => setImmediate(r));
    expect(requests).toHaveLength(0);
    release();
    await applied;
    expect(requests).toHaveLength(1);
    expect(cache.has(signed)).toBe(true);
  });

  it('prefetch cache - clear forgets every chunk', async () => {
    script = ['good'];
    const cache = new PrefetchCache({ baseUrl });
    expect((await cache.fetchChunk(signed)).ok).toBe(true);
    expect(cache.size.chunks).toBe(1);
    cache.clear();
    expect(cache.has(signed)).toBe(false);
    expect(cache.size).toEqual({ chunks: 0, bytes: 0 });
  });

  it('prefetch cache - a prefetch frame fetches through verification and whenReady sees the verdict', async () => {
    script = ['truncated', 'good'];
    const cache = new PrefetchCache({ baseUrl });
    const frame: PrefetchFrame = {
      t: 'prefetch',
      after_play_id: 'p1',
      items: [
        { track_id: 't2', position: 1, bitrate_kbps: 96, urls: [signed], init_url: null, expires_at: 0 },
      ],
    };
    const applied = cache.apply(frame);
    const ready = await cache.whenReady(signed);
    await applied;
    // No size known for a prefetched track: the hash (the content address) decides.
    expect(ready?.bytes.byteLength).toBe(chunk.length);
    expect(cache.refetched).toBe(1);
    // Cached: a second fetch is served from memory, no request.
    const again = await cache.fetchChunk(signed);
    expect(again).toMatchObject({ ok: true, attempts: 0 });
    expect(requests).toHaveLength(2);
  });

  it('prefetch cache - an HTTP error is not retried and reports its status', async () => {
    script = ['missing'];
    const cache = new PrefetchCache({ baseUrl });
    const r = await cache.fetchChunk(signed);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatchObject({ code: 'http_status', detail: { status: 404 } });
    expect(requests).toHaveLength(1);
    expect(await cache.whenReady(signed)).toBeUndefined();
  });

  it('prefetch cache - an unreachable origin is a network error, not a throw', async () => {
    const cache = new PrefetchCache({ baseUrl: 'http://127.0.0.1:1' });
    const r = await cache.fetchChunk(signed);
    expect(r).toMatchObject({ ok: false, attempts: 1, error: { code: 'network' } });
  });
});
