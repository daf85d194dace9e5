/**
 * The OpenAPI 3.1 description of the session server's HTTP surface, generated: the /v1 API
 * from its route table (api-router.ts: the schemas the router validates with), the server's
 * own routes (/healthz, /metrics, the device WebSocket, the chunk origin) from SERVER_ROUTES
 * below. Served at GET /v1/openapi.json without a token.
 */
import type { TObject, TSchema } from 'typebox';
import type { ApiRoute } from './api-router.ts';
import { COMPONENTS, ErrorBody, HealthBody, OriginError, ReadinessBody } from './schemas.ts';

export const OPENAPI_PATH = '/v1/openapi.json';

type Json = Record<string, unknown>;

/** A schema as plain JSON, with every named schema below the top replaced by a `$ref`. */
function toJson(schema: TSchema, top = true): Json {
  const walk = (node: unknown, isTop: boolean): unknown => {
    if (Array.isArray(node)) return node.map((n) => walk(n, false));
    if (node === null || typeof node !== 'object') return node;
    const title = (node as { title?: unknown }).title;
    if (!isTop && typeof title === 'string' && COMPONENTS[title])
      return { $ref: `#/components/schemas/${title}` };
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, false)]));
  };
  return walk(schema, top) as Json;
}

const json = (schema: TSchema, description: string) => ({
  description,
  content: { 'application/json': { schema: toJson(schema, false) } },
});

/** Statuses every /v1 API operation may answer besides its own. */
const COMMON_ERRORS = {
  401: 'no, malformed or expired Bearer token (`reason`: token_missing, token_invalid, token_expired)',
  default:
    'unknown path (404 not_found) or method (405 bad_request), a store down (503 unavailable, 504 ' +
    'timeout), or an unexpected failure (500 internal, details only in the server log)',
};

function queryParameters(query: TObject | undefined): Json[] {
  if (!query) return [];
  const required = new Set((query.required as string[] | undefined) ?? []);
  return Object.entries(query.properties as Record<string, TSchema>).map(([name, schema]) => {
    const s = toJson(schema, false);
    return {
      name,
      in: 'query',
      required: required.has(name),
      ...(typeof s.description === 'string' ? { description: s.description } : {}),
      schema: s,
    };
  });
}

function apiOperation(r: ApiRoute): Json {
  const pathParams = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
    name: m[1],
    in: 'path',
    required: true,
    schema: { type: 'string', minLength: 1 },
  }));
  const responses: Json = {};
  for (const [status, ok] of Object.entries(r.ok))
    responses[status] = ok.schema ? json(ok.schema, ok.description) : { description: ok.description };
  if (r.query || r.body)
    responses['400'] = json(
      ErrorBody,
      'bad input (`code` bad_request); the message names the field at fault',
    );
  responses['401'] = json(ErrorBody, COMMON_ERRORS[401]);
  for (const [status, when] of Object.entries(r.errors)) responses[status] = json(ErrorBody, when);
  responses.default = json(ErrorBody, COMMON_ERRORS.default);
  return {
    operationId: r.operationId,
    tags: [r.tag],
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    parameters: [...pathParams, ...queryParameters(r.query)],
    ...(r.body
      ? {
          requestBody: {
            required: r.bodyRequired ?? true,
            content: { 'application/json': { schema: toJson(r.body, false) } },
          },
        }
      : {}),
    responses,
  };
}

const signedQuery = [
  { name: 'exp', in: 'query', required: true, schema: { type: 'integer' }, description: 'expiry, epoch s' },
  { name: 'kid', in: 'query', required: true, schema: { type: 'string' }, description: 'signing key id' },
  {
    name: 'sig',
    in: 'query',
    required: true,
    schema: { type: 'string' },
    description: 'HMAC-SHA256, base64url',
  },
];
const objectKey = {
  name: 'key',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[0-9a-f]{64}$' },
  description: 'the object: sha256 of its bytes, lower-case hex',
};
const originResponses = (withBody: boolean) => ({
  200: {
    description: 'the object (immutable; Cache-Control: public, max-age=31536000, immutable)',
    ...(withBody ? { content: { 'audio/webm': { schema: { type: 'string', format: 'binary' } } } } : {}),
  },
  206: { description: 'the byte range asked for with Range: bytes=a-b' },
  304: { description: 'If-None-Match matched the ETag (the key)' },
  403: {
    description: 'signature missing, malformed, expired, from an unknown key or wrong',
    content: { 'application/json': { schema: toJson(OriginError, false) } },
  },
  404: {
    description: 'no such object (asked with a valid signature)',
    content: { 'application/json': { schema: toJson(OriginError, false) } },
  },
  416: { description: 'the Range lies outside the object' },
});

