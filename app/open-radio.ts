/**
 * Opens the radio (autoplay) for a process, from its config section: the service with its
 * index holder (RADIO=embedded in the server, and `npm run radio`), or a NATS client of
 * `npm run radio` instances (RADIO=nats), or nothing (RADIO=off). Either way the session
 * actor gets one port, `(request) => track ids`, that rejects when the radio does not
 * answer in time (the actor then warns the device and plays on).
 *
 * The content index (radio/content-vectors.ts) is built here from the catalog when the one
 * in force does not cover it: first from metadata (milliseconds, so autoplay works at once),
 * then, in the background, again with the audio measures of each track's lowest bitrate
 * (cached by content address in <RADIO_INDEX_DIR>/audio-features.json).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { noRadio } from '../actors/ports.ts';
import type { RadioRequest } from '../actors/types.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { measureAudio, type AudioFeatures } from '../radio/audio-features.ts';
import { buildContentIndex, type ContentFacts } from '../radio/content-vectors.ts';
import { IndexHolder } from '../radio/index-holder.ts';
import { RadioService } from '../radio/radio-service.ts';
import { embeddedRadioPort, natsRadioPort } from '../radio/radio-transport.ts';
import { publishIndex } from '../radio/vector-index.ts';
import { KeptConnection } from '../storage/nats-connection.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import type { Stores } from './open-stores.ts';
import type { AppConfig, RadioConfig } from './config.ts';

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
  audio?: { objectDir: string; tools: AppConfig['tools'] };
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
  const covered = content && content.size === facts.length && facts.every((f) => content.has(f.trackId));
  let settled = Promise.resolve();
  if (!covered) {
    installContent(config, holder, facts, deps.log);
    if (deps.audio && facts.length > 0)
      settled = withAudio(config, deps.stores.catalog, facts, deps.audio, deps.log, () => stopped)
        .then((measured) => {
          if (!stopped) installContent(config, holder, measured, deps.log);
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

function installContent(config: RadioConfig, holder: IndexHolder, facts: ContentFacts[], log: Logger): void {
  const index = buildContentIndex(facts);
  publishIndex(config.indexDir, index);
  holder.install(index);
  log.info({ version: index.meta.version, tracks: index.size }, 'radio: content index built');
}

async function catalogFacts(catalog: CatalogStore): Promise<ContentFacts[]> {
  const ids = await catalog.listTrackIds();
  const rows = await catalog.getTracks(ids);
  return [...rows.values()]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((t) => ({ trackId: t.id, artistId: t.artistId, albumId: t.albumId }));
}

/** Seconds of each track measured: enough for its character, cheap on a busy machine. */
const MEASURED_SECONDS = 30;

async function withAudio(
  config: RadioConfig,
  catalog: CatalogStore,
  facts: ContentFacts[],
  audio: NonNullable<OpenRadioDeps['audio']>,
  log: Logger,
  stopped: () => boolean,
): Promise<ContentFacts[]> {
  const ffmpeg = locateTools(audio.tools as Record<string, string | undefined>).ffmpeg;
  const objects = new ObjectStore(audio.objectDir);
  mkdirSync(config.indexDir, { recursive: true });
  const cacheFile = join(config.indexDir, 'audio-features.json');
  let cache: Record<string, AudioFeatures> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, AudioFeatures>;
  } catch {
    // No cache yet (or an unreadable one): measure again.
  }
  const scratch = mkdtempSync(join(tmpdir(), 'radio-audio-'));
  let failures = 0;
  try {
    const out: ContentFacts[] = [];
    for (const f of facts) {
      if (stopped()) return facts;
      const files = await catalog.getAudioFiles(f.trackId);
      const file = files[0];
      if (!file) {
        out.push(f);
        continue;
      }
      let measured = cache[file.contentAddress];
      if (!measured) {
        // Init segment + the first chunks make a decodable stream of the track's start.
        const path = join(scratch, 'track.webm');
        writeFileSync(path, readFileSync(objects.pathOf(file.init.key)));
        let ms = 0;
        for (const c of file.chunks) {
          if (ms >= MEASURED_SECONDS * 1000) break;
          appendFileSync(path, readFileSync(objects.pathOf(c.key)));
          ms += c.durationMs;
        }
        try {
          measured = await measureAudio(ffmpeg, path, MEASURED_SECONDS);
          cache[file.contentAddress] = measured;
        } catch {
          failures++;
        }
      }
      out.push(measured ? { ...f, audio: measured } : f);
    }
    writeFileSync(cacheFile, JSON.stringify(cache));
    if (failures) log.warn({ failures }, 'radio: some tracks could not be measured (metadata only for them)');
    return out;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
