import { afterAll, describe, expect, it } from 'vitest';
import { Outbox } from './outbox.ts';
import { makeEvent, removeTempDirs, tempDir } from '../testkit/pipeline.ts';

afterAll(removeTempDirs);

describe('outbox', () => {
  it('outbox - head() sees appends that are still committing (size and head never disagree)', async () => {
    const outbox = new Outbox(tempDir('outbox-unit'));
    try {
      const events = [makeEvent(), makeEvent(), makeEvent()];
      // Not awaited: a drain round can read the head while the session server's appends commit.
      const appends = events.map((e) => outbox.append(e));
      expect(outbox.size()).toBe(3);
      const head = await outbox.head(10);
      expect(head.map((h) => h.event.event_id)).toEqual(events.map((e) => e.event_id));
      await Promise.all(appends);
      await outbox.remove(head.map((h) => h.key));
      expect(outbox.size()).toBe(0);
      expect(await outbox.head(10)).toEqual([]);
    } finally {
      await outbox.close();
    }
  });

  it('outbox - drains in append order across a reopen and rejects when full', async () => {
    const dir = tempDir('outbox-reopen');
    const a = new Outbox(dir, 2);
    const [e1, e2, e3] = [makeEvent(), makeEvent(), makeEvent()];
    await a.append(e1);
    await a.append(e2);
    await expect(a.append(e3)).rejects.toMatchObject({ code: 'unavailable' });
    await a.close();
    const b = new Outbox(dir, 2);
    try {
      expect(b.size()).toBe(2);
      const head = await b.head(1);
      expect(head.map((h) => h.event.event_id)).toEqual([e1.event_id]);
      await b.remove(head.map((h) => h.key));
      await b.append(e3);
      expect((await b.head(10)).map((h) => h.event.event_id)).toEqual([e2.event_id, e3.event_id]);
    } finally {
      await b.close();
    }
  });
});
