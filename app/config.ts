/**
 * The one configuration of the product: `DEFAULT_*` constants and ONE parse-and-validate step
 * (`parseConfig(env)`), run once by each entry point. A bad value throws a `ConfigError` naming
 * the variable, so start-up stops with a clear message instead of failing later. The result
 * has a typed section per service; each service receives its own section and nothing reads
 * `process.env` after this (nothing outside app/ reads it at all).
 *
 * Defaults that belong to a service stay in it and are imported here, not repeated: the
 * session actor's in actors/config.ts, hibernation's in session/hibernation.ts, the origin cache's in origin/hot-objects.ts, the CQL
 * client's in storage/cql-client.ts, the ingest ladder's in origin/ingest/ladder.ts.
 */
import { join, resolve } from 'node:path';
import type { LevelWithSilent } from 'pino';
import {
  DEFAULT_ACTIVE_DEVICE_GRACE_MS,
  DEFAULT_END_WATCHDOG_MS,
  DEFAULT_START_BITRATE_KBPS,
  DEFAULT_URL_EXPIRY_BUCKET_MS,
  DEFAULT_URL_RENEW_LEAD_MS,
  DEFAULT_URL_TTL_MS,
  parseSessionConfig,
  SessionConfigError,
  type SessionConfig,
} from '../actors/config.ts';
import { DEFAULT_HOT_BYTES, DEFAULT_HOT_MAX_OBJECT_BYTES } from '../origin/hot-objects.ts';
import { IngestConfigError, parseIngestOptions, type IngestOptions } from '../origin/ingest/ladder.ts';
import { UrlSigner } from '../protocol/url-signer.ts';
import { MAX_STRING_LENGTH } from '../protocol/version.ts';
import { DEFAULT_HIBERNATE_AFTER_MS } from '../session/hibernation.ts';
import type { SessionServerConfig } from '../session/server.ts';
import { DEFAULT_PLAYER_API_CONFIG, type PlayerApiConfig } from '../session/http/player-api.ts';
import {
  DEFAULT_KEYSPACE,
  DEFAULT_LOCAL_DATA_CENTER,
  DEFAULT_REPLICATION,
  type Replication,
} from '../storage/cql-client.ts';
import { dataLayout, type DataLayout } from './data-layout.ts';
import type { EventLogConfig } from './open-event-log.ts';
import { DEFAULT_CLUSTER_NAME, DEFAULT_LEASE_TTL_MS, type ClusterConfig } from '../cluster/cluster-config.ts';
import type { StoreConfig } from './open-stores.ts';

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '127.0.0.1';
/** Development-only secret: start-up warns loudly when it is used. */
export const DEV_JWT_SECRET = 'dev-only-secret-change-me-0123456789abcdef';
export const DEV_URL_SIGNING_KEY = 'dev-only-url-signing-key-0123456789abcdef';
export const DEFAULT_URL_SIGNING_KID = 'k1';
export const DEFAULT_SESSION_GRACE_MS = 30_000;
export const DEFAULT_MAX_FRAME_BYTES = 16 * 1024;
export const DEFAULT_MAX_BACKPRESSURE_BYTES = 256 * 1024;
/** Queued `state`/other frames held per connection while uWS reports backpressure. */
export const DEFAULT_MAX_SEND_QUEUE = 64;
export const DEFAULT_IDLE_TIMEOUT_S = 120;
/** Token bucket per connection: sustained frames per second and burst. */
export const DEFAULT_RATE_LIMIT = { rate: 50, burst: 100 } as const;
export const DEFAULT_ORIGIN_PORT = 8081;
export const DEFAULT_LOG_LEVEL: LevelWithSilent = 'info';

/**
 * The actor's settings that are operator-facing (env variables). Their defaults are the
 * session machine's own (actors/config.ts); app/session-actor.ts maps them onto SessionConfig.
 */
export interface ActorSettings {
  startBitrateKbps: number;
  urlTtlS: number;
  activeDeviceGraceMs: number;
  /** A track past its end this long with no `ended` from the device is ended by the server. */
  endWatchdogMs: number;
}

