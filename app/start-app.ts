/**
 * The whole service in one process, from one parsed config: stores (embedded by default),
 * event log, the pipeline's consumers (royalties, history, features, warehouse export), demo catalog, and the session server with the origin and
 * the /v1 playlist API on the same port. Shared by `npm start`, the demo, the e2e tests and
 * the benchmark, so they all run the same wiring.
 */
import pino, { type Logger } from 'pino';
import { HotObjects } from '../origin/hot-objects.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { registerOriginRoutes } from '../origin/origin-routes.ts';
import { createMetrics } from '../session/metrics.ts';
import { promEventLogMetrics } from '../storage/event-log-metrics.ts';
import { openEventLog, type OpenedEventLog } from './open-event-log.ts';
import type { RunningPipeline } from '../pipeline/start-pipeline.ts';
import { startStorePipeline } from './store-pipeline.ts';
import { openStores, type Stores } from './open-stores.ts';
import { openTrackCache } from './open-track-cache.ts';
import { httpApi } from '../session/playlist-api.ts';
import { STREAM_THRESHOLD_MS } from '../pipeline/royalty-rule.ts';
import type { AppConfig, DemoCatalogKind } from './config.ts';
import type { EventLogStatus } from '../storage/event-log.jetstream.ts';
import type { ReadinessCheck } from '../session/http-routes.ts';
import { startSessionServer, type ServerOptions, type SessionServer } from '../session/server.ts';
import { sessionActorStarter } from './session-actor.ts';
import type { StartActor } from '../session/session-router.ts';
import { seedDemo, type DemoInfo } from './demo-seed.ts';
import { createAuthenticator } from '../session/auth.ts';
import { PlayerDoor } from '../session/http/player-door.ts';
import { ListenerRateLimit, playerRoutes } from '../session/http/player-api.ts';
import { playerHistoryRoutes } from '../session/http/player-history-api.ts';
import { registerPlayerEvents, streamTicketRoute } from '../session/http/player-events.ts';
import {
  DEFAULT_TICKET_TTL_MS,
  SealedStreamTickets,
  StreamTickets,
  type TicketBook,
} from '../session/http/stream-tickets.ts';
import { tracksRoutes } from '../session/http/tracks-api.ts';
import { scrobbleLinkRoutes } from '../session/http/scrobble-api.ts';
import { ensureDemoCatalog } from './demo-catalog.ts';
import { openRadio, type OpenedRadio } from './open-radio.ts';
import type { RadioRequest } from '../actors/types.ts';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import { startClusterNode, type ClusterNode } from '../cluster/cluster-node.ts';
import { playerPageRoutes } from './player-page.ts';
import { ownerRoutes } from './owner-routes.ts';
import { isStateWatch, StateRelay } from '../cluster/state-relay.ts';
import { openSpentTickets } from '../cluster/spent-tickets.ts';
import type { ApiRoute } from '../session/http/api-router.ts';

export interface App {
  server: SessionServer;
  /** The autoplay service as this process runs it (RADIO, app/open-radio.ts). */
  radio: OpenedRadio;
  stores: Stores;
  eventLog: OpenedEventLog;
  pipeline: RunningPipeline | undefined;
  /** Cluster mode (NODE_ID): this node's leases and relay; undefined on one node. */
  cluster: ClusterNode | undefined;
  demo: DemoInfo;
  log: Logger;
  /** The Web API player's way into the session actors (states, SSE subscribers). */
  player: PlayerDoor;
  /** Graceful stop: sockets, snapshots, pipeline, event log, stores. */
  close(): Promise<void>;
}

export interface AppOptions extends Pick<
  ServerOptions,
  'timers' | 'now' | 'onPlayLatency' | 'onWake' | 'defaultMetrics'
> {
  log?: Logger;
  /** Run the pipeline consumers in-process (default true). */
  pipeline?: boolean;
  /**
   * Which demo data to ensure (default: the config's DEMO_CATALOG): `audio` synthesizes and
   * ingests the real demo catalog with ffmpeg on first start (app/demo-catalog.ts), so
   * playback URLs point at decodable Opus chunks; `fixture` seeds a small synthetic catalog in
   * milliseconds (tests, benchmarks, the demo script), whose chunk objects are not audio.
   */
  demo?: DemoCatalogKind;
  /** Wraps the standard actor starter (tests inject actor faults through it). */
  wrapStartActor?: (standard: StartActor) => StartActor;
}

