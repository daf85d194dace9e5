/**
 * The origin's HTTP decisions as pure functions (no sockets, no disk): signature check,
 * Range (RFC 9110 section 14), conditional requests (ETag / If-None-Match / If-Range), and
 * the headers of every answer. origin-routes.ts does only the I/O around them.
 */
import type { UrlSigner, VerifyFailure } from '../protocol/url-signer.ts';
import { OBJECT_KEY_RE } from './object-store.ts';

export const OBJECT_PATH_PREFIX = '/o/';
/** Objects never change under a key, so any cache may keep them for a year without asking. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** Every object we store is an init segment or a chunk of a WebM/Opus file. */
export const DEFAULT_OBJECT_CONTENT_TYPE = 'audio/webm';

export type RangeDecision =
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One `Range` header against an object of `size` bytes. Syntax we do not serve (other units,
 * several ranges, malformed specs) is ignored, which RFC 9110 allows: the answer is the
 * whole object with 200. `end` is inclusive.
 */
export function parseRange(header: string | undefined, size: number): RangeDecision {
  if (!header) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d{0,15})\s*-\s*(\d{0,15})\s*$/i.exec(header);
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    // Suffix range: the last N bytes.
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return { kind: 'full' }; // invalid spec: ignore the header
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { kind: 'partial', start, end };
}

export const etagOf = (key: string): string => `"${key}"`;

/** If-None-Match uses the weak comparison: `W/` prefixes don't matter; `*` matches anything. */
export function noneMatch(header: string | undefined, key: string): boolean {
  if (!header) return false;
  const tag = etagOf(key);
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === tag || v === `W/${tag}`;
  });
}

export type Header = readonly [name: string, value: string];

export const CORS_HEADERS: readonly Header[] = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Expose-Headers', 'Content-Range, Content-Length, ETag, Accept-Ranges'],
  // Lets the browser player read resource timing of cross-origin chunks (bandwidth estimate).
  ['Timing-Allow-Origin', '*'],
];

export const PREFLIGHT_HEADERS: readonly Header[] = [
  ['Access-Control-Allow-Origin', '*'],
  ['Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS'],
  ['Access-Control-Allow-Headers', 'Range, If-None-Match, If-Range'],
  ['Access-Control-Max-Age', '86400'],
];

export interface ErrorAnswer {
  status: string;
  headers: readonly Header[];
  body: string;
}

const errorAnswer = (status: string, error: string, reason: string): ErrorAnswer => ({
  status,
  headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store'], ...CORS_HEADERS],
  body: JSON.stringify({ error, reason }),
});

export interface ObjectRequest {
  /** Path without query, e.g. `/o/<key>`. */
  path: string;
  query: string;
  nowMs: number;
}

/**
 * Signature first, then the key: an unsigned request learns nothing, not even whether an
 * object exists. 403 names why (missing, malformed, expired, unknown_key, bad_signature).
 */
export function authorize(
  req: ObjectRequest,
  signer: UrlSigner,
): { ok: true; key: string } | { ok: false; answer: ErrorAnswer } {
  const result = signer.verify(req.path, req.query, req.nowMs);
  if (!result.ok) return { ok: false, answer: forbidden(result.reason) };
  const key = req.path.startsWith(OBJECT_PATH_PREFIX) ? req.path.slice(OBJECT_PATH_PREFIX.length) : '';
  if (!OBJECT_KEY_RE.test(key)) return { ok: false, answer: notFound() };
  return { ok: true, key };
}

export const forbidden = (reason: VerifyFailure): ErrorAnswer =>
  errorAnswer('403 Forbidden', 'forbidden', reason);
export const notFound = (): ErrorAnswer => errorAnswer('404 Not Found', 'not_found', 'unknown_object');

export interface Conditionals {
  range?: string;
  ifNoneMatch?: string;
  ifRange?: string;
}

export interface ObjectAnswer {
  status: '200 OK' | '206 Partial Content' | '304 Not Modified' | '416 Range Not Satisfiable';
  headers: Header[];
  /** Inclusive byte range of the body; absent when there is no body (304, 416). */
  body?: { start: number; end: number };
  /** Content-Length of the answer (what HEAD reports). */
  length: number;
}

/** Status, headers and body range for an authorized request of an object of `size` bytes. */
export function planObjectAnswer(
  key: string,
  size: number,
  cond: Conditionals,
  contentType = DEFAULT_OBJECT_CONTENT_TYPE,
): ObjectAnswer {
  const headers: Header[] = [
    ['ETag', etagOf(key)],
    ['Cache-Control', IMMUTABLE_CACHE_CONTROL],
    ['Accept-Ranges', 'bytes'],
    ...CORS_HEADERS,
  ];
  if (noneMatch(cond.ifNoneMatch, key)) return { status: '304 Not Modified', headers, length: 0 };
  // If-Range with anything but our (strong) ETag means "your copy is different: send it all".
  const rangeHeader =
    cond.ifRange !== undefined && cond.ifRange.trim() !== etagOf(key) ? undefined : cond.range;
  const range = parseRange(rangeHeader, size);
  headers.push(['Content-Type', contentType]);
  if (range.kind === 'unsatisfiable') {
    headers.push(['Content-Range', `bytes */${size}`]);
    return { status: '416 Range Not Satisfiable', headers, length: 0 };
  }
  if (range.kind === 'partial') {
    headers.push(['Content-Range', `bytes ${range.start}-${range.end}/${size}`]);
    return {
      status: '206 Partial Content',
      headers,
      body: { start: range.start, end: range.end },
      length: range.end - range.start + 1,
    };
  }
  return {
    status: '200 OK',
    headers,
    body: size > 0 ? { start: 0, end: size - 1 } : undefined,
    length: size,
  };
}
