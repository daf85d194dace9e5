import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { PipelinedPublisher } from './event-log-publisher.ts';
import { ensureStream, streamSettings } from './jetstream-stream.ts';
import { requireNats, uniqueStream } from '../testkit/pipeline.ts';

const natsUrl = await requireNats();

describe('pipelined publisher', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const stream = uniqueStream('pipelined');
  beforeAll(async () => {
    nc = await connect({ servers: natsUrl });
    jsm = await jetstreamManager(nc);
    await ensureStream(jsm, streamSettings(stream));
  });
  afterAll(async () => {
    await jsm.streams.delete(stream.stream).catch(() => undefined);
    await nc.close();
  });
  const bytes = (s: string) => new TextEncoder().encode(s);

  it('pipelined publisher - each publish resolves with its own ack; a repeated id is a duplicate of the first', async () => {
    const pub = new PipelinedPublisher(nc, 5_000);
    const subject = `${stream.subjectPrefix}.play.end`;
    const acks = await Promise.all(
      Array.from({ length: 500 }, (_, i) => pub.publish(subject, bytes(`{"n":${i}}`), `id-${i}`)),
    );
    expect(acks.map((a) => a.duplicate).every((d) => !d)).toBe(true);
    // Sent in call order on one connection: the stream stores them in that order.
    expect(acks.map((a) => a.seq)).toEqual(acks.map((_, i) => acks[0]!.seq + i));
    const again = await pub.publish(subject, bytes('{"n":7}'), 'id-7');
    expect(again).toEqual({ seq: acks[7]!.seq, duplicate: true });
    pub.close();
  });

  it('pipelined publisher - one batch of text and byte bodies lands byte for byte with its ids; a bad id fails alone', async () => {
    const pub = new PipelinedPublisher(nc, 5_000);
    const subject = `${stream.subjectPrefix}.play.start`;
    const text = '{"track":"Sigur Rós – Hoppípolla"}';
    const bin = new Uint8Array([0x82, 0x00, 0x0d, 0x0a, 0xff]);
    const id = `ü-${Date.now()}`;
    // Queued in one turn: framed and sent as one batch.
    const [a, bad, b] = await Promise.allSettled([
      pub.publish(subject, text, `${id}-text`),
      pub.publish(subject, '{}', `${id}\r\nX: y`),
      pub.publish(subject, bin, `${id}-bytes`),
    ]);
    expect(bad.status).toBe('rejected');
    if (a.status !== 'fulfilled' || b.status !== 'fulfilled') throw new Error('publishes failed');
    const first = await jsm.streams.getMessage(stream.stream, { seq: a.value.seq });
    const second = await jsm.streams.getMessage(stream.stream, { seq: b.value.seq });
    expect(first?.string()).toBe(text);
    expect(first?.header.get('Nats-Msg-Id')).toBe(`${id}-text`);
    expect(second?.data).toEqual(bin);
    expect(second?.header.get('Nats-Msg-Id')).toBe(`${id}-bytes`);
    expect(await pub.publish(subject, text, `${id}-text`)).toEqual({ seq: a.value.seq, duplicate: true });
    pub.close();
  });

  it('pipelined publisher - a subject no stream takes rejects (no responders) instead of hanging', async () => {
    const pub = new PipelinedPublisher(nc, 5_000);
    await expect(pub.publish(`nostream_${Date.now()}.x`, bytes('{}'), 'x')).rejects.toThrow(/no responders/);
    pub.close();
  });

  it('pipelined publisher - an ack that never comes rejects after the timeout; close rejects what is awaited', async () => {
    const subject = `silent_${Date.now()}.x`;
    const sub = nc.subscribe(subject, { callback: () => undefined }); // takes it, never answers
    const pub = new PipelinedPublisher(nc, 100);
    await expect(pub.publish(subject, bytes('{}'), 'y')).rejects.toThrow(/no publish ack within 100 ms/);
    const slow = new PipelinedPublisher(nc, 60_000);
    const waiting = slow.publish(subject, bytes('{}'), 'z');
    await nc.flush();
    slow.close();
    await expect(waiting).rejects.toThrow(/closed/);
    await expect(slow.publish(subject, bytes('{}'), 'w')).rejects.toThrow(/closed/);
    sub.unsubscribe();
    pub.close();
  });
});
