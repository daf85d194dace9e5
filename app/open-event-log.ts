/**
 * Chooses the event log adapter from configuration: JetStream when `natsUrl` (NATS_URL) is
 * set, else the embedded lmdb log under `<dataDir>/events`. The returned log is also the way
 * to its consumer side (`source`), so the session process can run the pipeline beside it.
 */
import { join } from 'node:path';
import type { ListeningEvent } from '../actors/types.ts';
import type { EventLog, PublishResult } from '../storage/event-log.ts';
import { EmbeddedEventLog } from '../storage/event-log.embedded.ts';
import type { EventLogMetrics } from '../storage/event-log-metrics.ts';
import { JetStreamEventLog, type EventLogStatus } from '../storage/event-log.jetstream.ts';
import type { EventSource } from '../storage/event-source.ts';
import { JetStreamEventSource } from '../storage/event-source.jetstream.ts';
import type { StreamSettings } from '../storage/jetstream-stream.ts';
import type { Logger } from '../storage/nats-connection.ts';

export interface EventLogConfig {
  /** NATS_URL; unset selects the embedded log. */
  natsUrl?: string;
  /** Data dir: the embedded log lives in `<dataDir>/events`, the outbox in `<dataDir>/outbox`. */
  dataDir: string;
  stream?: Partial<StreamSettings>;
  outboxMaxEvents?: number;
  metrics?: EventLogMetrics;
  log?: Logger;
}

export interface OpenedEventLog extends EventLog {
  readonly kind: 'embedded' | 'jetstream';
  /** The consumer side (opened on first use for JetStream). */
  readonly source: EventSource;
  status(): EventLogStatus;
}

export function eventLogConfigFromEnv(env: NodeJS.ProcessEnv, dataDir: string): EventLogConfig {
  return {
    dataDir,
    ...(env.NATS_URL ? { natsUrl: env.NATS_URL } : {}),
    ...(env.EVENTS_STREAM ? { stream: { stream: env.EVENTS_STREAM } } : {}),
  };
}

export async function openEventLog(config: EventLogConfig): Promise<OpenedEventLog> {
  if (!config.natsUrl) {
    const log = new EmbeddedEventLog({ dir: join(config.dataDir, 'events') });
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
    outboxDir: join(config.dataDir, 'outbox'),
    ...(config.stream ? { stream: config.stream } : {}),
    ...(config.outboxMaxEvents ? { outboxMaxEvents: config.outboxMaxEvents } : {}),
    ...(config.metrics ? { metrics: config.metrics } : {}),
    ...(config.log ? { log: config.log } : {}),
  });
  let source: JetStreamEventSource | undefined;
  return {
    kind: 'jetstream',
    get source(): EventSource {
      source ??= new JetStreamEventSource({
        natsUrl,
        ...(config.stream ? { stream: config.stream } : {}),
        ...(config.log ? { log: config.log } : {}),
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
