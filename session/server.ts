/**
 * Composition of the session server from its parts and ports: transport (uWS), device
 * socket edge, registry, router (actor ports), HTTP routes. No env reads, no globals: the
 * caller (main.ts, tests, the demo, the benchmark) passes config and opened ports in.
 */
import pino, { type Logger } from 'pino';
import type { TemplatedApp } from '@trufflesuite/uws-js-unofficial';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import type { PlaylistStore } from '../storage/playlists.ts';
import type { SnapshotStore } from '../storage/snapshots.ts';
import { createAuthenticator, type Authenticator } from './auth.ts';
import { createCatalogPorts } from './catalog-ports.ts';
import { deviceSocketHandlers, type CommandSink } from './device-socket.ts';
import {
  healthzHandler,
  metricsHandler,
  notFound,
  readyzHandler,
  withBearer,
  type ApiContext,
  type AuthedHandler,
  type ReadinessChecks,
} from './http-routes.ts';
import { createMetrics, type SessionMetrics } from './metrics.ts';
import { Hibernation } from './hibernation.ts';
import type { SessionOwnership } from './placement.ts';
import { placedSessions, type RemoteSessions } from './remote-sessions.ts';
import { SessionRegistry, type Timers } from './registry.ts';
import { SessionRouter, type StartActor } from './session-router.ts';
import type { SessionJournal } from '../storage/journal.ts';
import { startTransport, type HttpHandler, type Transport } from './transport.ts';
import { memoizeSigner } from './signed-url-memo.ts';
import { UrlSigner } from '../protocol/url-signer.ts';
import { serverWire } from './wire.ts';

/** WebSocket route of the devices. */
export const DEVICE_WS_PATH = '/v1/ws';

export interface ServerPorts {
  catalog: CatalogStore;
  playlists: PlaylistStore;
  snapshots: SnapshotStore;
  eventLog: EventLog;
}

/** The session server's section of the app config (parsed and validated in app/config.ts). */
export interface SessionServerConfig {
  host: string;
  port: number;
  /** HS256 secret of device tokens. */
  jwtSecret: string;
  urlSigning: { activeKid: string; keys: Record<string, string> };
  /** How long a session actor outlives its last device before its snapshot is saved. */
  sessionGraceMs: number;
  /** Quiet time after which an idle session hibernates (hibernation.ts); 0: never. */
  hibernateAfterMs: number;
  maxFrameBytes: number;
  maxBackpressureBytes: number;
  /** Frames queued per connection while uWS reports backpressure. */
  maxSendQueue: number;
  idleTimeoutS: number;
  /** Token bucket per connection: sustained frames per second and burst. */
  rateLimit: { rate: number; burst: number };
  /**
   * PUBLIC_BASE_URL: absolute base (no trailing slash) of every URL handed to clients.
   * Unset: `http://<host>:<bound port>` (a wildcard host as loopback).
   */
  publicBaseUrl?: string;
  /** ORIGIN_BASE_URL: base of the signed chunk URLs (a CDN in front of the origin). Unset: the public base. */
  originBaseUrl?: string;
}

export interface ServerOptions {
  config: SessionServerConfig;
  ports: ServerPorts;
  startActor: StartActor;
  log?: Logger;
  /** Routes written against uWS itself (the origin's chunk routes). */
  mountRaw?: (app: TemplatedApp, signer: UrlSigner) => void;
  /** The /v1 HTTP API (playlists, history, royalties), behind the Bearer token. */
  api?: AuthedHandler;
  /** Readiness checks answered on /readyz (the event log: online, outbox not full). */
  checks?: ReadinessChecks;
  /** /v1 routes that need no token (the OpenAPI description), by exact path. */
  publicHttp?: Record<string, HttpHandler>;
  timers?: Timers;
  now?: () => number;
  onPlayLatency?: (ms: number) => void;
  /** Extra sink for the duration (ms) of each wake of a hibernated session, e.g. the benchmark. */
  onWake?: (ms: number) => void;
  /**
   * Wraps the actor starter outside hibernation, so the wrapper holds each live session's
   * actor as the router does (a command through it wakes a hibernated one): the HTTP player
   * door (http/player-door.ts).
   */
  wrapLiveActors?: (start: StartActor) => StartActor;
  /** Default process metrics (off in tests, on in main). */
  defaultMetrics?: boolean;
  /** A registry made by the caller, so other parts (the event log) report on the same /metrics. */
  metrics?: SessionMetrics;
  /**
   * Cluster mode: who owns each listener, the relay to owners elsewhere (placement.ts), and
   * the acknowledged-command journal (session-router.ts), when on.
   */
  placement?: {
    ownership: SessionOwnership;
    remote: RemoteSessions;
    journal?: Pick<SessionJournal, 'append'>;
  };
}

export interface SessionServer {
  readonly port: number;
  /** http://host:port */
  readonly httpUrl: string;
  /** Base of the URLs handed to clients (the API's hrefs). */
  readonly publicBaseUrl: string;
  /** Base of the signed chunk URLs. */
  readonly originBaseUrl: string;
  /** ws://host:port/v1/ws */
  readonly wsUrl: string;
  readonly auth: Authenticator;
  readonly signer: UrlSigner;
  readonly registry: SessionRegistry;
  readonly hibernation: Hibernation;
  /** Commands into the local session actors (the owner's end of a relay uses it). */
  readonly commands: CommandSink;
  /** Resolves once what the listener's session produced so far is journaled (at once without a journal). */
  journaled(userId: string): Promise<void>;
  readonly metrics: SessionMetrics;
  /** The HTTP route patterns registered (uWS syntax) and the device WebSocket's path. */
  readonly httpRoutes: readonly string[];
  /**
   * Closes every socket (with `code`, default `server_shutdown`), saves every session snapshot,
   * stops listening. Ports stay open.
   */
  close(code?: { code: number; reason: string }): Promise<void>;
}

