/**
 * HTTP routes of the session server, written against the transport's request/response
 * shapes (no uWS here): /healthz (liveness), /readyz (readiness), /metrics, and the /v1 API
 * behind a Bearer JWT.
 */
import type { Authenticator, Principal } from './auth.ts';
import { bearerToken } from './auth.ts';
import type { SessionMetrics } from './metrics.ts';
import { httpError, type HttpHandler, type HttpRequestLike, type HttpResponseLike } from './transport.ts';

const json = (status: number, body: unknown): HttpResponseLike => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** One component's readiness, e.g. the event log: `ok: false` makes /readyz answer 503. */
export interface ReadinessCheck {
  ok: boolean;
  /** Why it is not ready, for operators (e.g. "event log offline: NATS unreachable at ..."). */
  reason?: string;
  detail?: unknown;
}

export type ReadinessChecks = () => Record<string, ReadinessCheck>;

export interface HealthSource {
  connections(): number;
  sessions(): number;
  startedAt: number;
}

/**
 * Liveness: 200 while the process serves HTTP, whatever its dependencies do (restarting the
 * process would not bring NATS back; the outbox is there for that).
 */
export function healthzHandler(src: HealthSource): HttpHandler {
  return () =>
    json(200, {
      status: 'ok',
      uptime_s: Math.round((Date.now() - src.startedAt) / 1000),
      connections: src.connections(),
      sessions: src.sessions(),
    });
}

/**
 * Readiness: 200 `ready` when every check is ok, else 503 `not_ready` with each failing
 * check's reason (the event log offline, its outbox full), so a load balancer can send new
 * listeners elsewhere while this process keeps serving the ones it has.
 */
export function readyzHandler(checks: ReadinessChecks | undefined): HttpHandler {
  return () => {
    const all = checks?.() ?? {};
    const failing = Object.entries(all).filter(([, c]) => !c.ok);
    return json(failing.length === 0 ? 200 : 503, {
      status: failing.length === 0 ? 'ready' : 'not_ready',
      reasons: failing.map(([name, c]) => `${name}: ${c.reason ?? 'not ready'}`),
      checks: all,
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

/** What an API handler needs of the server besides the request. */
export interface ApiContext {
  /** Absolute base of every URL the answer hands out (PUBLIC_BASE_URL), no trailing slash. */
  publicBaseUrl: string;
}

/** An authenticated /v1 handler: the principal comes from the Bearer token. */
export type AuthedHandler = (
  req: HttpRequestLike,
  principal: Principal,
  ctx: ApiContext,
) => Promise<HttpResponseLike> | HttpResponseLike;

/** Guards a handler with the Bearer JWT: 401 with a stable code when missing or bad. */
export function withBearer(auth: Authenticator, handler: AuthedHandler, ctx: ApiContext): HttpHandler {
  return async (req) => {
    const token = bearerToken(req.headers['authorization']);
    if (!token) return httpError(401, 'unauthorized', 'Bearer token required', 'token_missing');
    const r = await auth.verify(token);
    if (!r.ok) {
      const reason = r.reason === 'expired' ? 'token_expired' : 'token_invalid';
      return httpError(401, 'unauthorized', r.message, reason);
    }
    return handler(req, r.principal, ctx);
  };
}

export const notFound: HttpHandler = (req) =>
  httpError(404, 'not_found', `no route for ${req.method} ${req.path}`.slice(0, 300));
