/**
 * HTTP routes of the session server, written against the transport's request/response
 * shapes (no uWS here): /healthz, /metrics, and the /v1 API behind a Bearer JWT.
 */
import type { Authenticator, Principal } from './auth.ts';
import { bearerToken } from './auth.ts';
import type { SessionMetrics } from './metrics.ts';
import type { HttpHandler, HttpRequestLike, HttpResponseLike } from './transport.ts';

const json = (status: number, body: unknown): HttpResponseLike => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

export interface HealthSource {
  connections(): number;
  sessions(): number;
  startedAt: number;
  /** Component checks, e.g. the event log's outbox state; `ok: false` answers 503. */
  checks?: () => Record<string, { ok: boolean; detail?: unknown }>;
}

export function healthzHandler(src: HealthSource): HttpHandler {
  return () => {
    const checks = src.checks?.() ?? {};
    const ok = Object.values(checks).every((c) => c.ok);
    return json(ok ? 200 : 503, {
      status: ok ? 'ok' : 'degraded',
      uptime_s: Math.round((Date.now() - src.startedAt) / 1000),
      connections: src.connections(),
      sessions: src.sessions(),
      checks,
    });
  };
}

export function metricsHandler(metrics: SessionMetrics): HttpHandler {
  return async () => ({
    status: 200,
    headers: { 'content-type': metrics.registry.contentType },
    body: await metrics.registry.metrics(),
  });
}

/** An authenticated /v1 handler: the principal comes from the Bearer token. */
export type AuthedHandler = (
  req: HttpRequestLike,
  principal: Principal,
) => Promise<HttpResponseLike> | HttpResponseLike;

/** Guards a handler with the Bearer JWT: 401 with a stable code when missing or bad. */
export function withBearer(auth: Authenticator, handler: AuthedHandler): HttpHandler {
  return async (req) => {
    const token = bearerToken(req.headers['authorization']);
    if (!token)
      return json(401, {
        error: {
          status: 401,
          code: 'unauthorized',
          reason: 'token_missing',
          message: 'Bearer token required',
        },
      });
    const r = await auth.verify(token);
    if (!r.ok) {
      const reason = r.reason === 'expired' ? 'token_expired' : 'token_invalid';
      return json(401, { error: { status: 401, code: 'unauthorized', reason, message: r.message } });
    }
    return handler(req, r.principal);
  };
}

export const notFound: HttpHandler = (req) =>
  json(404, {
    error: { status: 404, code: 'not_found', message: `no route for ${req.method} ${req.path}` },
  });
