/**
 * Event log port: the durable, dedup-keyed log of listening events.
 * Adapters beside it: in-process embedded log (event-log.embedded.ts, the default) and
 * NATS JetStream (event-log.jetstream.ts, when NATS_URL is set); contract suite
 * event-log.contract.ts (with the event source port, event-source.ts).
 *
 * Contract:
 * - `publish` is at-least-once towards the log and idempotent by `event_id`: publishing the
 *   same id again within the duplicate window stores nothing new and resolves `duplicate: true`.
 * - It resolves once the event is durable in the log or in the adapter's outbox; it rejects
 *   only with `StorageError('unavailable')` when neither can take it (outbox full).
 * - Consumers get acked delivery: an event not acked in time is delivered again.
 *
 * The event itself is a domain type of the actor that emits it (actors/types.ts).
 */
import type { ListeningEvent } from '../actors/types.ts';

export interface PublishResult {
  duplicate: boolean;
  /** Sequence in the log; undefined while the event waits in an outbox. */
  seq?: number;
}

export interface EventLog {
  /**
   * Appends the event once per `event_id` within the duplicate window: a repeat (also a
   * concurrent one) resolves `duplicate: true` with the original's `seq` and stores nothing.
   * New events get increasing `seq`s (undefined while parked in an outbox). `bad_request` for
   * a malformed event; `unavailable` only when neither the log nor the outbox can take it.
   */
  publish(event: ListeningEvent): Promise<PublishResult>;
  /** Releases the adapter (an outbox keeps what it holds for the next start). */
  close(): Promise<void>;
}
