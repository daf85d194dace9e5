/**
 * The whole service in one process, from one parsed config: stores (embedded by default),
 * event log, the pipeline's consumers (royalties, history, features, warehouse export), demo catalog, and the session server with the origin and
 * the /v1 playlist API on the same port. Shared by `npm start`, the demo, the e2e tests and
 * the benchmark, so they all run the same wiring.
 */
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { HotObjects } from '../origin/hot-objects.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { registerOriginRoutes } from '../origin/origin-routes.ts';
import { openEventLog, type OpenedEventLog } from './open-event-log.ts';
import { startPipeline, type RunningPipeline } from '../pipeline/start-pipeline.ts';
import { openStores, type Stores } from './open-stores.ts';
import { openTrackCache } from '../storage/cache.ts';
import { playlistApi } from '../session/playlist-api.ts';
import type { ServerConfig } from './config.ts';
import { startSessionServer, type ServerOptions, type SessionServer } from '../session/server.ts';
import { sessionActorStarter } from './session-actor.ts';
import type { StartActor } from '../session/session-hub.ts';
import { seedDemo, type DemoInfo } from './demo-seed.ts';
import { ensureDemoCatalog } from './demo-catalog.ts';

export interface App {
  server: SessionServer;
  stores: Stores;
  eventLog: OpenedEventLog;
  pipeline: RunningPipeline | undefined;
  demo: DemoInfo;
  log: Logger;
  /** Graceful stop: sockets, snapshots, pipeline, event log, stores. */
  close(): Promise<void>;
}

export interface AppOptions extends Pick<
  ServerOptions,
  'timers' | 'now' | 'onPlayLatency' | 'defaultMetrics'
> {
  log?: Logger;
  /** Run the pipeline consumers in-process (default true). */
  pipeline?: boolean;
  /**
   * Which demo data to ensure: `audio` (default, `npm start`) synthesizes and ingests the real
   * demo catalog with ffmpeg on first start (origin/demo-catalog.ts), so playback URLs point at
   * decodable Opus chunks; `fixture` seeds a small synthetic catalog in milliseconds (tests,
   * benchmarks, the demo script), whose chunk objects are real objects but not audio.
   */
  demo?: 'audio' | 'fixture';
  /** Wraps the standard actor starter (tests inject actor faults through it). */
  wrapStartActor?: (standard: StartActor) => StartActor;
}

export async function startApp(config: ServerConfig, opts: AppOptions = {}): Promise<App> {
  const log = opts.log ?? pino({ level: config.logLevel });
  const stores = await openStores({
    ...(config.scyllaContactPoints ? { scyllaContactPoints: config.scyllaContactPoints } : {}),
    keyspace: config.scyllaKeyspace,
    localDataCenter: config.scyllaLocalDc,
    // A fixed sub-directory: lmdb takes a path whose last segment has a dot (e.g. mktemp's
    // /tmp/tmp.XyZ) for a file name and fails on the existing directory.
    dataDir: join(config.dataDir, 'store'),
  });
  const closers: (() => Promise<void>)[] = [() => stores.close()];
  const unwind = async () => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => log.error({ err }, 'close failed'));
  };
  try {
    const eventLog = await openEventLog({
      dataDir: config.dataDir,
      ...(config.natsUrl ? { natsUrl: config.natsUrl } : {}),
    });
    closers.push(() => eventLog.close());

    let pipeline: RunningPipeline | undefined;
    if (opts.pipeline ?? true) {
      // Every consumer: royalties and features on the stores' own engine (same LMDB env or
      // CQL keyspace), history, and the warehouse export where `npm run job` reads it.
      pipeline = await startPipeline({
        source: eventLog.source,
        backend: stores.backend,
        history: stores.history,
        exportDir: join(config.dataDir, 'warehouse'),
        log,
      });
      closers.push(() => pipeline!.stop());
    }

    const cache = await openTrackCache(config.redisUrl ? { redisUrl: config.redisUrl } : {});
    closers.push(() => cache.close());
    const objects = new ObjectStore(config.objectDir);
    const demo: DemoInfo =
      (opts.demo ?? 'audio') === 'audio'
        ? await ensureDemoCatalog(stores, {
            objectDir: config.objectDir,
            maxTrackSeconds: config.demoTrackSeconds,
            log: (line) => log.info(line),
          })
        : await seedDemo(stores, objects, config, log);

    const server = await startSessionServer({
      config,
      ports: { catalog: stores.catalog, playlists: stores.playlists, snapshots: stores.snapshots, eventLog },
      startActor: (opts.wrapStartActor ?? ((s) => s))(sessionActorStarter(config)),
      log,
      mountRaw: (app, signer) => {
        registerOriginRoutes(app, {
          objects,
          signer,
          hot: new HotObjects(),
          onError: (err, key) => log.error({ err, key }, 'origin object error'),
        });
      },
      api: playlistApi({ stores, cache, log }),
      checks: () => {
        const s = eventLog.status();
        return { event_log: { ok: !s.outboxFull, detail: s } };
      },
      timers: opts.timers,
      now: opts.now,
      onPlayLatency: opts.onPlayLatency,
      defaultMetrics: opts.defaultMetrics,
    });

    return {
      server,
      stores,
      eventLog,
      pipeline,
      demo,
      log,
      async close() {
        await server.close();
        await unwind();
      },
    };
  } catch (err) {
    await unwind();
    throw err;
  }
}
