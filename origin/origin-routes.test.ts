import uWS, { type us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UrlSigner } from '../protocol/url-signer.ts';
import { HotObjects } from './hot-objects.ts';
import { ObjectStore } from './object-store.ts';
import { registerOriginRoutes, type OriginHandle } from './origin-routes.ts';

const SECRET = 's'.repeat(40);
const signer = new UrlSigner({ activeKid: 'k1', keys: { k1: SECRET, k2: 't'.repeat(40) } });
let dir: string;
let store: ObjectStore;
let listen: us_listen_socket;
let base: string;
let origin: OriginHandle;
let small: { key: string; bytes: Buffer };
let large: { key: string; bytes: Buffer };

const url = (key: string, ttlMs = 60_000, s: UrlSigner = signer) =>
  `${base}${s.sign(`/o/${key}`, Date.now() + ttlMs)}`;
const get = (u: string, headers: Record<string, string> = {}, method = 'GET') =>
  fetch(u, { method, headers });
const body = async (r: Response) => Buffer.from(await r.arrayBuffer());

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'origin-test-'));
  store = new ObjectStore(dir);
  const put = async (bytes: Buffer) => ({ key: (await store.put(bytes)).key, bytes });
  small = await put(randomBytes(150_000));
  // Larger than the hot-object limit: always streamed from disk (exercises backpressure).
  large = await put(randomBytes(6 * 1024 * 1024 + 123));
  const app = uWS.App();
  origin = registerOriginRoutes(app, {
    objects: store,
    signer,
    hot: new HotObjects({ maxBytes: 1 << 20, maxObjectBytes: 512 * 1024 }),
  });
  await new Promise<void>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => {
      if (!s) return reject(new Error('listen failed'));
      listen = s;
      base = `http://127.0.0.1:${uWS.us_socket_local_port(s)}`;
      resolve();
    }),
  );
});

afterAll(() => {
  if (listen) uWS.us_listen_socket_close(listen);
  rmSync(dir, { recursive: true, force: true });
});

describe('origin - signatures', () => {
  it('origin - a valid signature gets the object with immutable caching, ETag, type and CORS', async () => {
    const r = await get(url(small.key));
    expect(r.status).toBe(200);
    expect(r.headers.get('etag')).toBe(`"${small.key}"`);
    expect(r.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(r.headers.get('content-type')).toBe('audio/webm');
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-expose-headers')).toContain('Content-Range');
    expect(r.headers.get('accept-ranges')).toBe('bytes');
    expect((await body(r)).equals(small.bytes)).toBe(true);
  });

  it.each([
    ['missing', (u: string) => u.split('?')[0]!, 'missing'],
    [
      'tampered signature',
      (u: string) => u.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`),
      'bad_signature',
    ],
    [
      'tampered expiry',
      (u: string) => u.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 1000}`),
      'bad_signature',
    ],
    ['unknown key id', (u: string) => u.replace('kid=k1', 'kid=k9'), 'unknown_key'],
    ['key id of another key', (u: string) => u.replace('kid=k1', 'kid=k2'), 'bad_signature'],
  ])('origin - %s is refused with 403 and a reason', async (_name, mutate, reason) => {
    const r = await get(mutate(url(small.key)));
    expect(r.status).toBe(403);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(await r.json()).toEqual({ error: 'forbidden', reason });
  });

  it('origin - a signature for one object does not open another', async () => {
    const q = url(small.key).split('?')[1];
    const r = await get(`${base}/o/${large.key}?${q}`);
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: 'forbidden', reason: 'bad_signature' });
  });

  it('origin - an expired signature is refused with 403 expired', async () => {
    const r = await get(url(small.key, -5_000));
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: 'forbidden', reason: 'expired' });
  });

  it('origin - a signer with the right key id but the wrong secret is refused', async () => {
    const wrong = new UrlSigner({ activeKid: 'k1', keys: { k1: 'w'.repeat(40) } });
    const r = await get(url(small.key, 60_000, wrong));
    expect(r.status).toBe(403);
    expect(await r.json()).toEqual({ error: 'forbidden', reason: 'bad_signature' });
  });

  it('origin - an unknown object with a valid signature is 404', async () => {
    const r = await get(url('0'.repeat(64)));
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ error: 'not_found', reason: 'unknown_object' });
  });
});

