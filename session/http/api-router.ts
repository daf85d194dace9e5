/**
 * The /v1 HTTP API as a table of routes (method, path template, TypeBox query and body
 * schemas, documented answers, handler) and one transport-independent router over it: path
 * match (a malformed %-escape is a 400, not a crash), 404/405, query coercion and validation,
 * JSON body parsing and validation, and one error shape, `{error: {status, code, message}}`.
 * The OpenAPI description is generated from the same table (openapi.ts).
 */
import type { Static, TObject, TSchema } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';
import { TRACK_URI_PATTERN } from '../../protocol/uris.ts';
import type { Plan } from '../../actors/types.ts';
import { isStorageError, type StorageErrorCode } from '../../storage/errors.ts';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

export interface ApiRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/playlists/abc/tracks`. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Parsed JSON body (a string is parsed here); undefined when there is none. */
  body?: unknown;
  /** The authenticated caller (from the Bearer JWT). */
  userId: string;
  /** The caller's plan and country (token claims); free and nowhere when not given. */
  plan?: Plan;
  country?: string;
  /** Absolute base (PUBLIC_BASE_URL, no trailing slash) of every link an answer hands out. */
  baseUrl: string;
}

export interface ApiResponse {
  status: number;
  /** The body; none for 204. */
  json: unknown;
  /** Extra response headers (Retry-After, the player's state version). */
  headers?: Record<string, string>;
}

export interface RouteContext<Q, B> {
  /** Path parameters, %-decoded. */
  params: Record<string, string>;
  query: Q;
  body: B;
  userId: string;
  plan: Plan;
  country: string;
  /** Absolute base of the links the answer hands out (ApiRequest.baseUrl). */
  baseUrl: string;
}

export interface ApiRoute {
  method: HttpMethod;
  /** OpenAPI path template, e.g. `/v1/playlists/{playlist_id}/tracks`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  query?: TObject;
  body?: TObject;
  /** False: the body may be left out (the query can carry it). */
  bodyRequired?: boolean;
  /** Success answers, by status (no schema: no body, e.g. 204). */
  ok: Record<number, { description: string; schema?: TSchema }>;
  /** Error statuses this route answers beyond the router's own (400, 401, 500), with when. */
  errors: Record<number, string>;
  handle(ctx: RouteContext<unknown, unknown>): Promise<ApiResponse>;
}

/** Types a route's handler by its schemas. */
export function route<Q extends TObject | undefined, B extends TObject | undefined>(
  spec: Omit<ApiRoute, 'handle' | 'query' | 'body'> & {
    query?: Q;
    body?: B;
    handle(
      ctx: RouteContext<
        Q extends TObject ? Static<Q> : Record<string, never>,
        B extends TObject ? Static<B> : undefined
      >,
    ): Promise<ApiResponse>;
  },
): ApiRoute {
  return spec as unknown as ApiRoute;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (message: string) => new HttpError(400, 'bad_request', message);

export const errorBody = (status: number, code: string, message: string, reason?: string) => ({
  error: { status, code, ...(reason ? { reason } : {}), message },
});
const answer = (status: number, code: string, message: string): ApiResponse => ({
  status,
  json: errorBody(status, code, message),
});

/** Storage error codes as HTTP statuses. */
export const STORAGE_STATUS: Record<StorageErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  timeout: 504,
};

/** Patterns named in words in error messages (their regexes say nothing to a person). */
const PATTERN_NAMES: Record<string, string> = {
  [TRACK_URI_PATTERN.source]: 'a track uri (spotify:track:<id>)',
  '^\\d{1,15}$': 'a snapshot id returned by this API',
  '^\\d{4}-(0[1-9]|1[0-2])$': 'a month (YYYY-MM)',
};

/** The first problem of an invalid value, naming the field. */
function describeInvalid(validator: Validator, value: unknown, what: string): string {
  const first = validator.Errors(value)[0];
  if (!first) return `invalid ${what}`;
  const at = first.instancePath
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
  const params = first.params as { requiredProperties?: string[]; limit?: number; pattern?: string };
  switch (first.keyword) {
    case 'required':
      return `${what}: ${(params.requiredProperties ?? []).map((p) => (at ? `${at}.${p}` : p)).join(', ')} is required`;
    case 'maxItems':
      return `${what}: ${at} must have at most ${params.limit} items`;
    case 'pattern':
      return `${what}: ${at} is not ${PATTERN_NAMES[params.pattern ?? ''] ?? `of the form ${params.pattern}`}`;
    default:
      return `${what}: ${at || 'value'} ${first.message}`;
  }
}

interface CompiledRoute {
  route: ApiRoute;
  segments: string[];
  query?: { validator: Validator; integers: Set<string> };
  body?: Validator;
}

/** Query values are text: integer parameters are converted before validation. */
function integerKeys(schema: TObject): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(schema.properties as Record<string, { type?: string }>))
    if (v.type === 'integer') out.add(k);
  return out;
}

function parseBody(body: unknown, required: boolean): unknown {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = b.length ? JSON.parse(b) : undefined;
    } catch {
      throw badRequest('body is not valid JSON');
    }
  }
  if (b === undefined || b === null) {
    if (required) throw badRequest('a JSON body is required');
    return {};
  }
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('body must be a JSON object');
  return b;
}

export interface ApiRouter {
  readonly routes: readonly ApiRoute[];
  /** Answers one request; never throws. `onError` hears unexpected failures (answered 500). */
  handle(req: ApiRequest, onError?: (e: unknown) => void): Promise<ApiResponse>;
}

export function createApiRouter(routes: readonly ApiRoute[]): ApiRouter {
  const compiled: CompiledRoute[] = routes.map((r) => ({
    route: r,
    segments: r.path.split('/').filter(Boolean),
    ...(r.query ? { query: { validator: Compile(r.query), integers: integerKeys(r.query) } } : {}),
    ...(r.body ? { body: Compile(r.body) } : {}),
  }));

  // Routes by segment count: a request is matched against those of its own length only
  // (matching runs on every request; the player commands are the hot path).
  const bySize = new Map<number, CompiledRoute[]>();
  for (const c of compiled) {
    const list = bySize.get(c.segments.length);
    if (list) list.push(c);
    else bySize.set(c.segments.length, [c]);
  }

  const matches = (c: CompiledRoute, parts: string[]): boolean => {
    for (let i = 0; i < parts.length; i++) {
      const seg = c.segments[i]!;
      if (seg.charCodeAt(0) !== 123 /* { */ && seg !== parts[i]) return false;
    }
    return true;
  };
  const paramsOf = (c: CompiledRoute, parts: string[]): Record<string, string> => {
    const params: Record<string, string> = {};
    for (let i = 0; i < parts.length; i++) {
      const seg = c.segments[i]!;
      if (seg.charCodeAt(0) === 123) params[seg.slice(1, -1)] = parts[i]!;
    }
    return params;
  };

  async function dispatch(req: ApiRequest): Promise<ApiResponse> {
    const method = req.method.toUpperCase();
    let parts = req.path.split('/').filter(Boolean);
    if (req.path.includes('%')) {
      try {
        parts = parts.map(decodeURIComponent);
      } catch {
        throw badRequest('the path has a malformed %-escape');
      }
    }
    let c: CompiledRoute | undefined;
    let allowed: string[] | undefined;
    for (const candidate of bySize.get(parts.length) ?? []) {
      if (!matches(candidate, parts)) continue;
      if (candidate.route.method === method) {
        c = candidate;
        break;
      }
      (allowed ??= []).push(candidate.route.method);
    }
    if (!c) {
      if (!allowed) throw new HttpError(404, 'not_found', `no route for ${method} ${req.path}`);
      throw new HttpError(
        405,
        'bad_request',
        `${method} not allowed on ${req.path} (allowed: ${allowed.join(', ')})`,
      );
    }
    const params = paramsOf(c, parts);

    let query: Record<string, unknown> = {};
    if (c.query) {
      for (const [k, v] of Object.entries(req.query ?? {})) {
        if (v === undefined) continue;
        query[k] = c.query.integers.has(k) && /^-?\d{1,15}$/.test(v) ? Number(v) : v;
      }
      if (!c.query.validator.Check(query))
        throw badRequest(describeInvalid(c.query.validator, query, 'query'));
    } else query = {};

    let body: unknown;
    if (c.body) {
      body = parseBody(req.body, c.route.bodyRequired ?? true);
      if (!c.body.Check(body)) throw badRequest(describeInvalid(c.body, body, 'body'));
    }
    return c.route.handle({
      params,
      query,
      body,
      userId: req.userId,
      plan: req.plan ?? 'free',
      country: req.country ?? 'ZZ',
      baseUrl: req.baseUrl,
    });
  }

  return {
    routes,
    async handle(req, onError) {
      try {
        return await dispatch(req);
      } catch (e) {
        if (e instanceof HttpError) return answer(e.status, e.code, e.message);
        if (isStorageError(e)) return answer(STORAGE_STATUS[e.code], e.code, e.message);
        // Unknown failures: no internals on the wire, the details go to the log.
        onError?.(e);
        return answer(500, 'internal', 'internal error');
      }
    },
  };
}
