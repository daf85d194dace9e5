import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, closeAction, closeInfo } from './close-codes.ts';
import { decodeClientFrame, decodeServerFrame, encodeFrame } from './codec.ts';
import { ERROR_CODES, ERROR_REASONS, errorFrame, isErrorCode, type ErrorCode } from './errors.ts';
import { isCatalogId, parseUri } from './uris.ts';
import { isSupportedProtocol, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from './version.ts';

describe('tables - close codes', () => {
  it('tables - every close code sits in the range of its action', () => {
    for (const [name, info] of Object.entries(CLOSE_CODES)) {
      expect(closeAction(info.code), name).toBe(info.action);
      expect(closeInfo(info.code)).toBe(info);
    }
  });

  it('tables - close codes are unique and their reasons fit a close frame', () => {
    const codes = Object.values(CLOSE_CODES).map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const info of Object.values(CLOSE_CODES))
      expect(Buffer.byteLength(info.reason)).toBeLessThanOrEqual(123);
  });

  it('tables - unknown codes are handled by range, standard codes by meaning', () => {
    expect(closeAction(4123)).toBe('reconnect');
    expect(closeAction(4450)).toBe('reauth');
    expect(closeAction(4999)).toBe('terminal');
    expect(closeAction(1000)).toBe('none');
    expect(closeAction(1006)).toBe('reconnect');
    expect(closeAction(1008)).toBe('terminal');
    expect(closeInfo(4999)).toBeUndefined();
  });
});

describe('tables - error codes', () => {
  it('tables - every code has reasons, all distinct', () => {
    const all = Object.values(ERROR_REASONS).flat();
    expect(new Set(all).size).toBe(all.length);
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[])
      expect(ERROR_REASONS[code].length).toBeGreaterThan(0);
    expect(isErrorCode('forbidden')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });

  it('tables - errorFrame builds a valid error frame without absent fields', () => {
    const frame = errorFrame({
      code: 'rate_limited',
      reason: 'too_many_requests',
      message: 'slow down',
      id: 3,
      retry_after_ms: 250,
    });
    expect(decodeServerFrame(encodeFrame(frame))).toEqual({ ok: true, frame });
    const noId = errorFrame({ code: 'bad_request', reason: 'malformed', message: 'garbage' });
    expect('id' in noId).toBe(false);
    expect(decodeServerFrame(encodeFrame(noId)).ok).toBe(true);
  });
});

describe('tables - version and uris', () => {
  it('tables - supported protocol range', () => {
    expect(isSupportedProtocol(PROTOCOL_VERSION)).toBe(true);
    expect(isSupportedProtocol(MIN_PROTOCOL_VERSION - 1)).toBe(false);
    expect(isSupportedProtocol(PROTOCOL_VERSION + 1)).toBe(false);
    expect(isSupportedProtocol(1.5)).toBe(false);
  });

  it('tables - uris parse into kind and id', () => {
    expect(parseUri('spotify:playlist:37i9dQZF1DXcBWIGoYBM5M')).toEqual({
      kind: 'playlist',
      id: '37i9dQZF1DXcBWIGoYBM5M',
    });
    expect(parseUri('spotify:track:t-1')).toEqual({ kind: 'track', id: 't-1' });
    expect(parseUri('spotify:show:x')).toBeNull();
    expect(parseUri('spotify:track:')).toBeNull();
  });

  it('tables - ids that name an Object.prototype member are refused on the wire and by parseUri', () => {
    for (const id of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      expect(isCatalogId(id), id).toBe(false);
      expect(parseUri(`spotify:track:${id}`), id).toBeNull();
      const r = decodeClientFrame(encodeFrame({ t: 'queue.add', id: 1, uri: `spotify:track:${id}` }));
      expect(r.ok, id).toBe(false);
      if (!r.ok) expect(r.error).toMatchObject({ reason: 'invalid_field', id: 1 });
    }
    // Names that merely contain one are ordinary ids.
    for (const id of ['constructor2', 'my__proto__', 'toStringX']) {
      expect(isCatalogId(id), id).toBe(true);
      expect(parseUri(`spotify:track:${id}`)).toEqual({ kind: 'track', id });
    }
  });
});
