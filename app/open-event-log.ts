/**
 * Chooses the event log adapter from the config's event log section: JetStream when `natsUrl`
 * (NATS_URL) is set, else the embedded lmdb log in the data layout's events/. The returned log is also the way
 * to its consumer side (`source`), so the session process can run the pipeline beside it.
 *
 * Opening never waits for NATS: with NATS unreachable the JetStream log takes events into its
 * outbox and reports itself offline (the readiness endpoint says so) until NATS is back. Only
 * a NATS that answers and refuses the stream for good (its subjects overlap another stream's)
 * fails the open, with that reason.
 */
import type { Logger } from 'pino';
import type { ListeningEvent } from '../actors/types.ts';
import type { EventLog, PublishResult } from '../storage/event-log.ts';
import { EmbeddedEventLog } from '../storage/event-log.embedded.ts';
import type { EventLogMetrics } from '../storage/event-log-metrics.ts';
import { JetStreamEventLog, type EventLogStatus } from '../storage/event-log.jetstream.ts';
import type { EventSource } from '../storage/event-source.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import type { StreamSettings } from '../storage/jetstream-stream.ts';

/** The event log's section of the config (app/config.ts). */
export interface EventLogConfig {
  /** NATS_URL; unset selects the embedded log. */
  natsUrl?: string;
  /** The embedded log's directory (the data layout's events/). */
  dir: string;
  /** The JetStream publisher's outbox (the data layout's outbox/). */
  outboxDir: string;
  /** EVENTS_STREAM overrides the stream name. */
  stream?: Partial<StreamSettings>;
  outboxMaxEvents?: number;
}

export interface EventLogDeps {
  metrics?: EventLogMetrics;
  log?: Logger;
}

export interface OpenedEventLog extends EventLog {
  readonly kind: 'embedded' | 'jetstream';
  /** The consumer side (opened on first use for JetStream). */
  readonly source: EventSource;
  status(): EventLogStatus;
}

export async function openEventLog(config: EventLogConfig, deps: EventLogDeps = {}): Promise<OpenedEventLog> {
  if (!config.natsUrl) {
    const log = new EmbeddedEventLog({ dir: config.dir });
    return {
      kind: 'embedded',
      source: log,
      publish: (e: ListeningEvent): Promise<PublishResult> => log.publish(e),
      status: () => ({ online: true, outboxDepth: 0, outboxMax: 0, outboxFull: false }),
      close: () => log.close(),
    };
  }
  const natsUrl = config.natsUrl;
  const log = new JetStreamEventLog({
    natsUrl,
    outboxDir: config.outboxDir,
    ...(config.stream ? { stream: config.stream } : {}),
    ...(config.outboxMaxEvents ? { outboxMaxEvents: config.outboxMaxEvents } : {}),
    ...(deps.metrics ? { metrics: deps.metrics } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  });
  try {
    await log.start();
  } catch (err) {
    await log.close();
    throw err;
  }
  let source: JetStreamEventSource | undefined;
  return {
    kind: 'jetstream',
    get source(): EventSource {
      source ??= new JetStreamEventSource({
        natsUrl,
        ...(config.stream ? { stream: config.stream } : {}),
        ...(deps.log ? { log: deps.log } : {}),
      });
      return source;
    },
    publish: (e) => log.publish(e),
    status: () => log.status(),
    close: async () => {
      await source?.close();
      await log.close();
    },
  };
}
