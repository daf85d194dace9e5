import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ACTIVE_DEVICE_GRACE_MS,
  DEFAULT_END_WATCHDOG_MS,
  DEFAULT_START_BITRATE_KBPS,
  DEFAULT_URL_TTL_MS,
} from '../actors/config.ts';
import { DEFAULT_HOT_BYTES } from '../origin/hot-objects.ts';
import { defaultIngestOptions } from '../origin/ingest/ladder.ts';
import {
  ConfigError,
  DEFAULT_ORIGIN_PORT,
  DEFAULT_PORT,
  MIN_URL_TTL_S,
  configWarnings,
  parseConfig,
  parseReplication,
  sessionConfigOf,
} from './config.ts';
import { dataLayout } from './data-layout.ts';
import { DEFAULT_HIBERNATE_AFTER_MS } from '../session/hibernation.ts';

const errorOf = (env: Record<string, string>): ConfigError => {
  try {
    parseConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('parseConfig accepted a bad value');
};

describe('config', () => {
  it('config - defaults with nothing set, and warns about the dev secrets', () => {
    const c = parseConfig({});
    expect(c.server.port).toBe(DEFAULT_PORT);
    expect(c.server.host).toBe('127.0.0.1');
    // The actor's defaults are the machine's own (actors/config.ts), not a second copy.
    expect(c.actor).toEqual({
      startBitrateKbps: DEFAULT_START_BITRATE_KBPS,
      urlTtlS: DEFAULT_URL_TTL_MS / 1000,
      activeDeviceGraceMs: DEFAULT_ACTIVE_DEVICE_GRACE_MS,
      endWatchdogMs: DEFAULT_END_WATCHDOG_MS,
    });
    expect(c.devDefaults).toEqual({ jwtSecret: true, urlSigning: true });
    expect(c.eventLog.natsUrl).toBeUndefined();
    expect(c.stores.scyllaContactPoints).toBeUndefined();
    expect(c.stores.replication).toEqual({ class: 'SimpleStrategy', replicationFactor: 1 });
    expect(c.cache).toEqual({});
    expect(c.origin.port).toBe(DEFAULT_ORIGIN_PORT);
    expect(c.origin.hotBytes).toBe(DEFAULT_HOT_BYTES);
    expect(c.ingest).toEqual(defaultIngestOptions());
    expect(c.logLevel).toBe('info');
    expect(c.demoCatalog).toBe('audio');
    expect(configWarnings(c).join('\n')).toMatch(/JWT_SECRET/);
  });

  it('config - one data layout under DATA_DIR (default ./var) for every service', () => {
    const c = parseConfig({});
    expect(c.layout).toEqual(dataLayout(resolve('var')));
    const d = parseConfig({ DATA_DIR: '/data/x' });
    expect(d.layout).toEqual({
      root: '/data/x',
      store: '/data/x/store',
      events: '/data/x/events',
      outbox: '/data/x/outbox',
      objects: '/data/x/objects',
      warehouse: '/data/x/warehouse',
      reports: '/data/x/reports',
      radio: '/data/x/radio',
    });
    expect(d.radio.indexDir).toBe(d.layout.radio);
    // Each service's section points into the same layout.
    expect(d.stores.dataDir).toBe(d.layout.store);
    expect(d.eventLog.dir).toBe(d.layout.events);
    expect(d.eventLog.outboxDir).toBe(d.layout.outbox);
    expect(d.origin.objectDir).toBe(d.layout.objects);
    expect(d.pipeline.warehouseDir).toBe(d.layout.warehouse);
    expect(parseConfig({ DATA_DIR: '/data/x', OBJECT_DIR: '/cdn/o' }).layout.objects).toBe('/cdn/o');
  });

  it('config - reads every variable it knows into its section', () => {
    const c = parseConfig({
      PORT: '0',
      HOST: '0.0.0.0',
      JWT_SECRET: 'x'.repeat(32),
      URL_SIGNING_KEYS: `a:${'s'.repeat(32)},b:${'t'.repeat(40)}`,
      URL_SIGNING_KID: 'b',
      URL_TTL_S: '900',
      START_BITRATE_KBPS: '24',
      SESSION_GRACE_MS: '5',
      ACTIVE_DEVICE_GRACE_MS: '7',
      END_WATCHDOG_MS: '9',
      MAX_FRAME_BYTES: '4096',
      MAX_BACKPRESSURE_BYTES: '65536',
      MAX_SEND_QUEUE: '8',
      IDLE_TIMEOUT_S: '0',
      RATE_LIMIT: '10/20',
      DATA_DIR: '/tmp/x',
      SCYLLA_CONTACT_POINTS: '127.0.0.1:19042, 127.0.0.2',
      SCYLLA_KEYSPACE: 'ks1',
      SCYLLA_LOCAL_DC: 'dc2',
      SCYLLA_REPLICATION: 'dc1:3,dc2:2',
      NATS_URL: 'nats://127.0.0.1:14222',
      EVENTS_STREAM: 'LISTEN_T',
      REDIS_URL: 'redis://127.0.0.1:16379',
      ORIGIN_PORT: '9000',
      ORIGIN_HOT_BYTES: '1024',
      ORIGIN_HOT_MAX_OBJECT_BYTES: '512',
      INGEST_CHUNK_MS: '2000',
      INGEST_WORKERS: '1',
      FFMPEG_PATH: '/opt/ffmpeg',
      PUBLIC_BASE_URL: 'https://api.example.com/',
      ORIGIN_BASE_URL: 'https://cdn.example.com/audio/',
      LOG_LEVEL: 'warn',
      DEMO_CATALOG: 'fixture',
    });
    expect(c.server).toEqual({
      host: '0.0.0.0',
      port: 0,
      jwtSecret: 'x'.repeat(32),
      urlSigning: { activeKid: 'b', keys: { a: 's'.repeat(32), b: 't'.repeat(40) } },
      sessionGraceMs: 5,
      hibernateAfterMs: 60_000,
      maxFrameBytes: 4096,
      maxBackpressureBytes: 65536,
      maxSendQueue: 8,
      idleTimeoutS: 0,
      rateLimit: { rate: 10, burst: 20 },
      publicBaseUrl: 'https://api.example.com',
      originBaseUrl: 'https://cdn.example.com/audio',
    });
    expect(c.actor).toEqual({
      startBitrateKbps: 24,
      urlTtlS: 900,
      activeDeviceGraceMs: 7,
      endWatchdogMs: 9,
    });
    expect(c.stores).toEqual({
      scyllaContactPoints: ['127.0.0.1:19042', '127.0.0.2'],
      keyspace: 'ks1',
      localDataCenter: 'dc2',
      replication: { class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3, dc2: 2 } },
      dataDir: '/tmp/x/store',
    });
    expect(c.eventLog).toEqual({
      natsUrl: 'nats://127.0.0.1:14222',
      stream: { stream: 'LISTEN_T' },
      dir: '/tmp/x/events',
      outboxDir: '/tmp/x/outbox',
    });
    expect(c.cache).toEqual({ redisUrl: 'redis://127.0.0.1:16379' });
    expect(c.origin).toEqual({
      host: '0.0.0.0',
      port: 9000,
      objectDir: '/tmp/x/objects',
      urlSigning: c.server.urlSigning,
      hotBytes: 1024,
      hotMaxObjectBytes: 512,
    });
    expect(c.ingest).toMatchObject({ chunkMs: 2000, workers: 1 });
    expect(c.tools).toEqual({ FFMPEG_PATH: '/opt/ffmpeg' });
    expect(c.logLevel).toBe('warn');
    expect(c.demoCatalog).toBe('fixture');
    expect(configWarnings(c)).toEqual([]);
  });

  it('config - the URL bases: unset, the server derives them from its address; the origin base defaults to the public one', () => {
    const unset = parseConfig({});
    expect(unset.server.publicBaseUrl).toBeUndefined();
    expect(unset.server.originBaseUrl).toBeUndefined();
    const one = parseConfig({ PUBLIC_BASE_URL: 'https://play.example.com/' });
    expect(one.server.publicBaseUrl).toBe('https://play.example.com');
    expect(one.server.originBaseUrl).toBe('https://play.example.com');
    const cdn = parseConfig({ ORIGIN_BASE_URL: 'https://cdn.example.com' });
    expect(cdn.server.publicBaseUrl).toBeUndefined();
    expect(cdn.server.originBaseUrl).toBe('https://cdn.example.com');
  });

  it('config - URL_TTL_S is checked against the settings it depends on before any work, naming the variable', () => {
    // The smallest lifetime the machine accepts passes; one second less names URL_TTL_S.
    expect(parseConfig({ URL_TTL_S: String(MIN_URL_TTL_S) }).actor.urlTtlS).toBe(MIN_URL_TTL_S);
    for (const ttl of [61, 300, 600, MIN_URL_TTL_S - 1]) {
      const e = errorOf({ URL_TTL_S: String(ttl) });
      expect(e.variable).toBe('URL_TTL_S');
      expect(e.message).toMatch(new RegExp(`^URL_TTL_S: expected at least ${MIN_URL_TTL_S}, got ${ttl}`));
      expect(e.message).not.toMatch(/urlRenewLeadMs|urlTtlMs/);
    }
    // The actor is built from the same settings by the same rules: what parses, starts.
    const c = parseConfig({ URL_TTL_S: String(MIN_URL_TTL_S) });
    expect(sessionConfigOf(c.actor).urlTtlMs).toBe(MIN_URL_TTL_S * 1000);
  });

  it('config - HIBERNATE_AFTER_MS: a quiet time in ms, 0 turns hibernation off, anything else is refused by name', () => {
    expect(parseConfig({}).server.hibernateAfterMs).toBe(DEFAULT_HIBERNATE_AFTER_MS);
    expect(parseConfig({ HIBERNATE_AFTER_MS: '0' }).server.hibernateAfterMs).toBe(0);
    expect(parseConfig({ HIBERNATE_AFTER_MS: '5000' }).server.hibernateAfterMs).toBe(5000);
    for (const bad of ['-1', 'soon', '1.5', String(25 * 3600_000)]) {
      expect(errorOf({ HIBERNATE_AFTER_MS: bad }).variable).toBe('HIBERNATE_AFTER_MS');
    }
  });

  it('config - cluster mode: NODE_ID with NATS_URL; a node id without NATS or of a bad shape names the variable', () => {
    expect(parseConfig({}).cluster).toBeUndefined();
    const c = parseConfig({
      NODE_ID: 'node-1',
      NATS_URL: 'nats://127.0.0.1:4222',
      CLUSTER_LEASE_TTL_MS: '3000',
    });
    expect(c.cluster).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      nodeId: 'node-1',
      name: 'playback',
      leaseTtlMs: 3000,
      journal: true,
    });
    expect(
      parseConfig({ NODE_ID: 'n', NATS_URL: 'nats://x:1', CLUSTER_JOURNAL: 'off' }).cluster?.journal,
    ).toBe(false);
    expect(errorOf({ NODE_ID: 'n', NATS_URL: 'nats://x:1', CLUSTER_JOURNAL: 'yes' }).variable).toBe(
      'CLUSTER_JOURNAL',
    );
    expect(configWarnings(c).join('\n')).toMatch(/NODE_ID is set without SCYLLA_CONTACT_POINTS/);
    expect(errorOf({ NODE_ID: 'node-1' }).variable).toBe('NODE_ID');
    expect(errorOf({ NODE_ID: 'node-1' }).message).toMatch(/needs NATS_URL/);
    expect(errorOf({ NODE_ID: 'a.b', NATS_URL: 'nats://x:1' }).variable).toBe('NODE_ID');
    expect(errorOf({ CLUSTER_NAME: 'a b' }).variable).toBe('CLUSTER_NAME');
    expect(errorOf({ CLUSTER_LEASE_TTL_MS: '10' }).variable).toBe('CLUSTER_LEASE_TTL_MS');
  });

  it('config - SCYLLA_REPLICATION: simple or per data centre, unset is one replica', () => {
    expect(parseReplication(undefined)).toEqual({ class: 'SimpleStrategy', replicationFactor: 1 });
    expect(parseReplication('simple:3')).toEqual({ class: 'SimpleStrategy', replicationFactor: 3 });
    expect(parseReplication('dc1:3, dc2:2')).toEqual({
      class: 'NetworkTopologyStrategy',
      dataCenters: { dc1: 3, dc2: 2 },
    });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ HOST: 'a host' }, 'HOST'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ URL_SIGNING_KEYS: 'k1:tooshort' }, 'URL_SIGNING_KEYS'],
    [{ URL_SIGNING_KEYS: `k1:${'s'.repeat(32)}`, URL_SIGNING_KID: 'k9' }, 'URL_SIGNING_KID'],
    [{ URL_TTL_S: '-1' }, 'URL_TTL_S'],
    [{ START_BITRATE_KBPS: '4' }, 'START_BITRATE_KBPS'],
    [{ END_WATCHDOG_MS: '0' }, 'END_WATCHDOG_MS'],
    [{ RATE_LIMIT: 'fast' }, 'RATE_LIMIT'],
    [{ MAX_FRAME_BYTES: '65536', MAX_BACKPRESSURE_BYTES: '8192' }, 'MAX_BACKPRESSURE_BYTES'],
    [{ NATS_URL: 'http://x' }, 'NATS_URL'],
    [{ EVENTS_STREAM: 'listen.events' }, 'EVENTS_STREAM'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ SCYLLA_KEYSPACE: 'drop table' }, 'SCYLLA_KEYSPACE'],
    [{ SCYLLA_CONTACT_POINTS: 'a b' }, 'SCYLLA_CONTACT_POINTS'],
    [{ SCYLLA_LOCAL_DC: 'dc 1' }, 'SCYLLA_LOCAL_DC'],
    [{ SCYLLA_REPLICATION: 'three please' }, 'SCYLLA_REPLICATION'],
    [{ SCYLLA_REPLICATION: 'simple:0' }, 'SCYLLA_REPLICATION'],
    [{ ORIGIN_PORT: '-5' }, 'ORIGIN_PORT'],
    [{ ORIGIN_HOT_BYTES: 'lots' }, 'ORIGIN_HOT_BYTES'],
    [{ INGEST_CHUNK_MS: '1234' }, 'INGEST_CHUNK_MS'],
    [{ INGEST_WORKERS: '99' }, 'INGEST_WORKERS'],
    [{ PUBLIC_BASE_URL: 'ftp://x' }, 'PUBLIC_BASE_URL'],
    [{ PUBLIC_BASE_URL: 'https://x.example/?a=1' }, 'PUBLIC_BASE_URL'],
    [{ ORIGIN_BASE_URL: 'cdn.example.com' }, 'ORIGIN_BASE_URL'],
    // Signed URLs on it would not fit in a frame's string (256 characters).
    [{ ORIGIN_BASE_URL: `https://cdn.example.com/${'p'.repeat(120)}` }, 'ORIGIN_BASE_URL'],
    [{ PUBLIC_BASE_URL: `https://cdn.example.com/${'p'.repeat(120)}` }, 'PUBLIC_BASE_URL'],
    // Signed URLs are renewed 300 s before expiry: twice that plus the 60 s bucket must fit.
    [{ URL_TTL_S: '60' }, 'URL_TTL_S'],
    [{ URL_TTL_S: '660' }, 'URL_TTL_S'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ DEMO_CATALOG: 'none' }, 'DEMO_CATALOG'],
  ])('config - a bad value stops start-up naming the variable (%o)', (env, variable) => {
    const e = errorOf(env as Record<string, string>);
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}:`)).toBe(true);
  });
});
