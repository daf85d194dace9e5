/**
 * The origin on uWebSockets.js: `GET`/`HEAD`/`OPTIONS /o/<sha256>?exp=&kid=&sig=`.
 * `registerOriginRoutes(app, deps)` mounts it on any uWS app, so the session server serves
 * chunks from the same process by default and `npm run origin` runs it alone.
 *
 * Hot objects are answered synchronously from memory (hot-objects.ts). The rest are
 * streamed from disk in 64 KiB reads with uWS backpressure: `tryEnd` says when the socket
 * buffer is full, the read stream pauses until `onWritable`, and `onAborted` destroys it
 * when the client goes away. Everything HTTP-semantic lives in http-semantics.ts.
 */
import type { HttpRequest, HttpResponse, TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import type { UrlSigner } from '../protocol/url-signer.ts';
import { HotObjects } from './hot-objects.ts';
import {
  DEFAULT_OBJECT_CONTENT_TYPE,
  notFound,
  planObjectAnswer,
  PREFLIGHT_HEADERS,
  type Conditionals,
  type ErrorAnswer,
  type Header,
  type ObjectAnswer,
} from './http-semantics.ts';
import type { ObjectStore } from './object-store.ts';
import { verifiedUrls } from './verified-urls.ts';

export interface OriginDeps {
  objects: ObjectStore;
  signer: UrlSigner;
  hot?: HotObjects;
  now?: () => number;
  contentType?: string;
  /** Called on unexpected disk errors (the request gets a 500 / is closed). */
  onError?: (err: unknown, key: string) => void;
}

export interface OriginHandle {
  hot: HotObjects;
}

/**
 * Status and headers in two native calls, whatever the number of headers: the values after the
 * first are joined into the first one's value (uWS writes `name: value\r\n` verbatim), since
 * each call into uWS and its string conversion cost more than the bytes (measured: 10 calls
 * per answer were a third of the origin's CPU per hot range request). Every header here is the
 * origin's own: no value holds CR or LF (the content type is checked at registration).
 */
const writeHeaders = (res: HttpResponse, status: string, headers: readonly Header[]) => {
  res.writeStatus(status);
  if (headers.length === 0) return;
  let block = headers[0]![1];
  for (let i = 1; i < headers.length; i++) block += `\r\n${headers[i]![0]}: ${headers[i]![1]}`;
  res.writeHeader(headers[0]![0], block);
};

/**
 * A hot object's answer to one plain GET (no conditionals), prepared once per object and
 * `Range` value: the status line with every header joined in (`head`, uWS writes it verbatim
 * after `HTTP/1.1 `) and the body slice. Repeats cost one native call for the head and one for
 * the body, with no per-request header building, range parsing or slicing (the profile's JS
 * cost per request). Kept beside the body in a WeakMap, so it goes when the object leaves
 * memory; at most PREPARED_PER_OBJECT ranges per object (players fetch a few fixed ranges).
 */
interface PreparedAnswer {
  /** Bytes, not a string: uWS would convert a string to UTF-8 on every call. */
  head: Buffer;
  body: Buffer | undefined;
}
const PREPARED_PER_OBJECT = 256;

const joinedHead = (status: string, headers: readonly Header[]) => {
  let head = status;
  for (const [name, value] of headers) head += `\r\n${name}: ${value}`;
  return head;
};

const sendError = (res: HttpResponse, a: ErrorAnswer) =>
  res.cork(() => {
    writeHeaders(res, a.status, a.headers);
    res.end(a.body);
  });

const sendServerError = (res: HttpResponse, reason: string) =>
  res.cork(() => {
    res.writeStatus('500 Internal Server Error').writeHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ error: 'unavailable', reason }));
  });

/**
 * Sends an answer whose body (if any) is in memory. Inside a uWS handler the socket is already
 * corked (`inHandler`); after an await it must be corked here.
 */
function sendFromMemory(
  res: HttpResponse,
  head: boolean,
  a: ObjectAnswer,
  body: Buffer | undefined,
  inHandler = false,
) {
  if (inHandler) answerFromMemory(res, head, a, body);
  else res.cork(() => answerFromMemory(res, head, a, body));
}

function answerFromMemory(res: HttpResponse, head: boolean, a: ObjectAnswer, body: Buffer | undefined) {
  writeHeaders(res, a.status, a.headers);
  if (a.status === '304 Not Modified') {
    res.endWithoutBody();
  } else if (head) {
    // HEAD reports the length GET would send. Written by hand: endWithoutBody(length)
    // leaves the response pending in this uWS build (and aborts the process).
    res.writeHeader('Content-Length', String(a.length));
    res.endWithoutBody();
  } else if (!a.body || !body) {
    res.end(); // 416: no body
  } else {
    res.end(body.subarray(a.body.start, a.body.end + 1));
  }
}