/** The standalone origin (`npm run origin`); the session server mounts the same routes. */
export interface OriginConfig {
  host: string;
  port: number;
  objectDir: string;
  urlSigning: { activeKid: string; keys: Record<string, string> };
  hotBytes: number;
  hotMaxObjectBytes: number;
}

/**
 * The radio (autoplay): RADIO=embedded runs the service in the server's process, `nats`
 * asks `npm run radio` instances over NATS_URL, `off` plays no autoplay.
 */
export type RadioMode = 'embedded' | 'nats' | 'off';
export const DEFAULT_RADIO_TIMEOUT_MS = 300;
export const DEFAULT_RADIO_SUBJECT = 'radio.autoplay';
export interface RadioConfig {
  mode: RadioMode;
  /** RADIO_INDEX_DIR: where the jobs publish the indexes and the service reads them. */
  indexDir: string;
  /** RADIO_TIMEOUT_MS: per attempt; an answer later than this is no answer. */
  timeoutMs: number;
  /** Tries per request over NATS (a second reaches another instance). */
  attempts: number;
  /** RADIO_SUBJECT: the NATS subject the instances answer on. */
  subject: string;
  natsUrl?: string;
  /** RADIO_POLL_MS: how often the service reads `CURRENT` for a newly published index. */
  pollMs: number;
  /** ALS_PYTHON: the Python with `implicit` that trains Discover Weekly (the launcher's venv). */
  alsPython: string;
}

export type DemoCatalogKind = 'audio' | 'fixture';
export const DEFAULT_DEMO_CATALOG: DemoCatalogKind = 'audio';

export interface AppConfig {
  /** Where every entry point keeps its data (DATA_DIR, OBJECT_DIR). */
  layout: DataLayout;
  logLevel: LevelWithSilent;
  server: SessionServerConfig;
  /** The Spotify Web API player routes (PLAYER_API_RATE_LIMIT, PLAYER_API_MAX_WAIT_MS). */
  playerApi: PlayerApiConfig;
  /** LISTENBRAINZ_ENDPOINTS: the ListenBrainz APIs a listener may link (the server calls them). */
  scrobbles: { endpoints: string[] };
  actor: ActorSettings;
  stores: StoreConfig;
  eventLog: EventLogConfig;
  /** Cluster mode (NODE_ID with NATS_URL); undefined: one node, every session here. */
  cluster?: ClusterConfig;
  cache: { redisUrl?: string };
  origin: OriginConfig;
  /** Where the pipeline's warehouse export writes and the jobs read. */
  pipeline: {
    warehouseDir: string;
    /**
     * PIPELINE_ACK_WAIT_MS: how long a consumer's unacked batch waits before JetStream hands it
     * to another instance (unset: each consumer's own, 30-60 s). The last instance to attach
     * sets it for every instance of the durable consumer.
     */
    ackWaitMs?: number;
  };
  radio: RadioConfig;
  ingest: IngestOptions;
  /** FFMPEG_PATH / FFPROBE_PATH: preferred over the system's and the npm packages' binaries. */
  /** Where ingest looks for ffmpeg/ffprobe: FFMPEG_PATH, FFPROBE_PATH, then PATH, then npm's. */
  tools: { FFMPEG_PATH?: string; FFPROBE_PATH?: string; PATH?: string };
  /**
   * DEMO_CATALOG: the demo data `npm start` ensures. `audio` (default) synthesizes and ingests
   * the demo catalog with ffmpeg on first start; `fixture` seeds a small synthetic catalog in
   * milliseconds (its chunk objects are not audio).
   */
  demoCatalog: DemoCatalogKind;
  /** Which development defaults are in use (start-up warns about each). */
  devDefaults: { jwtSecret: boolean; urlSigning: boolean };
  /** Caps each demo track's length in seconds (tests, boot checks); undefined: full length. */
  demoTrackSeconds?: number;
  /**
   * DEMO_MODE (`on`|`off`): serve `/dev/token`, which mints a token for any demo listener, so
   * the web player at `/` can offer a listener picker. Default: on exactly when JWT_SECRET is
   * unset (the development secret is public, so anyone can mint tokens anyway).
   */
  demoMode: boolean;
}

