import { open } from 'lmdb';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedEventLog } from './event-log.embedded.ts';
import { eventLogContract } from './event-log.contract.ts';
import { makeEvent, removeTempDirs, tempDir, waitFor } from '../testkit/pipeline.ts';

afterAll(removeTempDirs);

eventLogContract('embedded', async () => {
  const log = new EmbeddedEventLog({ dir: tempDir('evlog') });
  return { log, source: log, close: () => log.close() };
});

describe('embedded event log', () => {
  it('embedded log - events, dedup and consumer position survive a reopen', async () => {
    const dir = join(tempDir('evlog-reopen'), 'events');
    const a = new EmbeddedEventLog({ dir });
    const e1 = makeEvent();
    const e2 = makeEvent();
    await a.publish(e1);
    const got: string[] = [];
    const sub = await a.subscribe({ name: 'reopen', ackWaitMs: 1_000, maxBatch: 10 }, async (b) => {
      for (const d of b) got.push(d.event.event_id);
    });
    await waitFor('first delivery', () => got.length === 1);
    await sub.stop();
    await a.close();

    const b = new EmbeddedEventLog({ dir });
    expect((await b.publish(e1)).duplicate).toBe(true);
    await b.publish(e2);
    const got2: string[] = [];
    await b.subscribe({ name: 'reopen', ackWaitMs: 1_000, maxBatch: 10 }, async (batch) => {
      for (const d of batch) got2.push(d.event.event_id);
    });
    await waitFor('second delivery', () => got2.length === 1);
    expect(got2).toEqual([e2.event_id]);
    await b.close();
  });

  it('embedded log - a consumer behind more events than the in-memory window gets every one, in order', async () => {
    const log = new EmbeddedEventLog({ dir: tempDir('evlog-hot') });
    // Past the newest-events cache (8 192): the oldest are read back from LMDB.
    const ids: string[] = [];
    for (let i = 0; i < 9_000; i += 500) {
      const batch = Array.from({ length: 500 }, () => makeEvent());
      ids.push(...batch.map((e) => e.event_id));
      await Promise.all(batch.map((e) => log.publish(e)));
    }
    const got: string[] = [];
    const sub = await log.subscribe({ name: 'behind', ackWaitMs: 10_000, maxBatch: 1_000 }, async (b) => {
      for (const d of b) got.push(d.event.event_id);
    });
    await waitFor('every delivery', () => got.length >= ids.length, 20_000);
    expect(got).toEqual(ids);
    await sub.stop();
    await log.close();
  });

  it('embedded log - an id is stored again after the duplicate window', async () => {
    let now = 1_000_000;
    const log = new EmbeddedEventLog({
      dir: tempDir('evlog-window'),
      duplicateWindowMs: 120_000,
      now: () => now,
    });
    const e = makeEvent();
    expect((await log.publish(e)).duplicate).toBe(false);
    now += 119_000;
    expect((await log.publish(e)).duplicate).toBe(true);
    now += 2_000;
    expect((await log.publish(e)).duplicate).toBe(false);
    expect(log.size()).toBe(2);
    await log.close();
  });

  it('embedded log - an event retention dropped inside the duplicate window is still a duplicate after a reopen', async () => {
    const dir = join(tempDir('evlog-retention'), 'events');
    const a = new EmbeddedEventLog({ dir, maxEvents: 1 });
    const e1 = makeEvent();
    await a.publish(e1);
    await a.publish(makeEvent());
    // Housekeeping (every 5 s) drops the oldest event beyond maxEvents.
    await waitFor('retention', () => a.size() === 1, 15_000);
    expect(await a.publish(e1)).toEqual({ duplicate: true, seq: 1 });
    await a.close();
    const b = new EmbeddedEventLog({ dir, maxEvents: 1 });
    expect(await b.publish(e1)).toEqual({ duplicate: true, seq: 1 });
    await b.close();
  });

  it('embedded log - dedup rows of a log written before (one per event) still count after a reopen', async () => {
    const dir = join(tempDir('evlog-legacy'), 'events');
    const e = makeEvent();
    const env = open({ path: dir, noSubdir: false, maxDbs: 8 });
    await env.openDB({ name: 'dedup' }).put(e.event_id, { seq: 7, at: Date.now() });
    await env.close();
    const log = new EmbeddedEventLog({ dir });
    expect(await log.publish(e)).toEqual({ duplicate: true, seq: 7 });
    expect(log.size()).toBe(0);
    await log.close();
  });
});
