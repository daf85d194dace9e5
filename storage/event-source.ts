/**
 * Event source port: the consumer side of the event log.
 * Adapters: the embedded log (storage/event-log.embedded.ts) and a JetStream durable pull
 * consumer (storage/event-source.jetstream.ts).
 *
 * Contract (shared suite: storage/event-log.contract.ts):
 * - A subscription is a *durable* consumer named `spec.name`: its position survives a restart
 *   of the subscriber; two subscriptions of the same name share the work. (The JetStream
 *   adapter names it `<stream>_<spec.name>` on the server, so deployments never share one.)
 * - `subscribe` does not wait for the log's engine: a subscription made while it is
 *   unreachable starts delivering once it is back.
 * - Delivery is at-least-once with explicit ack: the handler gets batches in log order; when
 *   it resolves, every delivery of the batch is acked; when it rejects, they are nak'ed and
 *   come back after `retryDelayMs`. A delivery that is neither acked nor nak'ed within
 *   `ackWaitMs` (a consumer that died mid-batch) is delivered again, to whichever subscriber
 *   of that name is alive.
 * - Handlers must therefore be idempotent; every consumer of pipeline/ is keyed by play id or
 *   event id so a redelivery writes nothing twice.
 */
import type { ListeningEvent } from '../actors/types.ts';

export interface Delivery {
  readonly event: ListeningEvent;
  /** Position in the log (JetStream stream sequence). */
  readonly seq: number;
  /** 1 on first delivery; >1 on redelivery. */
  readonly deliveryCount: number;
}

export interface ConsumerSpec {
  /** Durable consumer name: [A-Za-z0-9_-]. */
  name: string;
  /** Redeliver what is not acked within this time. */
  ackWaitMs: number;
  /** Most deliveries handed to one handler call. */
  maxBatch: number;
  /**
   * How long to wait for a batch to fill once its first delivery arrived (0 = hand over
   * whatever is there at once: lowest latency). The warehouse export uses a long linger
   * to write fewer, larger files.
   */
  lingerMs?: number;
  /** Delay before a nak'ed batch comes back. */
  retryDelayMs?: number;
}

export type BatchHandler = (batch: readonly Delivery[]) => Promise<void>;

export interface Subscription {
  /** Stops pulling, lets the batch in hand finish (and be acked), then resolves. */
  stop(): Promise<void>;
  /**
   * Simulates the subscriber process dying: stops at once, the batch in hand is neither acked
   * nor nak'ed, so the log redelivers it after `ackWaitMs`. For crash tests and shutdown
   * paths that must not ack.
   */
  abort(): Promise<void>;
}

export interface EventSource {
  /**
   * Starts (or resumes) the durable consumer `spec.name` after its acked position and feeds
   * `handler` batches (once the engine answers; resolving does not wait for it) of at most `spec.maxBatch`, in log order, with the delivery semantics
   * above. `bad_request` for a name that does not match CONSUMER_NAME.
   */
  subscribe(spec: ConsumerSpec, handler: BatchHandler): Promise<Subscription>;
  /** Stops every subscription of this source and releases its connection. */
  close(): Promise<void>;
}

export const DEFAULT_RETRY_DELAY_MS = 1_000;
export const CONSUMER_NAME = /^[A-Za-z0-9_-]{1,64}$/;