/** Streams bytes [start, end] of a file with backpressure; the response is already aborted-guarded. */
function streamFromDisk(
  res: HttpResponse,
  a: ObjectAnswer,
  key: string,
  deps: OriginDeps,
  state: { aborted: boolean; onAbort?: () => void },
) {
  const { start, end } = a.body!;
  const total = end - start + 1;
  const stream = deps.objects.stream(key, start, end);
  state.onAbort = () => stream.destroy();
  let headersSent = false;
  stream.on('data', (data: string | Buffer) => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    if (state.aborted) return;
    const base = res.getWriteOffset();
    let ok = false;
    let done = false;
    res.cork(() => {
      if (!headersSent) {
        writeHeaders(res, a.status, a.headers);
        headersSent = true;
      }
      [ok, done] = res.tryEnd(chunk, total);
    });
    if (done) {
      stream.destroy();
    } else if (!ok) {
      // Socket buffer full: hold the rest of this chunk until uWS says it can take more.
      stream.pause();
      res.onWritable((offset) => {
        const [ok2, done2] = res.tryEnd(chunk.subarray(offset - base), total);
        if (done2) stream.destroy();
        else if (ok2) stream.resume();
        return ok2;
      });
    }
  });
  stream.on('error', (err) => {
    deps.onError?.(err, key);
    if (state.aborted) return;
    state.aborted = true;
    if (headersSent) res.close();
    else sendServerError(res, 'read_failed');
  });
}

export function registerOriginRoutes(app: TemplatedApp, deps: OriginDeps): OriginHandle {
  const hot = deps.hot ?? new HotObjects();
  const now = deps.now ?? Date.now;
  const contentType = deps.contentType ?? DEFAULT_OBJECT_CONTENT_TYPE;
  if (/[\r\n]/.test(contentType)) throw new Error('origin content type must not contain CR or LF');
  const check = verifiedUrls(deps.signer);
  const prepared = new WeakMap<Buffer, Map<string, PreparedAnswer>>();

  /** The prepared answer of a hot object to a plain GET with this `Range` value ('' for none). */
  const preparedAnswer = (key: string, body: Buffer, range: string): PreparedAnswer => {
    let answers = prepared.get(body);
    const known = answers?.get(range);
    if (known) return known;
    const a = planObjectAnswer(key, body.length, { range: range || undefined }, contentType);
    const answer = {
      head: Buffer.from(joinedHead(a.status, a.headers), 'latin1'),
      body: a.body ? body.subarray(a.body.start, a.body.end + 1) : undefined,
    };
    if (!answers) prepared.set(body, (answers = new Map()));
    if (answers.size < PREPARED_PER_OBJECT) answers.set(range, answer);
    return answer;
  };

  const handle = (res: HttpResponse, req: HttpRequest, head: boolean) => {
    // uWS invalidates `req` after the first await: read everything now.
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    const range = req.getHeader('range');
    const ifNoneMatch = req.getHeader('if-none-match');
    // If-Range only ever qualifies a Range: without one it is not worth a call into uWS.
    const ifRange = range === '' ? '' : req.getHeader('if-range');
    const auth = check(path, query, now());
    if (!auth.ok) return sendError(res, auth.answer);
    const key = auth.key;
    const cached = hot.get(key);
    if (cached !== undefined && !head && ifNoneMatch === '' && ifRange === '') {
      // Inside the handler: already corked, so head and body leave in one write when they fit.
      const a = prepared.get(cached)?.get(range) ?? preparedAnswer(key, cached, range);
      res.writeStatus(a.head);
      if (a.body) res.end(a.body);
      else res.end(); // 416: no body
      return;
    }
    // Past the plain hot GET (nearly every request), which needs none of this.
    const cond: Conditionals = {
      range: range || undefined,
      ifNoneMatch: ifNoneMatch || undefined,
      ifRange: ifRange || undefined,
    };
    if (cached !== undefined)
      return sendFromMemory(res, head, planObjectAnswer(key, cached.length, cond, contentType), cached, true);

    const state: { aborted: boolean; onAbort?: () => void } = { aborted: false };
    res.onAborted(() => {
      state.aborted = true;
      state.onAbort?.();
    });
    void (async () => {
      let size = hot.knownSize(key);
      if (size === undefined) {
        size = await deps.objects.size(key);
        if (size === undefined) {
          if (!state.aborted) sendError(res, notFound());
          return;
        }
        hot.rememberSize(key, size);
      }
      const answer = planObjectAnswer(key, size, cond, contentType);
      if (state.aborted) return;
      if (head || !answer.body) return sendFromMemory(res, head, answer, undefined);
      if (hot.shouldAdmit(key, size)) {
        const body = await deps.objects.read(key);
        hot.admit(key, body);
        if (!state.aborted) sendFromMemory(res, false, answer, body);
        return;
      }
      streamFromDisk(res, answer, key, deps, state);
    })().catch((err: unknown) => {
      deps.onError?.(err, key);
      if (state.aborted) return;
      state.aborted = true;
      sendServerError(res, 'storage_error');
    });
  };

  app.get('/o/:key', (res, req) => {
    handle(res, req, false);
  });
  app.head('/o/:key', (res, req) => {
    handle(res, req, true);
  });
  app.options('/o/:key', (res) => {
    res.cork(() => {
      writeHeaders(res, '204 No Content', PREFLIGHT_HEADERS);
      res.endWithoutBody();
    });
  });
  return { hot };
}