/** The variable behind each machine setting an operator sets (the others are the machine's own). */
const ACTOR_VARIABLES: Partial<Record<keyof SessionConfig, string>> = {
  startBitrateKbps: 'START_BITRATE_KBPS',
  urlTtlMs: 'URL_TTL_S',
  // Not a variable: it bounds URL_TTL_S from below.
  urlRenewLeadMs: 'URL_TTL_S',
  urlExpiryBucketMs: 'URL_TTL_S',
  activeDeviceGraceMs: 'ACTIVE_DEVICE_GRACE_MS',
  endWatchdogMs: 'END_WATCHDOG_MS',
};

/**
 * Signed URLs are renewed `DEFAULT_URL_RENEW_LEAD_MS` before they expire and their expiry is
 * rounded down to a bucket: a shorter lifetime would renew them before they were used.
 */
export const MIN_URL_TTL_S =
  Math.floor((2 * DEFAULT_URL_RENEW_LEAD_MS + DEFAULT_URL_EXPIRY_BUCKET_MS) / 1000) + 1;

/**
 * The session machine's config from its operator settings, validated by the machine's own
 * rules; a violation names the variable. Called by parseConfig, so a bad combination stops
 * start-up before any work, and by the actor starter (app/session-actor.ts).
 */
export function sessionConfigOf(settings: ActorSettings): SessionConfig {
  try {
    return parseSessionConfig({
      startBitrateKbps: settings.startBitrateKbps,
      urlTtlMs: settings.urlTtlS * 1000,
      // 0 means "pause at once": the machine's timer needs at least 1 ms.
      activeDeviceGraceMs: Math.max(1, settings.activeDeviceGraceMs),
      endWatchdogMs: settings.endWatchdogMs,
    });
  } catch (e) {
    if (!(e instanceof SessionConfigError)) throw e;
    throw new ConfigError(ACTOR_VARIABLES[e.field] ?? 'session', e.message);
  }
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

/** Length of the longest signed chunk path (`/o/<key>?exp=...&kid=...&sig=...`) with these keys. */
function longestSignedPath(keys: { activeKid: string; keys: Record<string, string> }): number {
  const exp = 9_999_999_999_000; // ten-digit seconds: until the year 2286
  return new UrlSigner(keys).sign(`/o/${'f'.repeat(64)}`, exp).length;
}

/**
 * An absolute http(s) base handed to clients: no query or fragment, no trailing slash. A
 * path is kept (a proxy that serves this server under a prefix strips it).
 */
function baseUrl(env: Env, name: string): string | undefined {
  const raw = url(env, name, ['http:', 'https:']);
  if (raw === undefined) return undefined;
  const u = new URL(raw);
  if (u.search || u.hash || raw.includes('?') || raw.includes('#'))
    throw new ConfigError(name, `expected a base URL without query or fragment, got '${raw}'`);
  return raw.replace(/\/+$/, '');
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
function rateLimit(
  env: Env,
  name = 'RATE_LIMIT',
  fallback: { rate: number; burst: number } = DEFAULT_RATE_LIMIT,
): { rate: number; burst: number } {
  const raw = present(env, name);
  if (raw === undefined) return { ...fallback };
  const m = /^(\d+(?:\.\d+)?)\/(\d+)$/.exec(raw);
  if (!m) throw new ConfigError(name, `expected '<rate per s>/<burst>', e.g. '50/100', got '${raw}'`);
  const rate = Number(m[1]);
  const burst = Number(m[2]);
  if (rate <= 0 || burst < 1) throw new ConfigError(name, 'rate must be > 0 and burst >= 1');
  return { rate, burst };
}

export const DEFAULT_LISTENBRAINZ_ENDPOINT = 'https://api.listenbrainz.org';

/**
 * `LISTENBRAINZ_ENDPOINTS=<url>,<url>`: the only APIs a listener's link may name (the server
 * calls them with the listener's token: an open choice would let anyone aim it anywhere).
 */
function listenBrainzEndpoints(env: Env): string[] {
  const raw = present(env, 'LISTENBRAINZ_ENDPOINTS');
  if (raw === undefined) return [DEFAULT_LISTENBRAINZ_ENDPOINT];
  const urls = raw
    .split(',')
    .map((s) => s.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  for (const u of urls)
    if (!/^https?:\/\/[^\s/]+$/.test(u))
      throw new ConfigError(
        'LISTENBRAINZ_ENDPOINTS',
        `expected http(s) origins, e.g. ${DEFAULT_LISTENBRAINZ_ENDPOINT}, got '${u}'`,
      );
  if (urls.length === 0) throw new ConfigError('LISTENBRAINZ_ENDPOINTS', 'expected at least one URL');
  return urls;
}

/** `SCYLLA_REPLICATION=simple:3` or `dc1:3,dc2:2` (NetworkTopologyStrategy); unset: SimpleStrategy RF 1. */
export function parseReplication(value: string | undefined): Replication {
  if (value === undefined || value.trim() === '') return DEFAULT_REPLICATION;
  const bad = () =>
    new ConfigError('SCYLLA_REPLICATION', `expected 'simple:N' or 'dc:N,dc:N' (N >= 1), got '${value}'`);
  const simple = /^simple:(\d+)$/i.exec(value.trim());
  if (simple) {
    const replicationFactor = Number(simple[1]);
    if (replicationFactor < 1) throw bad();
    return { class: 'SimpleStrategy', replicationFactor };
  }
  const dataCenters: Record<string, number> = {};
  for (const part of value.split(',')) {
    const m = /^\s*([\w.-]+):(\d+)\s*$/.exec(part);
    if (!m || Number(m[2]) < 1) throw bad();
    dataCenters[m[1]!] = Number(m[2]);
  }
  return { class: 'NetworkTopologyStrategy', dataCenters };
}

function storeSection(env: Env, layout: DataLayout): StoreConfig {
  const scyllaContactPoints = present(env, 'SCYLLA_CONTACT_POINTS')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const cp of scyllaContactPoints ?? []) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(cp))
      throw new ConfigError('SCYLLA_CONTACT_POINTS', `bad host[:port] '${cp}'`);
  }
  const keyspace = present(env, 'SCYLLA_KEYSPACE') ?? DEFAULT_KEYSPACE;
  if (!/^[A-Za-z][A-Za-z0-9_]{0,47}$/.test(keyspace))
    throw new ConfigError('SCYLLA_KEYSPACE', `not a CQL identifier: '${keyspace}'`);
  const localDataCenter = present(env, 'SCYLLA_LOCAL_DC') ?? DEFAULT_LOCAL_DATA_CENTER;
  if (!/^[\w.-]{1,64}$/.test(localDataCenter))
    throw new ConfigError('SCYLLA_LOCAL_DC', `not a data centre name: '${localDataCenter}'`);
  return {
    ...(scyllaContactPoints?.length ? { scyllaContactPoints } : {}),
    keyspace,
    localDataCenter,
    replication: parseReplication(present(env, 'SCYLLA_REPLICATION')),
    dataDir: layout.store,
  };
}

