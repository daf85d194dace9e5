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
