/**
 * One real round trip per engine, the semantics later issues rely on: CQL lightweight
 * transactions, JetStream de-duplication by message id, Redis pipelining.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import { Redis } from 'ioredis';
import {
  createTestKeyspace,
  deleteRedisPrefix,
  requireEngine,
  testNamespace,
  type TestKeyspace,
} from '../testkit/engines.ts';

describe('smoke - CQL node', () => {
  let cql: TestKeyspace;
  beforeAll(async () => {
    cql = await createTestKeyspace('smoke');
  });
  afterAll(async () => {
    await cql?.drop();
  });

  it('smoke - CQL insert IF NOT EXISTS is applied once and refused the second time', async () => {
    const table = `${cql.name}.plays`;
    await cql.client.execute(
      `CREATE TABLE ${table} (play_id text PRIMARY KEY, track_id text, ms_played int)`,
    );
    const insert = `INSERT INTO ${table} (play_id, track_id, ms_played) VALUES (?, ?, ?) IF NOT EXISTS`;

    const first = await cql.client.execute(insert, ['play-1', 'track-a', 31_000], { prepare: true });
    expect(first.first().get('[applied]')).toBe(true);

    const second = await cql.client.execute(insert, ['play-1', 'track-b', 45_000], { prepare: true });
    expect(second.first().get('[applied]')).toBe(false);
    // A refused LWT returns the row that won.
    expect(second.first().get('track_id')).toBe('track-a');

    const stored = await cql.client.execute(
      `SELECT track_id, ms_played FROM ${table} WHERE play_id = ?`,
      ['play-1'],
      {
        prepare: true,
      },
    );
    expect(stored.rows.map((row) => [row.get('track_id'), row.get('ms_played')])).toEqual([
      ['track-a', 31_000],
    ]);
  });
});

describe('smoke - NATS JetStream', () => {
  const ns = testNamespace('smoke');
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  beforeAll(async () => {
    nc = await connect({ servers: await requireEngine('nats') });
    jsm = await jetstreamManager(nc);
  });
  afterAll(async () => {
    await jsm?.streams.delete(ns.stream).catch(() => false);
    await nc?.close();
  });

  it('smoke - JetStream stores a message published twice with one msgID once and acks the second as duplicate', async () => {
    await jsm.streams.add({
      name: ns.stream,
      subjects: [`${ns.subject}.>`],
      duplicate_window: nanos(60_000),
    });
    const js = jetstream(nc);
    const subject = `${ns.subject}.plays`;
    const payload = new TextEncoder().encode(JSON.stringify({ playId: 'play-1', msPlayed: 31_000 }));

    const first = await js.publish(subject, payload, { msgID: 'play-1:30s' });
    const second = await js.publish(subject, payload, { msgID: 'play-1:30s' });
    const other = await js.publish(subject, payload, { msgID: 'play-2:30s' });

    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);
    expect(other.duplicate).toBe(false);
    expect(other.seq).toBe(first.seq + 1);
    const info = await jsm.streams.info(ns.stream);
    expect(info.state.messages).toBe(2);
    expect(info.config.duplicate_window).toBe(nanos(60_000));
  });
});

describe('smoke - Redis', () => {
  const ns = testNamespace('smoke');
  let redis: Redis;
  beforeAll(async () => {
    redis = new Redis(await requireEngine('redis'), { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
  });
  afterAll(async () => {
    if (!redis) return;
    await deleteRedisPrefix(redis, ns.redisPrefix);
    await redis.quit();
  });

  it('smoke - Redis pipeline round trip answers every command in order', async () => {
    const key = `${ns.redisPrefix}track:1`;
    const counter = `${ns.redisPrefix}plays`;
    const results = await redis
      .pipeline()
      .hset(key, { title: 'Song', durationMs: '215000' })
      .incr(counter)
      .incrby(counter, 2)
      .hgetall(key)
      .pexpire(key, 60_000)
      .exec();

    expect(results).toEqual([
      [null, 2],
      [null, 1],
      [null, 3],
      [null, { title: 'Song', durationMs: '215000' }],
      [null, 1],
    ]);
    expect(await deleteRedisPrefix(redis, ns.redisPrefix)).toBe(2);
    expect(await redis.exists(key, counter)).toBe(0);
  });
});