/** A host clients can reach this server by: a wildcard address means this machine's loopback. */
function reachableHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export async function startSessionServer(opts: ServerOptions): Promise<SessionServer> {
  const { config, ports } = opts;
  const log = opts.log ?? pino();
  const metrics = opts.metrics ?? createMetrics({ defaultMetrics: opts.defaultMetrics });
  const auth = createAuthenticator(config.jwtSecret, opts.now);
  const signer = new UrlSigner(config.urlSigning);
  const wire = serverWire(config.maxFrameBytes);
  const catalog = createCatalogPorts({
    catalog: ports.catalog,
    playlists: ports.playlists,
    onRefreshError: (err, trackId) =>
      log.warn({ err, trackId }, 'refreshing a cached track failed; serving the cached one'),
  });

  // Known once the port is bound (PORT=0 picks one); nothing is signed or answered before.
  const bases: ApiContext & { originBaseUrl: string } = { publicBaseUrl: '', originBaseUrl: '' };
  const hibernation = new Hibernation({
    afterMs: config.hibernateAfterMs,
    onWake: opts.onWake,
    onCount: (n) => metrics.hibernatedSessions.set(n),
  });
  const router = new SessionRouter({
    startActor: (opts.wrapLiveActors ?? ((start) => start))(hibernation.wrap(opts.startActor)),
    catalog,
    eventLog: ports.eventLog,
    // Absolute: the signature covers the path (`/o/<key>`); the base says where it is served.
    signUrl: memoizeSigner((path, exp) => bases.originBaseUrl + signer.sign(path, exp)),
    wire,
    metrics,
    log,
    now: opts.now,
    onPlayLatency: opts.onPlayLatency,
    onSessionFailed: (userId) =>
      registry.evict(userId, CLOSE_CODES.session_reset.code, CLOSE_CODES.session_reset.reason),
    onSessionChanged: (userId) => registry.changed(userId),
    ...(opts.placement?.journal ? { journal: opts.placement.journal } : {}),
  });
  const registry: SessionRegistry = new SessionRegistry({
    createLiveSession: (p, restored) => router.createLiveSession(p, restored),
    snapshots: ports.snapshots,
    sessionGraceMs: config.sessionGraceMs,
    replacedCloseCode: CLOSE_CODES.replaced.code,
    log,
    timers: opts.timers,
    onCount: (n) => metrics.sessions.set(n),
    ...(opts.placement ? { ownership: opts.placement.ownership } : {}),
  });
  // Cluster mode: hellos are placed (here, or relayed to the owner), commands follow them.
  const placed = opts.placement
    ? placedSessions(registry, router, opts.placement.ownership, opts.placement.remote)
    : undefined;

  const startedAt = Date.now();
  let transport: Transport | undefined;
  const http: Record<string, HttpHandler> = {
    '/healthz': healthzHandler({
      startedAt,
      connections: () => transport?.connectionCount() ?? 0,
      sessions: () => registry.size,
    }),
    '/readyz': readyzHandler(opts.checks),
    '/metrics': metricsHandler(metrics),
    // Exact paths: uWS prefers them to the wildcard below.
    ...opts.publicHttp,
    '/v1/*': opts.api ? withBearer(auth, opts.api, bases) : notFound,
  };

  transport = await startTransport({
    host: config.host,
    port: config.port,
    wsPath: DEVICE_WS_PATH,
    limits: {
      maxFrameBytes: config.maxFrameBytes,
      maxBackpressureBytes: config.maxBackpressureBytes,
      maxSendQueue: config.maxSendQueue,
      idleTimeoutS: config.idleTimeoutS,
      slowConsumerCloseCode: CLOSE_CODES.slow_consumer.code,
      idleCloseCode: CLOSE_CODES.idle_timeout.code,
    },
    handlers: deviceSocketHandlers({
      wire,
      auth,
      registry: placed ?? registry,
      sink: placed ?? router,
      metrics,
      log,
      maxFrameBytes: config.maxFrameBytes,
      rateLimit: config.rateLimit,
      now: opts.now,
    }),
    log,
    http,
    onServerClose: (code) => metrics.closes.inc({ code: String(code) }),
    mountRaw: opts.mountRaw ? (app) => opts.mountRaw!(app, signer) : undefined,
  });

  const port = transport.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const httpUrl = `http://${host}:${port}`;
  bases.publicBaseUrl = config.publicBaseUrl ?? `http://${reachableHost(config.host)}:${port}`;
  bases.originBaseUrl = config.originBaseUrl ?? bases.publicBaseUrl;
  let closed: Promise<void> | undefined;
  return {
    port,
    httpUrl,
    publicBaseUrl: bases.publicBaseUrl,
    originBaseUrl: bases.originBaseUrl,
    wsUrl: `ws://${host}:${port}${DEVICE_WS_PATH}`,
    auth,
    signer,
    registry,
    hibernation,
    commands: router,
    journaled: (userId) => router.journaled(userId),
    metrics,
    httpRoutes: [...Object.keys(http), DEVICE_WS_PATH],
    close(code = CLOSE_CODES.server_shutdown) {
      closed ??= (async () => {
        transport!.close(code.code, code.reason);
        hibernation.close();
        await registry.shutdown();
        // The actors' last events (play.end on logout) go to the log before the caller closes it.
        router.flushEvents();
      })();
      return closed;
    },
  };
}
