/**
 * Metrics of the event log publisher, as a small interface so the adapter does not depend on
 * a registry; `promEventLogMetrics` binds it to prom-client for the session server's /metrics.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface EventLogMetrics {
  published(duplicate: boolean): void;
  publishFailed(): void;
  outboxDepth(depth: number): void;
  /** An event was rejected because the outbox is full: operators must act. */
  outboxFull(): void;
}

export const noMetrics: EventLogMetrics = {
  published: () => undefined,
  publishFailed: () => undefined,
  outboxDepth: () => undefined,
  outboxFull: () => undefined,
};

export function promEventLogMetrics(registry: Registry): EventLogMetrics {
  const published = new Counter({
    name: 'events_published_total',
    help: 'Listening events acknowledged by the log, by whether they were duplicates',
    labelNames: ['duplicate'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'events_publish_failures_total',
    help: 'JetStream publishes that failed and were kept in the outbox for retry',
    registers: [registry],
  });
  const depth = new Gauge({
    name: 'events_outbox_depth',
    help: 'Events waiting in the on-disk outbox for JetStream',
    registers: [registry],
  });
  const full = new Counter({
    name: 'events_outbox_full_rejections_total',
    help: 'Events rejected because the outbox was full (publish failed with unavailable)',
    registers: [registry],
  });
  return {
    published: (dup) => published.inc({ duplicate: String(dup) }),
    publishFailed: () => failed.inc(),
    outboxDepth: (n) => depth.set(n),
    outboxFull: () => full.inc(),
  };
}
