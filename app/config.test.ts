import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_PORT,
  DEFAULT_START_BITRATE_KBPS,
  configWarnings,
  parseConfig,
} from './config.ts';

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
    expect(c.port).toBe(DEFAULT_PORT);
    expect(c.host).toBe('127.0.0.1');
    expect(c.startBitrateKbps).toBe(DEFAULT_START_BITRATE_KBPS);
    expect(c.urlTtlS).toBe(3600);
    expect(c.jwtSecretIsDev).toBe(true);
    expect(c.natsUrl).toBeUndefined();
    expect(c.scyllaContactPoints).toBeUndefined();
    expect(configWarnings(c).join('\n')).toMatch(/JWT_SECRET/);
  });

  it('config - reads every variable it knows', () => {
    const c = parseConfig({
      PORT: '0',
      HOST: '0.0.0.0',
      JWT_SECRET: 'x'.repeat(32),
      URL_SIGNING_KEYS: `a:${'s'.repeat(32)},b:${'t'.repeat(40)}`,
      URL_SIGNING_KID: 'b',
      URL_TTL_S: '600',
      START_BITRATE_KBPS: '24',
      SESSION_GRACE_MS: '5',
      ACTIVE_DEVICE_GRACE_MS: '7',
      MAX_FRAME_BYTES: '4096',
      MAX_BACKPRESSURE_BYTES: '65536',
      RATE_LIMIT: '10/20',
      DATA_DIR: '/tmp/x',
      SCYLLA_CONTACT_POINTS: '127.0.0.1:19042, 127.0.0.2',
      SCYLLA_KEYSPACE: 'ks1',
      NATS_URL: 'nats://127.0.0.1:14222',
      REDIS_URL: 'redis://127.0.0.1:16379',
      PUBLIC_BASE_URL: 'https://cdn.example.com/',
    });
    expect(c.port).toBe(0);
    expect(c.jwtSecretIsDev).toBe(false);
    expect(c.urlSigning.activeKid).toBe('b');
    expect(Object.keys(c.urlSigning.keys)).toEqual(['a', 'b']);
    expect(c.rateLimit).toEqual({ rate: 10, burst: 20 });
    expect(c.objectDir).toBe('/tmp/x/objects');
    expect(c.scyllaContactPoints).toEqual(['127.0.0.1:19042', '127.0.0.2']);
    expect(c.publicBaseUrl).toBe('https://cdn.example.com');
    expect(configWarnings(c)).toEqual([]);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ JWT_SECRET: 'short' }, 'JWT_SECRET'],
    [{ URL_SIGNING_KEYS: 'k1:tooshort' }, 'URL_SIGNING_KEYS'],
    [{ URL_SIGNING_KEYS: `k1:${'s'.repeat(32)}`, URL_SIGNING_KID: 'k9' }, 'URL_SIGNING_KID'],
    [{ URL_TTL_S: '-1' }, 'URL_TTL_S'],
    [{ RATE_LIMIT: 'fast' }, 'RATE_LIMIT'],
    [{ MAX_FRAME_BYTES: '65536', MAX_BACKPRESSURE_BYTES: '8192' }, 'MAX_BACKPRESSURE_BYTES'],
    [{ NATS_URL: 'http://x' }, 'NATS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ SCYLLA_KEYSPACE: 'drop table' }, 'SCYLLA_KEYSPACE'],
    [{ SCYLLA_CONTACT_POINTS: 'a b' }, 'SCYLLA_CONTACT_POINTS'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('config - a bad value stops start-up naming the variable (%o)', (env, variable) => {
    const e = errorOf(env as Record<string, string>);
    expect(e.variable).toBe(variable);
    expect(e.message.startsWith(`${variable}:`)).toBe(true);
  });
});
