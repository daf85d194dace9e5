import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UrlSigner } from '../protocol/url-signer.ts';
import { authorize, noneMatch, parseRange, planObjectAnswer } from './http-semantics.ts';

const KEY = 'ab'.repeat(32);

describe('range - parsing', () => {
  it.each([
    ['bytes=0-99', 1000, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=500-', 1000, { kind: 'partial', start: 500, end: 999 }],
    ['bytes=900-5000', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-100', 1000, { kind: 'partial', start: 900, end: 999 }],
    ['bytes=-5000', 1000, { kind: 'partial', start: 0, end: 999 }],
    ['BYTES = 1-1', 1000, { kind: 'partial', start: 1, end: 1 }],
    ['bytes=1000-', 1000, { kind: 'unsatisfiable' }],
    ['bytes=-0', 1000, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-1', 1000, { kind: 'full' }],
    ['bytes=0-1,5-9', 1000, { kind: 'full' }],
    ['items=0-1', 1000, { kind: 'full' }],
    ['bytes=-', 1000, { kind: 'full' }],
    [undefined, 1000, { kind: 'full' }],
  ])('range - %s of %i bytes', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });

  it('range - a satisfiable answer always lies inside the object', () => {
    fc.assert(
      fc.property(
        fc.nat(1e9),
        fc.option(fc.nat(2e9), { nil: undefined }),
        fc.option(fc.nat(2e9), { nil: undefined }),
        (size, a, b) => {
          const r = parseRange(`bytes=${a ?? ''}-${b ?? ''}`, size);
          if (r.kind === 'partial') {
            expect(r.start).toBeGreaterThanOrEqual(0);
            expect(r.end).toBeLessThan(size);
            expect(r.start).toBeLessThanOrEqual(r.end);
          }
        },
      ),
    );
  });
});

describe('origin - conditional answers', () => {
  it('origin - If-None-Match with the content address (weak or strong, or *) answers 304', () => {
    expect(noneMatch(`"${KEY}"`, KEY)).toBe(true);
    expect(noneMatch(`W/"${KEY}", "x"`, KEY)).toBe(true);
    expect(noneMatch('*', KEY)).toBe(true);
    expect(noneMatch('"other"', KEY)).toBe(false);
    expect(planObjectAnswer(KEY, 10, { ifNoneMatch: `"${KEY}"`, range: 'bytes=0-1' }).status).toBe(
      '304 Not Modified',
    );
  });

  it('origin - If-Range with another validator ignores Range and sends the whole object', () => {
    expect(planObjectAnswer(KEY, 10, { range: 'bytes=0-1', ifRange: '"stale"' })).toMatchObject({
      status: '200 OK',
      length: 10,
    });
    expect(planObjectAnswer(KEY, 10, { range: 'bytes=0-1', ifRange: `"${KEY}"` })).toMatchObject({
      status: '206 Partial Content',
      length: 2,
    });
  });

  it('origin - 416 carries Content-Range bytes */size and no body', () => {
    const a = planObjectAnswer(KEY, 10, { range: 'bytes=10-' });
    expect(a.status).toBe('416 Range Not Satisfiable');
    expect(a.body).toBeUndefined();
    expect(a.headers).toContainEqual(['Content-Range', 'bytes */10']);
  });
});

describe('origin - authorization', () => {
  const signer = new UrlSigner({ activeKid: 'k1', keys: { k1: 'x'.repeat(32) } });
  const split = (url: string) => ({ path: url.split('?')[0]!, query: url.split('?')[1] ?? '' });

  it('origin - a signed path of a well-formed key is authorized', () => {
    const r = authorize({ ...split(signer.sign(`/o/${KEY}`, 60_000)), nowMs: 0 }, signer);
    expect(r).toEqual({ ok: true, key: KEY });
  });

  it('origin - a signed but malformed key is a 404, an unsigned one a 403', () => {
    const bad = authorize({ ...split(signer.sign('/o/NOTAKEY', 60_000)), nowMs: 0 }, signer);
    expect(bad.ok ? 0 : bad.answer.status).toBe('404 Not Found');
    const unsigned = authorize({ path: `/o/${KEY}`, query: '', nowMs: 0 }, signer);
    expect(unsigned.ok ? 0 : JSON.parse(unsigned.answer.body)).toEqual({
      error: 'forbidden',
      reason: 'missing',
    });
  });
});
