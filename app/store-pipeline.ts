/**
 * The pipeline's consumers on the stores of the config: the one wiring shared by the server
 * (embedded log, `npm start`) and `npm run pipeline` (JetStream, its own process).
 */
import type { Logger } from 'pino';
import { startPipeline, type RunningPipeline } from '../pipeline/start-pipeline.ts';
import type { EventSource } from '../storage/event-source.ts';
import type { AppConfig } from './config.ts';
import type { Stores } from './open-stores.ts';

export function startStorePipeline(
  source: EventSource,
  stores: Stores,
  settings: AppConfig['pipeline'],
  log: Logger,
): Promise<RunningPipeline> {
  return startPipeline({
    source,
    royalties: stores.royalties,
    features: stores.features,
    history: stores.history,
    exportDir: settings.warehouseDir,
    ...(settings.ackWaitMs ? { ackWaitMs: settings.ackWaitMs } : {}),
    scrobbles: { store: stores.scrobbles, getTracks: (ids) => stores.catalog.getTracks(ids) },
    log,
  });
}