function eventLogSection(env: Env, layout: DataLayout): EventLogConfig {
  const natsUrl = url(env, 'NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']);
  const stream = present(env, 'EVENTS_STREAM');
  // JetStream stream names may not hold spaces, '.', '*', '>' or path separators.
  if (stream !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(stream))
    throw new ConfigError('EVENTS_STREAM', `expected [A-Za-z0-9_-]{1,64}, got '${stream}'`);
  return {
    ...(natsUrl ? { natsUrl } : {}),
    ...(stream ? { stream: { stream } } : {}),
    dir: layout.events,
    outboxDir: layout.outbox,
  };
}

/** NODE_ID turns cluster mode on; it needs NATS_URL (leases and the relay run on NATS). */
function clusterSection(env: Env, eventLog: EventLogConfig): ClusterConfig | undefined {
  const nodeId = present(env, 'NODE_ID');
  const name = present(env, 'CLUSTER_NAME') ?? DEFAULT_CLUSTER_NAME;
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(name))
    throw new ConfigError('CLUSTER_NAME', `expected [A-Za-z0-9_-]{1,32}, got '${name}'`);
  const leaseTtlMs = int(env, 'CLUSTER_LEASE_TTL_MS', DEFAULT_LEASE_TTL_MS, 1_000, 60_000);
  if (nodeId === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nodeId))
    throw new ConfigError('NODE_ID', `expected [A-Za-z0-9_-]{1,64}, got '${nodeId}'`);
  if (!eventLog.natsUrl)
    throw new ConfigError(
      'NODE_ID',
      'cluster mode needs NATS_URL (leases and the relay between nodes run on NATS)',
    );
  const journal = present(env, 'CLUSTER_JOURNAL') ?? 'on';
  if (journal !== 'on' && journal !== 'off')
    throw new ConfigError('CLUSTER_JOURNAL', `expected on or off, got '${journal}'`);
  return { natsUrl: eventLog.natsUrl, nodeId, name, leaseTtlMs, journal: journal === 'on' };
}

