/**
 * Opens the radio (autoplay) for a process, from its config section: the service with its
 * index holder (RADIO=embedded in the server, and `npm run radio`), or a NATS client of
 * `npm run radio` instances (RADIO=nats), or nothing (RADIO=off). Either way the session
 * actor gets one port, `(request) => track ids`, that rejects when the radio does not
 * answer in time (the actor then warns the device and plays on).
 *
 * The content index (radio/content-vectors.ts) is completed here from the catalog when the
 * one in force does not cover it: the missing tracks first from metadata (milliseconds, so
 * autoplay works at once), then, in the background, every track again with the audio
 * measures of its lowest bitrate (app/content-index.ts). Ingest publishes new tracks' vectors
 * while this runs; the poll of `CURRENT` puts them in force.
 */
import type { Logger } from 'pino';
import { noRadio } from '../actors/ports.ts';
import type { RadioRequest } from '../actors/types.ts';
import { buildContentIndex, CONTENT_DIMENSIONS, type ContentFacts } from '../radio/content-vectors.ts';
import { IndexHolder } from '../radio/index-holder.ts';
import { RadioService } from '../radio/radio-service.ts';
import { embeddedRadioPort, natsRadioPort } from '../radio/radio-transport.ts';
import { publishIndex, type VectorIndex } from '../radio/vector-index.ts';
import { KeptConnection } from '../storage/nats-connection.ts';
import { catalogFacts, withAudio, type AudioSource } from './content-index.ts';
import type { Stores } from './open-stores.ts';
import type { RadioConfig } from './config.ts';

export type RadioPort = (request: RadioRequest) => Promise<string[]>;

export interface OpenedRadio {
  port: RadioPort;
  /** The service, when it runs in this process. */
  service?: RadioService;
  holder?: IndexHolder;
  /** Settles when the background content work (audio measures) is done. */
  settled: Promise<void>;
  close(): Promise<void>;
}

export interface OpenRadioDeps {
  stores: Pick<Stores, 'catalog' | 'history'>;
  log: Logger;
  /** Audio objects, for the content index's audio measures; absent: metadata only. */
  audio?: AudioSource;
  now?: () => number;
}

export async function openRadio(config: RadioConfig, deps: OpenRadioDeps): Promise<OpenedRadio> {
  if (config.mode === 'off') return { port: noRadio, settled: Promise.resolve(), close: async () => {} };
  if (config.mode === 'nats') {
    const kept = new KeptConnection({
      url: config.natsUrl!,
      name: 'radio-client',
      log: deps.log,
      onUp: () => {},
      onDown: () => {},
    });
    const port = natsRadioPort(() => kept.connection, {
      subject: config.subject,
      timeoutMs: config.timeoutMs,
      attempts: config.attempts,
    });
    return { port, settled: Promise.resolve(), close: () => kept.close() };
  }
  const { service, holder, settled, stop } = await startRadioService(config, deps);
  return {
    port: embeddedRadioPort(service, config.timeoutMs),
    service,
    holder,
    settled,
    close: async () => {
      stop();
      await settled;
    },
  };
}

/** The service over the published indexes, with the content index brought up to the catalog. */
export async function startRadioService(
  config: RadioConfig,
  deps: OpenRadioDeps,
): Promise<{ service: RadioService; holder: IndexHolder; settled: Promise<void>; stop: () => void }> {
  const holder = new IndexHolder(config.indexDir);
  // Stops the poll and the background measures (between two tracks), so a close is quick.
  let stopped = false;
  const stop = () => {
    stopped = true;
    holder.stop();
  };
  const report = holder.refresh();
  for (const f of report.failed)
    deps.log.warn({ kind: f.kind, version: f.version }, `radio: ${f.error}; not used`);
  for (const l of report.loaded) deps.log.info(l, 'radio: index loaded');
  const facts = await catalogFacts(deps.stores.catalog);
  const content = holder.current().content;
  const covered = content && facts.every((f) => content.has(f.trackId));
  let settled = Promise.resolve();
  if (!covered) {
    // Vectors already published (an ingest's audio measures) are kept; the rest from metadata.
    const base = content?.set.dimensions === CONTENT_DIMENSIONS ? content : undefined;
    installContent(config, holder, base ? facts.filter((f) => !base.has(f.trackId)) : facts, deps.log, base);
    if (deps.audio && facts.length > 0)
      settled = withAudio(config.indexDir, deps.stores.catalog, facts, deps.audio, () => stopped)
        .then(({ facts: measured, failures }) => {
          if (stopped) return;
          if (failures)
            deps.log.warn({ failures }, 'radio: some tracks could not be measured (metadata only for them)');
          // Tracks ingested since start were published by their ingest: keep them.
          holder.refresh();
          installContent(config, holder, measured, deps.log, holder.current().content);
        })
        .catch((err: unknown) =>
          deps.log.warn({ err }, 'radio: audio measures failed; metadata-only content index kept'),
        );
  }
  holder.watch(config.pollMs, (r) => {
    for (const l of r.loaded) deps.log.info(l, 'radio: new index in force');
    for (const f of r.failed)
      deps.log.warn({ kind: f.kind, version: f.version }, `radio: ${f.error}; the old index stays`);
  });
  const service = new RadioService({
    catalog: deps.stores.catalog,
    history: deps.stores.history,
    indexes: holder,
    now: deps.now ?? Date.now,
  });
  return { service, holder, settled, stop };
}

function installContent(
  config: RadioConfig,
  holder: IndexHolder,
  facts: ContentFacts[],
  log: Logger,
  base?: VectorIndex,
): void {
  const index = buildContentIndex(facts, base);
  publishIndex(config.indexDir, index);
  holder.install(index);
  log.info({ version: index.meta.version, tracks: index.size }, 'radio: content index built');
}
