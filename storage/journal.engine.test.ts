/**
 * The session journal on the real JetStream: a new owner reads what the last one appended, an
 * owner fenced out by a newer one cannot append, appends waiting behind a write become one,
 * a purge never removes a newer owner's entry, and an unreadable entry locks no one out.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { requireEngine, testNamespace } from '../testkit/engines.ts';
import { JetStreamJournal, journalSubject, readJournalEntry } from './journal.jetstream.ts';
import { newerSnapshot } from './journal.ts';
import type { SessionSnapshot } from './snapshots.ts';

const ns = testNamespace('journal');
const settings = { stream: `${ns.stream}_journal`, subjectPrefix: `${ns.subject}.journal` };
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: await requireEngine('nats') });
});

afterAll(async () => {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(settings.stream).catch(() => undefined);
  await nc.close();
});

const snap = (userId: string, version: number, savedAt = 1_000 + version): SessionSnapshot => ({
  userId,
  version,
  savedAt,
  state: { marker: `v${version}`, list: [1, 2, 3] },
});

describe('journal', () => {
  it('journal - a new owner reads the last acknowledged state of the one before', async () => {
    const a = await JetStreamJournal.open(nc, settings);
    const b = await JetStreamJournal.open(nc, settings);
    expect(await a.open('u1', 10)).toBeUndefined();
    await a.append(snap('u1', 1));
    await a.append(snap('u1', 2));
    expect(await b.open('u1', 11)).toEqual(snap('u1', 2));
    // The fence entry carries the state forward: a third owner still finds it.
    expect(await a.open('u1', 12)).toEqual(snap('u1', 2));
  });

  it('journal - an owner fenced out by a newer one cannot append, and nothing of it lands', async () => {
    const old = await JetStreamJournal.open(nc, settings);
    const next = await JetStreamJournal.open(nc, settings);
    await old.open('u2', 20);
    await old.append(snap('u2', 1));
    expect(await next.open('u2', 21)).toEqual(snap('u2', 1));
    await expect(old.append(snap('u2', 9))).rejects.toMatchObject({ code: 'conflict' });
    // And it stays out, even for an append that was not concurrent with the takeover.
    await expect(old.append(snap('u2', 10))).rejects.toMatchObject({ code: 'conflict' });
    await next.append(snap('u2', 2));
    const reader = await JetStreamJournal.open(nc, settings);
    expect(await reader.open('u2', 22)).toEqual(snap('u2', 2));
  });

  it('journal - an owner with an older fence than the journal holds cannot open it', async () => {
    const a = await JetStreamJournal.open(nc, settings);
    await a.open('u3', 30);
    await expect(a.open('u3', 29)).rejects.toMatchObject({ code: 'conflict' });
    await expect(a.append(snap('unknown-user', 1))).rejects.toMatchObject({ code: 'conflict' });
  });

  it('journal - appends waiting behind a write become one; every caller is answered', async () => {
    const a = await JetStreamJournal.open(nc, settings);
    await a.open('u4', 40);
    const seqBefore = a.lastSeq('u4');
    await Promise.all([1, 2, 3, 4, 5].map((v) => a.append(snap('u4', v))));
    // One write for the first, one for the four that waited behind it (this file alone
    // writes to the stream, one test at a time, so its sequence counts our writes).
    expect(a.lastSeq('u4') - seqBefore).toBe(2);
    const b = await JetStreamJournal.open(nc, settings);
    expect(await b.open('u4', 41)).toEqual(snap('u4', 5));
  });

  it('journal - a drop purges the owner’s entries, never a newer owner’s', async () => {
    const jsm = await jetstreamManager(nc);
    const count = async (userId: string) => {
      const info = await jsm.streams.info(settings.stream, {
        subjects_filter: journalSubject(settings.subjectPrefix, userId),
      });
      return Object.values(info.state.subjects ?? {}).reduce((n, c) => n + c, 0);
    };
    const a = await JetStreamJournal.open(nc, settings);
    await a.open('u5', 50);
    await a.append(snap('u5', 1));
    await a.drop('u5', a.lastSeq('u5'));
    expect(await count('u5')).toBe(0);
    // A stale owner's drop after a takeover leaves the new owner's entry.
    const old = await JetStreamJournal.open(nc, settings);
    const next = await JetStreamJournal.open(nc, settings);
    await old.open('u6', 60);
    await old.append(snap('u6', 1));
    const covered = old.lastSeq('u6');
    await next.open('u6', 61);
    await old.drop('u6', covered);
    expect(await count('u6')).toBe(1);
    expect(await (await JetStreamJournal.open(nc, settings)).open('u6', 62)).toEqual(snap('u6', 1));
  });

  it('journal - an entry this build cannot read is fenced over; the listener is not locked out', async () => {
    const js = jetstream(nc);
    const subject = journalSubject(settings.subjectPrefix, 'u7');
    for (const junk of ['{"f":1,"s":{}}', '\u00c1garbage', '']) {
      await js.publish(subject, new TextEncoder().encode(junk));
      expect(readJournalEntry(new TextEncoder().encode(junk))).toBeUndefined();
      const a = await JetStreamJournal.open(nc, settings);
      expect(await a.open('u7', 70)).toBeUndefined();
      await a.append(snap('u7', 3));
      expect(await (await JetStreamJournal.open(nc, settings)).open('u7', 71)).toEqual(snap('u7', 3));
    }
  });

  it('journal - once closed, an owner appends nothing more', async () => {
    const a = await JetStreamJournal.open(nc, settings);
    await a.open('u8', 80);
    await a.close();
    await expect(a.append(snap('u8', 1))).rejects.toMatchObject({ code: 'conflict' });
  });

  it('journal - the newer of a stored snapshot and an entry wins (version, then save time)', () => {
    expect(newerSnapshot(snap('u', 3), snap('u', 4))?.version).toBe(4);
    expect(newerSnapshot(snap('u', 4, 5_000), snap('u', 4, 4_000))?.savedAt).toBe(5_000);
    expect(newerSnapshot(undefined, snap('u', 1))?.version).toBe(1);
    expect(newerSnapshot(undefined, undefined)).toBeUndefined();
  });
});
