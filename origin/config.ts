/**
 * Standalone origin configuration (`npm run origin`). Signing keys, DATA_DIR and OBJECT_DIR
 * come from the session server's one parse step (session/config.ts), so both processes
 * agree on keys and the object folder; the origin adds its own port and cache sizes.
 */
import { ConfigError, parseConfig } from '../app/config.ts';
import { DEFAULT_HOT_BYTES, DEFAULT_HOT_MAX_OBJECT_BYTES } from './hot-objects.ts';

export const DEFAULT_ORIGIN_PORT = 8081;

export interface OriginConfig {
  host: string;
  port: number;
  objectDir: string;
  urlSigning: { activeKid: string; keys: Record<string, string> };
  urlSigningIsDev: boolean;
  hotBytes: number;
  hotMaxObjectBytes: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected an integer, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `expected ${min}..${max}, got ${n}`);
  return n;
}

/** ORIGIN_PORT, ORIGIN_HOT_BYTES, ORIGIN_HOT_MAX_OBJECT_BYTES plus the shared session variables. */
export function parseOriginConfig(env: Env = process.env): OriginConfig {
  const base = parseConfig(env);
  return {
    host: base.host,
    port: int(env, 'ORIGIN_PORT', DEFAULT_ORIGIN_PORT, 0, 65535),
    objectDir: base.objectDir,
    urlSigning: base.urlSigning,
    urlSigningIsDev: base.urlSigningIsDev,
    hotBytes: int(env, 'ORIGIN_HOT_BYTES', DEFAULT_HOT_BYTES, 0, 64 * 1024 ** 3),
    hotMaxObjectBytes: int(env, 'ORIGIN_HOT_MAX_OBJECT_BYTES', DEFAULT_HOT_MAX_OBJECT_BYTES, 0, 1024 ** 3),
  };
}