export async function startApp(config: AppConfig, opts: AppOptions = {}): Promise<App> {
  const log = opts.log ?? pino({ level: config.logLevel });
  // Built first: a bad actor setting stops start-up before any store, log or ingest work.
  // The HTTP player API reaches the same actors as the devices, through this door.
  // In cluster mode with the journal on, an HTTP command's answer waits for it like an ack.
  let journaled: ((userId: string) => Promise<void>) | undefined;
  const player = new PlayerDoor({ journaled: (userId) => journaled?.(userId) ?? Promise.resolve() });
  // The radio opens after the stores; sessions reach it through this late-bound port.
  let radio: OpenedRadio | undefined;
  const radioPort = (request: RadioRequest) => (radio ? radio.port(request) : Promise.resolve([]));
  const startActor = (opts.wrapStartActor ?? ((s) => s))(sessionActorStarter(config.actor, radioPort));
  // Before any store work: a node id in use or NATS unreachable stops start-up at once.
  const cluster = config.cluster ? await startClusterNode(config.cluster, log) : undefined;
  let stores: Stores;
  try {
    stores = await openStores(config.stores);
  } catch (err) {
    await cluster?.close();
    throw err;
  }
  const closers: (() => Promise<void>)[] = [() => stores.close()];
  if (cluster) closers.push(() => cluster.close());
  const unwind = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.error({ err }, 'close failed'));
  };
  try {
    // One registry for the server and the event log publisher, so /metrics shows both.
    const metrics = createMetrics({ defaultMetrics: opts.defaultMetrics ?? false });
    const eventLog = await openEventLog(config.eventLog, {
      log,
      metrics: promEventLogMetrics(metrics.registry),
    });
    closers.push(() => eventLog.close());

    let pipeline: RunningPipeline | undefined;
    if (opts.pipeline ?? true) {
      // Every consumer, on the stores' own engine, and the warehouse export where
      // `npm run job` reads it.
      pipeline = await startStorePipeline(eventLog.source, stores, config.pipeline, log);
      closers.push(() => pipeline!.stop());
    }

    const cache = await openTrackCache(config.cache);
    closers.push(() => cache.close());
    const objects = new ObjectStore(config.layout.objects);
    const demo: DemoInfo =
      (opts.demo ?? config.demoCatalog) === 'audio'
        ? await ensureDemoCatalog(stores, {
            objectDir: config.layout.objects,
            toolsEnv: config.tools,
            maxTrackSeconds: config.demoTrackSeconds,
            log: (line) => log.info(line),
          })
        : await seedDemo(stores, objects, log);

    radio = await openRadio(config.radio, {
      stores,
      log,
      ...((opts.demo ?? config.demoCatalog) === 'audio'
        ? { audio: { objectDir: config.layout.objects, tools: config.tools } }
        : {}),
      ...(opts.now ? { now: opts.now } : {}),
    });
    closers.push(() => radio!.close());

    // One budget per listener over the Web API routes, as Spotify counts them.
    const webApiLimit = new ListenerRateLimit(config.playerApi.rateLimit);
    // Cluster mode: a ticket from any node opens a stream on any node, once; a stream on any
    // node gets the owner's states (cluster/state-relay.ts).
    const streamTickets: TicketBook = cluster
      ? new SealedStreamTickets(
          config.server.jwtSecret,
          await openSpentTickets(cluster.link, DEFAULT_TICKET_TTL_MS),
          DEFAULT_TICKET_TTL_MS,
          opts.now,
        )
      : new StreamTickets(undefined, opts.now);
    const stateRelay = cluster ? new StateRelay(player, cluster, log) : undefined;
    if (stateRelay) closers.push(async () => stateRelay.close());
    const api = httpApi({
      stores,
      cache,
      log,
      streamThresholdMs: STREAM_THRESHOLD_MS,
      routes: [
        ...(cluster
          ? (r: ApiRoute[]) =>
              ownerRoutes(r, cluster, log, (userId, call) =>
                stateRelay && isStateWatch(call)
                  ? Promise.resolve(stateRelay.watch(userId, call))
                  : undefined,
              )
          : (r: ApiRoute[]) => r)(
          playerRoutes({
            door: player,
            config: config.playerApi,
            limit: webApiLimit,
            getTracks: (ids) => stores.catalog.getTracks(ids),
            ...(opts.now ? { now: opts.now } : {}),
          }),
        ),
        ...webApiLimit.routes([
          streamTicketRoute(streamTickets),
          ...playerHistoryRoutes({ history: stores.history, catalog: stores.catalog }),
          ...tracksRoutes({ catalog: stores.catalog, ...(opts.now ? { now: opts.now } : {}) }),
        ]),
        ...scrobbleLinkRoutes({
          store: stores.scrobbles,
          endpoints: config.scrobbles.endpoints,
          ...(opts.now ? { now: opts.now } : {}),
        }),
      ],
    });
    let publicBaseUrl = '';
    const playerPage = playerPageRoutes({
      mint: (claims, ttlS) => server.auth.mint(claims, ttlS),
      demo,
      demoMode: config.demoMode,
    });
    const server: SessionServer = await startSessionServer({
      config: config.server,
      ports: {
        catalog: stores.catalog,
        playlists: stores.playlists,
        // Cluster mode: writes fenced by this node's lease of the listener.
        snapshots: cluster ? cluster.fenceSnapshots(stores.snapshots) : stores.snapshots,
        eventLog: cluster ? cluster.fenceEvents(eventLog) : eventLog,
      },
      ...(cluster
        ? {
            placement: {
              ownership: cluster,
              remote: cluster.relay,
              ...(cluster.journal ? { journal: cluster.journal } : {}),
            },
          }
        : {}),
      startActor,
      wrapLiveActors: (start) => player.wrap(start),
      log,
      mountRaw: (app, signer) => {
        registerOriginRoutes(app, {
          objects,
          signer,
          hot: new HotObjects(),
          onError: (err, key) => log.error({ err, key }, 'origin object error'),
        });
        registerPlayerEvents(app, {
          door: stateRelay ?? player,
          tickets: streamTickets,
          auth: createAuthenticator(config.server.jwtSecret, opts.now),
          baseUrl: () => publicBaseUrl,
          ...(opts.now ? { now: opts.now } : {}),
        });
      },
      api: api.authed,
      publicHttp: { ...api.public, ...playerPage },
      checks: () => ({ event_log: eventLogReadiness(eventLog.status()) }),
      timers: opts.timers,
      now: opts.now,
      onPlayLatency: opts.onPlayLatency,
      onWake: opts.onWake,
      metrics,
    });
    publicBaseUrl = server.publicBaseUrl;
    journaled = (userId) => server.journaled(userId);
    cluster?.bind(server);

    return {
      server,
      radio,
      stores,
      eventLog,
      pipeline,
      cluster,
      demo,
      log,
      player,
      async close() {
        // Cluster drain: no new listeners, relayed devices and local ones reconnect elsewhere
        // at once; every session saved, then its lease released (the registry's retire).
        cluster?.drain();
        await server.close(cluster ? CLOSE_CODES.moved : undefined);
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}

/**
 * The event log's part of /readyz: not ready while it is offline (events wait in the outbox)
 * or its outbox is full (events are refused). Plays go on meanwhile; readiness only tells a
 * load balancer to prefer another instance.
 */
function eventLogReadiness(s: EventLogStatus): ReadinessCheck {
  if (s.outboxFull)
    return {
      ok: false,
      reason: `event log outbox full (${s.outboxDepth}/${s.outboxMax} events): new listening events are refused`,
      detail: s,
    };
  if (!s.online)
    return {
      ok: false,
      reason: `event log offline (${s.offlineReason ?? 'connecting'}); ${s.outboxDepth} events wait in the outbox`,
      detail: s,
    };
  return { ok: true, detail: s };
}
