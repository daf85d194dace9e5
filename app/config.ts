/**
 * Server configuration: `DEFAULT_*` constants and ONE parse-and-validate step at start-up
 * (`parseConfig(env)`). A bad value throws a `ConfigError` naming the variable, so start-up
 * stops with a clear message instead of failing later. The result is passed in explicitly;
 * nothing reads `process.env` after this.
 */
import { resolve } from 'node:path';

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
/** Development-only secret: start-up warns loudly when it is used. */
export const DEV_JWT_SECRET = 'dev-only-secret-change-me-0123456789abcdef';
export const DEV_URL_SIGNING_KEY = 'dev-only-url-signing-key-0123456789abcdef';
export const DEFAULT_URL_SIGNING_KID = 'k1';
export const DEFAULT_URL_TTL_S = 3600;
export const DEFAULT_START_BITRATE_KBPS = 96;
export const DEFAULT_SESSION_GRACE_MS = 30_000;
export const DEFAULT_ACTIVE_DEVICE_GRACE_MS = 10_000;
export const DEFAULT_END_WATCHDOG_MS = 10_000;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024;
export const DEFAULT_MAX_BACKPRESSURE_BYTES = 256 * 1024;
/** Queued `state`/other frames held per connection while uWS reports backpressure. */
export const DEFAULT_MAX_SEND_QUEUE = 64;
export const DEFAULT_IDLE_TIMEOUT_S = 120;
/** Token bucket per connection: sustained frames per second and burst. */
export const DEFAULT_RATE_LIMIT = { rate: 50, burst: 100 } as const;
export const DEFAULT_DATA_DIR = './var';
export const DEFAULT_SCYLLA_KEYSPACE = 'playback';
export const DEFAULT_SCYLLA_LOCAL_DC = 'datacenter1';

export interface ServerConfig {
  port: number;
  host: string;
  jwtSecret: string;
  /** True when the development JWT secret is in use (start-up warns). */
  jwtSecretIsDev: boolean;
  urlSigning: { activeKid: string; keys: Record<string, string> };
  urlSigningIsDev: boolean;
  urlTtlS: number;
  startBitrateKbps: number;
  sessionGraceMs: number;
  activeDeviceGraceMs: number;
  /** A track past its end this long with no `ended` from the device is ended by the server. */
  endWatchdogMs: number;
  maxFrameBytes: number;
  maxBackpressureBytes: number;
  maxSendQueue: number;
  idleTimeoutS: number;
  rateLimit: { rate: number; burst: number };
  dataDir: string;
  objectDir: string;
  scyllaContactPoints?: string[];
  scyllaKeyspace: string;
  scyllaLocalDc: string;
  natsUrl?: string;
  redisUrl?: string;
  /** Base URL clients use to reach this server (origin URLs are relative to it). */
  publicBaseUrl: string;
  logLevel: string;
  /** Caps each demo track's length in seconds (tests, boot checks); undefined: full length. */
  demoTrackSeconds?: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
  }
}

type Env = Record<string, string | undefined>;

const present = (env: Env, name: string): string | undefined => {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v.trim();
};

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = present(env, name);
  if (raw === undefined) return def;
  if (!/^-?\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = present(env, name);
  if (raw === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ConfigError(name, `not a URL: '${raw}'`);
  }
  if (!protocols.includes(u.protocol)) {
    throw new ConfigError(name, `expected ${protocols.join(' or ')} URL, got '${u.protocol}'`);
  }
  return raw;
}

/** `URL_SIGNING_KEYS=kid1:secret1,kid2:secret2`; secrets of at least 32 bytes. */
function signingKeys(env: Env): { activeKid: string; keys: Record<string, string>; dev: boolean } {
  const raw = present(env, 'URL_SIGNING_KEYS');
  const kidRaw = present(env, 'URL_SIGNING_KID');
  if (raw === undefined) {
    const kid = kidRaw ?? DEFAULT_URL_SIGNING_KID;
    return { activeKid: kid, keys: { [kid]: DEV_URL_SIGNING_KEY }, dev: true };
  }
  const keys: Record<string, string> = {};
  const order: string[] = [];
  for (const part of raw.split(',')) {
    const i = part.indexOf(':');
    const kid = i > 0 ? part.slice(0, i).trim() : '';
    const secret = i > 0 ? part.slice(i + 1).trim() : '';
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(kid)) {
      throw new ConfigError(
        'URL_SIGNING_KEYS',
        `expected 'kid:secret,...' with kid [A-Za-z0-9_-], got '${part}'`,
      );
    }
    if (Buffer.byteLength(secret) < 32)
      throw new ConfigError('URL_SIGNING_KEYS', `secret of key '${kid}' is shorter than 32 bytes`);
    keys[kid] = secret;
    order.push(kid);
  }
  const activeKid = kidRaw ?? order[0]!;
  if (keys[activeKid] === undefined)
    throw new ConfigError('URL_SIGNING_KID', `'${activeKid}' is not among URL_SIGNING_KEYS`);
  return { activeKid, keys, dev: false };
}

/** `RATE_LIMIT=<rate>/<burst>` (frames per second / bucket size), e.g. `50/100`. */
function rateLimit(env: Env): { rate: number; burst: number } {
  const raw = present(env, 'RATE_LIMIT');
  if (raw === undefined) return { ...DEFAULT_RATE_LIMIT };
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(raw);
  if (!m) throw new ConfigError('RATE_LIMIT', `expected '<rate per s>/<burst>', e.g. '50/100', got '${raw}'`);
  const rate = Number(m[1]);
  const burst = Number(m[2]);
  if (rate <= 0 || burst < 1) throw new ConfigError('RATE_LIMIT', 'rate must be > 0 and burst >= 1');
  return { rate, burst };
}

