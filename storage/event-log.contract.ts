/**
 * Event log + event source port contract (storage/event-log.ts, storage/event-source.ts), run
 * against every adapter: event-log.test.ts (embedded log) and event-log.engine.test.ts
 * (JetStream, online: the outbox path has its own adapter tests there).
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ListeningEvent } from '../actors/types.ts';
import type { EventLog } from './event-log.ts';
import { isStorageError } from './errors.ts';
import type { Delivery, EventSource, Subscription } from './event-source.ts';
import { makeEvent, removeTempDirs, waitFor } from '../testkit/pipeline.ts';

export interface EventLogUnderTest {
  log: EventLog;
  source: EventSource;
  close(): Promise<void>;
}

let consumerSeq = 0;
const consumerName = (tag: string) => `c_${tag}_${process.pid}_${++consumerSeq}`;

export function eventLogContract(adapter: string, factory: () => Promise<EventLogUnderTest>): void {
  describe(`event log contract (${adapter})`, () => {
    let t: EventLogUnderTest;
    const subs: Subscription[] = [];
    beforeEach(async () => {
      t = await factory();
    });
    afterEach(async () => {
      for (const s of subs.splice(0)) await s.stop().catch(() => undefined);
      await t.close();
    });
    afterAll(removeTempDirs);

    const collect = async (name: string, ackWaitMs = 5_000) => {
      const got: Delivery[] = [];
      subs.push(
        await t.source.subscribe({ name, ackWaitMs, maxBatch: 100 }, async (b) => void got.push(...b)),
      );
      return got;
    };

    it('event log - the same event published 5 times is stored and delivered once', async () => {
      const e = makeEvent();
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await t.log.publish(e));
      expect(results.map((r) => r.duplicate)).toEqual([false, true, true, true, true]);
      const marker = makeEvent();
      await t.log.publish(marker);
      const got = await collect(consumerName('dup'));
      await waitFor('marker delivery', () => got.some((d) => d.event.event_id === marker.event_id));
      expect(got.filter((d) => d.event.event_id === e.event_id)).toHaveLength(1);
      expect(got.find((d) => d.event.event_id === e.event_id)?.event).toEqual(e);
    });

    it('event log - new events get increasing log positions; a duplicate answers with the original one', async () => {
      const events = Array.from({ length: 5 }, () => makeEvent());
      const results = [];
      for (const e of events) results.push(await t.log.publish(e));
      const seqs = results.map((r) => r.seq!);
      expect(seqs.every((s) => Number.isSafeInteger(s))).toBe(true);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(await t.log.publish(events[2]!)).toEqual({ duplicate: true, seq: seqs[2] });
      const got = await collect(consumerName('seq'));
      const mine = new Set(events.map((e) => e.event_id));
      await waitFor('5 deliveries', () => got.filter((d) => mine.has(d.event.event_id)).length >= 5);
      expect(got.filter((d) => mine.has(d.event.event_id)).map((d) => d.seq)).toEqual(seqs);
    });

    it('event log - concurrent publishes of one id store it once', async () => {
      const e = makeEvent();
      const results = await Promise.all(Array.from({ length: 5 }, () => t.log.publish(e)));
      expect(results.filter((r) => !r.duplicate)).toHaveLength(1);
    });

    it('event log - a consumer reading while publishes are in flight receives every event exactly once', async () => {
      const got = await collect(consumerName('inflight'));
      const events = Array.from({ length: 300 }, () => makeEvent());
      // Waves of concurrent publishes: the consumer wakes while later writes are still in flight.
      for (let i = 0; i < events.length; i += 30)
        await Promise.all(events.slice(i, i + 30).map((e) => t.log.publish(e)));
      const ids = new Set(events.map((e) => e.event_id));
      await waitFor(
        'all deliveries',
        () => got.filter((d) => ids.has(d.event.event_id)).length >= events.length,
      );
      const delivered = got.filter((d) => ids.has(d.event.event_id)).map((d) => d.event.event_id);
      expect(new Set(delivered).size).toBe(events.length);
      expect(delivered).toHaveLength(events.length);
    });

    it('event log - a malformed event is rejected with bad_request', async () => {
      const bad = { ...makeEvent(), ms_played: -1 } as ListeningEvent;
      await expect(t.log.publish(bad)).rejects.toSatisfy((e: unknown) => isStorageError(e, 'bad_request'));
      const noId = { ...makeEvent(), event_id: 42 } as unknown as ListeningEvent;
      await expect(t.log.publish(noId)).rejects.toSatisfy((e: unknown) => isStorageError(e, 'bad_request'));
    });

    it('event source - delivers in log order with a first delivery count of 1', async () => {
      const events = Array.from({ length: 20 }, () => makeEvent());
      for (const e of events) await t.log.publish(e);
      const got = await collect(consumerName('order'));
      await waitFor('20 deliveries', () => got.length >= 20);
      const ids = got.map((d) => d.event.event_id);
      const mine = ids.filter((id) => events.some((e) => e.event_id === id));
      expect(mine).toEqual(events.map((e) => e.event_id));
      expect(got.every((d) => d.deliveryCount === 1)).toBe(true);
    });

    it('event source - a batch abandoned by a dead subscriber is redelivered after ack wait', async () => {
      const name = consumerName('crash');
      const e = makeEvent();
      await t.log.publish(e);
      let reached!: () => void;
      const handlerReached = new Promise<void>((r) => (reached = r));
      const dying = await t.source.subscribe({ name, ackWaitMs: 500, maxBatch: 10 }, async () => {
        reached();
        await new Promise(() => undefined); // the process "dies" here: never acks
      });
      await handlerReached;
      await dying.abort();
      const got = await collect(name, 500);
      await waitFor('redelivery', () => got.some((d) => d.event.event_id === e.event_id));
      const d = got.find((x) => x.event.event_id === e.event_id)!;
      expect(d.deliveryCount).toBeGreaterThanOrEqual(2);
    });

    it('event source - a failed batch is nak-ed and comes back', async () => {
      const e = makeEvent();
      await t.log.publish(e);
      const seen: number[] = [];
      subs.push(
        await t.source.subscribe(
          { name: consumerName('nak'), ackWaitMs: 5_000, maxBatch: 10, retryDelayMs: 100 },
          async (b) => {
            for (const d of b) if (d.event.event_id === e.event_id) seen.push(d.deliveryCount);
            if (seen.length === 1) throw new Error('transient store failure');
          },
        ),
      );
      await waitFor('second delivery', () => seen.length >= 2);
      expect(seen.slice(0, 2)).toEqual([1, 2]);
    });

    it('event source - two subscribers of one durable name share the work: each event handled once', async () => {
      const name = consumerName('shared');
      const events = Array.from({ length: 60 }, () => makeEvent());
      const a: Delivery[] = [];
      const b: Delivery[] = [];
      subs.push(
        await t.source.subscribe({ name, ackWaitMs: 10_000, maxBatch: 5 }, async (x) => void a.push(...x)),
      );
      subs.push(
        await t.source.subscribe({ name, ackWaitMs: 10_000, maxBatch: 5 }, async (x) => void b.push(...x)),
      );
      for (let i = 0; i < events.length; i += 10)
        await Promise.all(events.slice(i, i + 10).map((e) => t.log.publish(e)));
      const mine = new Set(events.map((e) => e.event_id));
      const handled = () =>
        [...a, ...b].filter((d) => mine.has(d.event.event_id)).map((d) => d.event.event_id);
      await waitFor('60 deliveries', () => handled().length >= events.length);
      expect(handled().sort()).toEqual([...mine].sort());
    });

    it('event source - a bad consumer name is bad_request', async () => {
      for (const name of ['', 'has space', 'dot.ted', 'x'.repeat(65)])
        await expect(
          t.source.subscribe({ name, ackWaitMs: 1_000, maxBatch: 1 }, async () => undefined),
        ).rejects.toSatisfy((e: unknown) => isStorageError(e, 'bad_request'));
    });

    it('event source - a durable consumer resumes after its acked position', async () => {
      const name = consumerName('durable');
      const first = Array.from({ length: 3 }, () => makeEvent());
      for (const e of first) await t.log.publish(e);
      const got1: Delivery[] = [];
      const s1 = await t.source.subscribe(
        { name, ackWaitMs: 5_000, maxBatch: 10 },
        async (b) => void got1.push(...b),
      );
      await waitFor('first three', () => got1.length >= 3);
      await s1.stop();
      const second = Array.from({ length: 2 }, () => makeEvent());
      for (const e of second) await t.log.publish(e);
      const got2 = await collect(name);
      await waitFor('next two', () => got2.length >= 2);
      expect(got2.map((d) => d.event.event_id)).toEqual(second.map((e) => e.event_id));
    });
  });
}