/** INGEST_CHUNK_MS / INGEST_TARGET_LUFS / INGEST_WORKERS, validated by the ladder's own parse. */
function ingestSection(env: Env): IngestOptions {
  try {
    return parseIngestOptions(env);
  } catch (e) {
    if (!(e instanceof IngestConfigError)) throw e;
    const m = /^([A-Z_]+): (.*)$/s.exec(e.message);
    throw m ? new ConfigError(m[1]!, m[2]!) : new ConfigError('INGEST', e.message);
  }
}

function radioSection(env: Env, layout: DataLayout): RadioConfig {
  const mode = (present(env, 'RADIO') ?? 'embedded') as RadioMode;
  if (!['embedded', 'nats', 'off'].includes(mode))
    throw new ConfigError('RADIO', `expected embedded|nats|off, got '${mode}'`);
  const natsUrl = url(env, 'NATS_URL', ['nats:', 'tls:', 'ws:', 'wss:']);
  if (mode === 'nats' && !natsUrl)
    throw new ConfigError('RADIO', 'RADIO=nats asks the radio service over NATS: set NATS_URL too');
  const subject = present(env, 'RADIO_SUBJECT') ?? DEFAULT_RADIO_SUBJECT;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subject))
    throw new ConfigError('RADIO_SUBJECT', `not a NATS subject without wildcards: '${subject}'`);
  const indexDir = present(env, 'RADIO_INDEX_DIR');
  return {
    mode,
    indexDir: indexDir ? resolve(indexDir) : layout.radio,
    timeoutMs: int(env, 'RADIO_TIMEOUT_MS', DEFAULT_RADIO_TIMEOUT_MS, 1, 60_000),
    attempts: 2,
    subject,
    ...(natsUrl ? { natsUrl } : {}),
    pollMs: int(env, 'RADIO_POLL_MS', 5_000, 10, 3_600_000),
    alsPython: resolve(
      present(env, 'ALS_PYTHON') ??
        join(present(env, 'INFRA_CACHE_DIR') ?? '.cache', 'python', 'venv', 'bin', 'python'),
    ),
  };
}