/** Parses and validates every variable; throws ConfigError naming the first bad one. */
export function parseConfig(env: Env = process.env): ServerConfig {
  const port = int(env, 'PORT', DEFAULT_PORT, 0, 65535);
  const host = present(env, 'HOST') ?? DEFAULT_HOST;
  if (!/^[A-Za-z0-9.:_-]+$/.test(host))
    throw new ConfigError('HOST', `not a host name or address: '${host}'`);

  const jwtRaw = present(env, 'JWT_SECRET');
  if (jwtRaw !== undefined && Buffer.byteLength(jwtRaw) < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes for HS256');
  }
  const signing = signingKeys(env);
  const maxFrameBytes = int(env, 'MAX_FRAME_BYTES', DEFAULT_MAX_FRAME_BYTES, 256, 16 * 1024 * 1024);
  const maxBackpressureBytes = int(
    env,
    'MAX_BACKPRESSURE_BYTES',
    DEFAULT_MAX_BACKPRESSURE_BYTES,
    4096,
    1 << 30,
  );
  if (maxBackpressureBytes < maxFrameBytes) {
    throw new ConfigError('MAX_BACKPRESSURE_BYTES', `must be >= MAX_FRAME_BYTES (${maxFrameBytes})`);
  }

  const dataDir = resolve(present(env, 'DATA_DIR') ?? DEFAULT_DATA_DIR);
  const contact = present(env, 'SCYLLA_CONTACT_POINTS');
  const scyllaContactPoints = contact
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (scyllaContactPoints) {
    for (const cp of scyllaContactPoints) {
      if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(cp))
        throw new ConfigError('SCYLLA_CONTACT_POINTS', `bad host[:port] '${cp}'`);
    }
  }
  const keyspace = present(env, 'SCYLLA_KEYSPACE') ?? DEFAULT_SCYLLA_KEYSPACE;
  if (!/^[A-Za-z][A-Za-z0-9_]{0,47}$/.test(keyspace))
    throw new ConfigError('SCYLLA_KEYSPACE', `not a CQL identifier: '${keyspace}'`);

  const publicBaseUrl =
    url(env, 'PUBLIC_BASE_URL', ['http:', 'https:']) ??
    `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const logLevel = present(env, 'LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(
      'LOG_LEVEL',
      `expected fatal|error|warn|info|debug|trace|silent, got '${logLevel}'`,
    );
  }

  return {
    port,
    host,
    jwtSecret: jwtRaw ?? DEV_JWT_SECRET,
    jwtSecretIsDev: jwtRaw === undefined,
    urlSigning: { activeKid: signing.activeKid, keys: signing.keys },
    urlSigningIsDev: signing.dev,
    urlTtlS: int(env, 'URL_TTL_S', DEFAULT_URL_TTL_S, 60, 7 * 24 * 3600),
    startBitrateKbps: int(env, 'START_BITRATE_KBPS', DEFAULT_START_BITRATE_KBPS, 8, 512),
    sessionGraceMs: int(env, 'SESSION_GRACE_MS', DEFAULT_SESSION_GRACE_MS, 0, 24 * 3600_000),
    activeDeviceGraceMs: int(env, 'ACTIVE_DEVICE_GRACE_MS', DEFAULT_ACTIVE_DEVICE_GRACE_MS, 0, 3600_000),
    endWatchdogMs: int(env, 'END_WATCHDOG_MS', DEFAULT_END_WATCHDOG_MS, 1, 3600_000),
    maxFrameBytes,
    maxBackpressureBytes,
    maxSendQueue: int(env, 'MAX_SEND_QUEUE', DEFAULT_MAX_SEND_QUEUE, 1, 100_000),
    idleTimeoutS: int(env, 'IDLE_TIMEOUT_S', DEFAULT_IDLE_TIMEOUT_S, 0, 960),
    rateLimit: rateLimit(env),
    dataDir,
    objectDir: resolve(present(env, 'OBJECT_DIR') ?? resolve(dataDir, 'objects')),
    scyllaContactPoints,
    scyllaKeyspace: keyspace,
    scyllaLocalDc: present(env, 'SCYLLA_LOCAL_DC') ?? DEFAULT_SCYLLA_LOCAL_DC,
    natsUrl: url(env, 'NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    publicBaseUrl: publicBaseUrl.replace(/\/+$/, ''),
    logLevel,
    demoTrackSeconds: present(env, 'DEMO_TRACK_SECONDS')
      ? int(env, 'DEMO_TRACK_SECONDS', 0, 2, 60)
      : undefined,
  };
}

/** Loud start-up warnings for development defaults that must not reach production. */
export function configWarnings(config: ServerConfig): string[] {
  const out: string[] = [];
  if (config.jwtSecretIsDev) {
    out.push(
      'JWT_SECRET is not set: using the DEVELOPMENT secret. Anyone can mint tokens. Set JWT_SECRET in production!',
    );
  }
  if (config.urlSigningIsDev) {
    out.push(
      'URL_SIGNING_KEYS is not set: using the DEVELOPMENT URL signing key. Set URL_SIGNING_KEYS in production!',
    );
  }
  return out;
}