describe('origin - ranges and bodies', () => {
  for (const which of ['small (memory after the 2nd hit)', 'large (streamed from disk)'] as const) {
    const obj = () => (which.startsWith('small') ? small : large);

    it(`origin - ${which}: 200 body is byte-identical to the stored file, every time`, async () => {
      const file = readFileSync(store.pathOf(obj().key));
      for (let i = 0; i < 3; i++) {
        const r = await get(url(obj().key));
        expect(r.status).toBe(200);
        expect(Number(r.headers.get('content-length'))).toBe(file.length);
        expect((await body(r)).equals(file)).toBe(true);
      }
    });

    it(`origin - ${which}: ranges at start, middle, end and suffix answer 206 with Content-Range`, async () => {
      const { key, bytes } = obj();
      const size = bytes.length;
      const cases: [string, number, number][] = [
        ['bytes=0-65535', 0, 65535],
        ['bytes=70000-134999', 70000, 134999],
        [`bytes=${size - 1000}-`, size - 1000, size - 1],
        [`bytes=${size - 10}-${size + 500}`, size - 10, size - 1],
        ['bytes=-4096', size - 4096, size - 1],
      ];
      for (const [range, start, end] of cases) {
        const r = await get(url(key), { Range: range });
        expect(r.status, range).toBe(206);
        expect(r.headers.get('content-range')).toBe(`bytes ${start}-${end}/${size}`);
        expect((await body(r)).equals(bytes.subarray(start, end + 1)), range).toBe(true);
      }
    });

    it(`origin - ${which}: an unsatisfiable range answers 416 with bytes */size`, async () => {
      const r = await get(url(obj().key), { Range: `bytes=${obj().bytes.length}-` });
      expect(r.status).toBe(416);
      expect(r.headers.get('content-range')).toBe(`bytes */${obj().bytes.length}`);
    });
  }

  it('origin - the small object became hot and is served from memory', () => {
    expect(origin.hot.bytes).toBe(small.bytes.length);
    expect(origin.hot.hits).toBeGreaterThan(0);
  });

  it('origin - a hot object answers each repeat of a plain GET (prepared once per range) as it did first', async () => {
    const { key, bytes } = small;
    const answer = async (range: string | undefined) => {
      const r = await get(url(key), range === undefined ? {} : { Range: range });
      const headers = [...r.headers].filter(([name]) => name !== 'date');
      return { status: r.status, headers, bytes: await body(r) };
    };
    const cases = [undefined, 'bytes=0-99', 'bytes=100-', 'bytes=-10', `bytes=${bytes.length}-`, 'items=1-2'];
    for (const range of cases) {
      const first = await answer(range);
      for (let i = 0; i < 3; i++) expect(await answer(range), String(range)).toEqual(first);
    }
    const hits = origin.hot.hits;
    const r = await answer('bytes=100-199');
    expect(origin.hot.hits).toBe(hits + 1);
    expect(r.status).toBe(206);
    expect(r.headers).toContainEqual(['content-range', `bytes 100-199/${bytes.length}`]);
    expect(r.bytes.equals(bytes.subarray(100, 200))).toBe(true);
    expect((await answer('items=1-2')).bytes.equals(bytes)).toBe(true); // unknown unit: the whole object
  });

  it('origin - HEAD reports length and headers without a body', async () => {
    const r = await get(url(large.key), {}, 'HEAD');
    expect(r.status).toBe(200);
    expect(Number(r.headers.get('content-length'))).toBe(large.bytes.length);
    expect(r.headers.get('etag')).toBe(`"${large.key}"`);
    expect((await body(r)).length).toBe(0);
    const partial = await get(url(small.key), { Range: 'bytes=0-99' }, 'HEAD');
    expect(partial.status).toBe(206);
    expect(Number(partial.headers.get('content-length'))).toBe(100);
  });

  it('origin - If-None-Match with the ETag answers 304 without a body', async () => {
    for (const key of [small.key, large.key]) {
      const r = await get(url(key), { 'If-None-Match': `"${key}"` });
      expect(r.status).toBe(304);
      expect(r.headers.get('etag')).toBe(`"${key}"`);
      expect((await body(r)).length).toBe(0);
    }
  });

  it('origin - CORS preflight is answered', async () => {
    const r = await fetch(`${base}/o/${small.key}`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://player.example', 'Access-Control-Request-Headers': 'range' },
    });
    expect(r.status).toBe(204);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-headers')).toContain('Range');
  });
});