/** The routes the session server registers itself, besides the /v1 API of the route table. */
export const SERVER_ROUTES: Record<string, Json> = {
  '/healthz': {
    get: {
      operationId: 'health',
      tags: ['server'],
      summary: 'Liveness: 200 while the process serves',
      security: [],
      responses: { 200: json(HealthBody, 'the process serves') },
    },
  },
  '/readyz': {
    get: {
      operationId: 'ready',
      tags: ['server'],
      summary: 'Readiness: 503 while the event log is offline or its outbox is full',
      security: [],
      responses: {
        200: json(ReadinessBody, 'every check ok'),
        503: json(ReadinessBody, 'a check failed; `reasons` names each, e.g. NATS unreachable'),
      },
    },
  },
  '/metrics': {
    get: {
      operationId: 'metrics',
      tags: ['server'],
      summary: 'Prometheus metrics (text exposition format)',
      security: [],
      responses: {
        200: { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
      },
    },
  },
  '/v1/ws': {
    get: {
      operationId: 'deviceSocket',
      tags: ['server'],
      summary: 'The device WebSocket: binary MessagePack frames, protocol/README.md',
      description:
        'Upgrade to a WebSocket; the token travels in the first frame (`hello`), not in a header, so ' +
        'no Authorization is needed for the upgrade.',
      security: [],
      responses: { 101: { description: 'switching protocols' } },
    },
  },
  '/': {
    get: {
      operationId: 'playerPage',
      tags: ['server'],
      summary: 'The web player (one HTML page built by `npm run build:player`)',
      description: 'Until the bundle is built, a page that names the command to build it.',
      security: [],
      responses: {
        200: { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } },
      },
    },
  },
  '/dev/token': {
    get: {
      operationId: 'devToken',
      tags: ['server'],
      summary: 'Demo mode only: the demo listeners, or a device token for one (`?user=`)',
      description:
        'Served only when the server runs in demo mode (DEMO_MODE, on by default exactly when ' +
        'JWT_SECRET is unset); otherwise 404 like any unknown path. `ttl_s` (1-86400, default 3600) ' +
        'sets the token lifetime.',
      security: [],
      parameters: [
        { name: 'user', in: 'query', required: false, schema: { type: 'string' } },
        {
          name: 'ttl_s',
          in: 'query',
          required: false,
          schema: { type: 'integer', minimum: 1, maximum: 86400 },
        },
      ],
      responses: {
        200: {
          description: '`{listeners: [{id, plan, country}]}`, or with `user`: `{token, user, ttl_s}`',
          content: { 'application/json': { schema: { type: 'object' } } },
        },
        400: json(ErrorBody, '`ttl_s` out of range'),
        404: json(ErrorBody, 'no demo listener with that id'),
      },
    },
  },
  [OPENAPI_PATH]: {
    get: {
      operationId: 'openapi',
      tags: ['server'],
      summary: 'This document',
      security: [],
      responses: {
        200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } },
      },
    },
  },
  '/o/{key}': {
    get: {
      operationId: 'getObject',
      tags: ['origin'],
      summary: 'An audio object (init segment or chunk) by content address, with a signed URL',
      description:
        'URLs come from `playback` and `prefetch` frames, signed and absolute; clients use them as ' +
        'given. Honours Range, If-None-Match and If-Range.',
      security: [],
      parameters: [objectKey, ...signedQuery],
      responses: originResponses(true),
    },
    head: {
      operationId: 'headObject',
      tags: ['origin'],
      summary: 'As GET, without the body',
      security: [],
      parameters: [objectKey, ...signedQuery],
      responses: originResponses(false),
    },
  },
};

/** `{path template: {method: operation}}` of the /v1 API plus the server routes. */
export function openApiDocument(routes: readonly ApiRoute[], info: { version: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    paths[r.path] ??= {};
    paths[r.path]![r.method.toLowerCase()] = apiOperation(r);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Playback session server HTTP API',
      version: info.version,
      description:
        'The /v1 API (playlists, the listener’s history and royalties) behind a Bearer device token ' +
        '(`npm run token`), the server routes and the chunk origin. Every /v1 error answers ' +
        '`{"error": {"status", "code", "message"}}` with a stable `code`. Generated from the schemas ' +
        'the server validates with (session/http/schemas.ts).',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ bearer: [] }],
    tags: [
      { name: 'playlists', description: 'playlists, shaped like the Spotify Web API' },
      { name: 'catalog', description: 'the catalog, with what the caller may play' },
      { name: 'me', description: 'the caller’s listening history and royalty streams' },
      { name: 'server', description: 'health, metrics, the device socket, this document' },
      { name: 'origin', description: 'the chunk origin (content-addressed, signed URLs)' },
    ],
    paths: { ...paths, ...SERVER_ROUTES },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: Object.fromEntries(Object.entries(COMPONENTS).map(([name, s]) => [name, toJson(s, true)])),
    },
  };
}
