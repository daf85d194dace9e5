/**
 * Starts the pipeline's consumers on an event source: royalties, history, features and the
 * warehouse export, each a durable consumer of its own. Runs inside the session process
 * (embedded log) or alone (`npm run pipeline`). Returns a stop function that lets in-flight
 * batches finish and be acked. The stores come opened from the caller (app/ wires them): a
 * consumer whose store is not given is not started.
 *
 * Starting never waits for the log's engine: on JetStream each consumer attaches in the
 * background once NATS answers (storage/event-source.jetstream.ts), so a session process
 * whose NATS is down still starts and its consumers catch up from their durable positions
 * when NATS is back.
 */
import pino, { type Logger } from 'pino';
import type { ListeningEvent } from '../actors/types.ts';
import type { FeatureStore } from '../storage/features.ts';
import type { HistoryStore } from '../storage/history.ts';
import type { CountedPlay, RoyaltyStore } from '../storage/royalties.ts';
import type { BatchHandler, ConsumerSpec, EventSource, Subscription } from '../storage/event-source.ts';
import { FEATURES_CONSUMER, featuresHandler } from './consumers/features.ts';
import { HISTORY_CONSUMER, historyHandler } from './consumers/history.ts';
import { ROYALTY_CONSUMER, royaltyHandler } from './consumers/royalties.ts';
import { EXPORT_CONSUMER, exportHandler } from './consumers/warehouse-export.ts';
import { SCROBBLE_CONSUMER, scrobbleHandler, type ScrobblerDeps } from './scrobbler.ts';

export type ConsumerKind = 'royalties' | 'history' | 'features' | 'export' | 'scrobbles';

export interface PipelineDeps {
  source: EventSource;
  royalties?: RoyaltyStore;
  history?: HistoryStore;
  features?: FeatureStore;
  /** Warehouse export directory; unset disables the export consumer. */
  exportDir?: string;
  /** The ListenBrainz scrobbler (pipeline/scrobbler.ts); unset leaves it out. */
  scrobbles?: Omit<ScrobblerDeps, 'log'>;
  /** Every consumer's ack wait (PIPELINE_ACK_WAIT_MS), under the per-consumer overrides. */
  ackWaitMs?: number;
  /** Per-consumer overrides (ack wait, batch size, name) or `false` to leave one out. */
  consumers?: Partial<Record<ConsumerKind, Partial<ConsumerSpec> | false>>;
  log?: Logger;
  onCounted?: (play: CountedPlay, event: ListeningEvent) => void;
  /** Fault injection for crash tests (royalty consumer): after the store, before the ack. */
  afterRoyaltiesStored?: (playsStored: number) => Promise<void>;
}

export interface RunningPipeline {
  stop(): Promise<void>;
  /** Crash simulation: stop at once, acking nothing in flight. */
  abort(): Promise<void>;
}

export async function startPipeline(deps: PipelineDeps): Promise<RunningPipeline> {
  const log = deps.log ?? pino({ level: 'warn' });
  const plan: [ConsumerKind, ConsumerSpec, BatchHandler | undefined][] = [
    [
      'royalties',
      ROYALTY_CONSUMER,
      deps.royalties &&
        royaltyHandler({
          store: deps.royalties,
          ...(deps.onCounted ? { onCounted: deps.onCounted } : {}),
          ...(deps.afterRoyaltiesStored ? { afterStored: deps.afterRoyaltiesStored } : {}),
        }),
    ],
    ['history', HISTORY_CONSUMER, deps.history && historyHandler(deps.history)],
    ['features', FEATURES_CONSUMER, deps.features && featuresHandler(deps.features)],
    ['export', EXPORT_CONSUMER, deps.exportDir ? exportHandler(deps.exportDir) : undefined],
    ['scrobbles', SCROBBLE_CONSUMER, deps.scrobbles && scrobbleHandler({ ...deps.scrobbles, log })],
  ];
  const subs: Subscription[] = [];
  try {
    for (const [kind, spec, handler] of plan) {
      const override = deps.consumers?.[kind];
      if (!handler || override === false) continue;
      const full = { ...spec, ...(deps.ackWaitMs ? { ackWaitMs: deps.ackWaitMs } : {}), ...override };
      subs.push(
        await deps.source.subscribe(full, async (batch) => {
          // Deliveries an instance died with (or nak'ed), now here: worth a line for operators.
          const again = batch.reduce((n, d) => n + (d.deliveryCount > 1 ? 1 : 0), 0);
          if (again > 0)
            log.info({ consumer: full.name, redelivered: again, size: batch.length }, 'redelivered events');
          try {
            await handler(batch);
          } catch (err) {
            log.warn(
              { err: String(err), consumer: full.name, size: batch.length },
              'pipeline batch failed; will be redelivered',
            );
            throw err;
          }
        }),
      );
    }
  } catch (err) {
    for (const s of subs) await s.stop();
    throw err;
  }
  log.info({ consumers: subs.length }, 'pipeline consumers subscribed');
  return {
    stop: async () => {
      await Promise.all(subs.map((s) => s.stop()));
    },
    abort: async () => {
      await Promise.all(subs.map((s) => s.abort()));
    },
  };
}