const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Parses and validates every variable; throws ConfigError naming the first bad one. */
export function parseConfig(env: Env): AppConfig {
  const port = int(env, 'PORT', DEFAULT_PORT, 0, 65535);
  const host = present(env, 'HOST') ?? DEFAULT_HOST;
  if (!/^[A-Za-z0-9.:_-]+$/.test(host))
    throw new ConfigError('HOST', `not a host name or address: '${host}'`);

  const jwtRaw = present(env, 'JWT_SECRET');
  if (jwtRaw !== undefined && Buffer.byteLength(jwtRaw) < 32) {
    throw new ConfigError('JWT_SECRET', 'must be at least 32 bytes for HS256');
  }
  const signing = signingKeys(env);
  const urlSigning = { activeKid: signing.activeKid, keys: signing.keys };
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

  const layout = dataLayout(present(env, 'DATA_DIR'), present(env, 'OBJECT_DIR'));
  // Unset, the server derives the base from the address it binds (PORT=0 picks the port).
  const publicBaseUrl = baseUrl(env, 'PUBLIC_BASE_URL');
  const originBaseUrl = baseUrl(env, 'ORIGIN_BASE_URL') ?? publicBaseUrl;
  if (originBaseUrl !== undefined) {
    // Chunk URLs travel in frames, whose strings the protocol bounds.
    const longest = originBaseUrl.length + longestSignedPath(urlSigning);
    if (longest > MAX_STRING_LENGTH) {
      const variable = present(env, 'ORIGIN_BASE_URL') !== undefined ? 'ORIGIN_BASE_URL' : 'PUBLIC_BASE_URL';
      throw new ConfigError(
        variable,
        `too long: signed chunk URLs on it would be ${longest} characters, frames carry at most ` +
          `${MAX_STRING_LENGTH} (a base of at most ${MAX_STRING_LENGTH - longestSignedPath(urlSigning)})`,
      );
    }
  }
  const logLevel = (present(env, 'LOG_LEVEL') ?? DEFAULT_LOG_LEVEL) as LevelWithSilent;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `expected ${LOG_LEVELS.join('|')}, got '${logLevel}'`);
  }
  const redisUrl = url(env, 'REDIS_URL', ['redis:', 'rediss:']);
  const demoCatalog = present(env, 'DEMO_CATALOG') ?? DEFAULT_DEMO_CATALOG;
  const demoModeRaw = present(env, 'DEMO_MODE');
  if (demoModeRaw !== undefined && demoModeRaw !== 'on' && demoModeRaw !== 'off')
    throw new ConfigError('DEMO_MODE', `expected on|off, got '${demoModeRaw}'`);
  if (demoCatalog !== 'audio' && demoCatalog !== 'fixture')
    throw new ConfigError('DEMO_CATALOG', `expected audio|fixture, got '${demoCatalog}'`);
  const actor: ActorSettings = {
    startBitrateKbps: int(env, 'START_BITRATE_KBPS', DEFAULT_START_BITRATE_KBPS, 8, 512),
    urlTtlS: int(env, 'URL_TTL_S', DEFAULT_URL_TTL_MS / 1000, 1, 7 * 24 * 3600),
    activeDeviceGraceMs: int(env, 'ACTIVE_DEVICE_GRACE_MS', DEFAULT_ACTIVE_DEVICE_GRACE_MS, 0, 3600_000),
    endWatchdogMs: int(env, 'END_WATCHDOG_MS', DEFAULT_END_WATCHDOG_MS, 1, 3600_000),
  };
  if (actor.urlTtlS < MIN_URL_TTL_S) {
    throw new ConfigError(
      'URL_TTL_S',
      `expected at least ${MIN_URL_TTL_S}, got ${actor.urlTtlS}: signed URLs are renewed ` +
        `${DEFAULT_URL_RENEW_LEAD_MS / 1000} s before they expire (twice that lead, plus the ` +
        `${DEFAULT_URL_EXPIRY_BUCKET_MS / 1000} s expiry rounding, must fit in their lifetime)`,
    );
  }
  // Settings that depend on each other are checked here, by the machine's own rules, not
  // when the first session starts (after the demo ingest).
  sessionConfigOf(actor);
  const ffmpeg = present(env, 'FFMPEG_PATH');
  const ffprobe = present(env, 'FFPROBE_PATH');
  const eventLog = eventLogSection(env, layout);
  const cluster = clusterSection(env, eventLog);

  return {
    layout,
    logLevel,
    server: {
      host,
      port,
      jwtSecret: jwtRaw ?? DEV_JWT_SECRET,
      urlSigning,
      sessionGraceMs: int(env, 'SESSION_GRACE_MS', DEFAULT_SESSION_GRACE_MS, 0, 24 * 3600_000),
      hibernateAfterMs: int(env, 'HIBERNATE_AFTER_MS', DEFAULT_HIBERNATE_AFTER_MS, 0, 24 * 3600_000),
      maxFrameBytes,
      maxBackpressureBytes,
      maxSendQueue: int(env, 'MAX_SEND_QUEUE', DEFAULT_MAX_SEND_QUEUE, 1, 100_000),
      idleTimeoutS: int(env, 'IDLE_TIMEOUT_S', DEFAULT_IDLE_TIMEOUT_S, 0, 960),
      rateLimit: rateLimit(env),
      ...(publicBaseUrl ? { publicBaseUrl } : {}),
      ...(originBaseUrl ? { originBaseUrl } : {}),
    },
    playerApi: {
      rateLimit: rateLimit(env, 'PLAYER_API_RATE_LIMIT', DEFAULT_PLAYER_API_CONFIG.rateLimit),
      maxWaitMs: int(env, 'PLAYER_API_MAX_WAIT_MS', DEFAULT_PLAYER_API_CONFIG.maxWaitMs, 0, 8_000),
    },
    scrobbles: { endpoints: listenBrainzEndpoints(env) },
    actor,
    stores: storeSection(env, layout),
    eventLog,
    ...(cluster ? { cluster } : {}),
    cache: redisUrl ? { redisUrl } : {},
    origin: {
      host,
      port: int(env, 'ORIGIN_PORT', DEFAULT_ORIGIN_PORT, 0, 65535),
      objectDir: layout.objects,
      urlSigning,
      hotBytes: int(env, 'ORIGIN_HOT_BYTES', DEFAULT_HOT_BYTES, 0, 64 * 1024 ** 3),
      hotMaxObjectBytes: int(env, 'ORIGIN_HOT_MAX_OBJECT_BYTES', DEFAULT_HOT_MAX_OBJECT_BYTES, 0, 1024 ** 3),
    },
    pipeline: {
      warehouseDir: layout.warehouse,
      ...(present(env, 'PIPELINE_ACK_WAIT_MS')
        ? { ackWaitMs: int(env, 'PIPELINE_ACK_WAIT_MS', 30_000, 100, 3_600_000) }
        : {}),
    },
    radio: radioSection(env, layout),
    ingest: ingestSection(env),
    tools: {
      ...(ffmpeg ? { FFMPEG_PATH: ffmpeg } : {}),
      ...(ffprobe ? { FFPROBE_PATH: ffprobe } : {}),
      ...(env.PATH ? { PATH: env.PATH } : {}),
    },
    demoCatalog,
    devDefaults: { jwtSecret: jwtRaw === undefined, urlSigning: signing.dev },
    demoTrackSeconds: present(env, 'DEMO_TRACK_SECONDS')
      ? int(env, 'DEMO_TRACK_SECONDS', 0, 2, 60)
      : undefined,
    demoMode: demoModeRaw === undefined ? jwtRaw === undefined : demoModeRaw === 'on',
  };
}

/** Loud start-up warnings for development defaults that must not reach production. */
export function configWarnings(config: AppConfig): string[] {
  const out: string[] = [];
  if (config.devDefaults.jwtSecret) {
    out.push(
      'JWT_SECRET is not set: using the DEVELOPMENT secret. Anyone can mint tokens. Set JWT_SECRET in production!',
    );
  }
  if (config.cluster && !config.stores.scyllaContactPoints) {
    out.push(
      'NODE_ID is set without SCYLLA_CONTACT_POINTS: each node keeps its snapshots in its own embedded store, so a session taken over by another node starts from what that node last saved. Use a shared CQL store for a cluster.',
    );
  }
  if (config.devDefaults.urlSigning) {
    out.push(
      'URL_SIGNING_KEYS is not set: using the DEVELOPMENT URL signing key. Set URL_SIGNING_KEYS in production!',
    );
  }
  if (config.demoMode && !config.devDefaults.jwtSecret) {
    out.push(
      'DEMO_MODE=on with a real JWT_SECRET: /dev/token mints tokens for the demo listeners to anyone.',
    );
  }
  return out;
}
