/**
 * Redis view cache (ioredis): one MGET per batch of tracks, one pipeline of SET EX per
 * write-back, and Lua scripts for playlist pages so a warm page read (page and its tracks) is
 * one round trip and every lease step is atomic.
 *
 * Keys, under the namespace: `track:v1:<track id>` (JSON), `plpage:v1:<playlist id>` (a hash:
 * `p:<offset>:<limit>` the page JSON, `i:<offset>:<limit>` its track ids as a JSON array,
 * `l:<offset>:<limit>` a lease `<token>:<expiry ms>`), `plpage:v1:<playlist id>:edit` (the
 * count of edits in progress). The page script reads track keys it is not given in KEYS: fine
 * on one Redis (what we run), not on Redis Cluster, where it would be two round trips.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  DEFAULT_PAGE_TTL_SECONDS,
  DEFAULT_TRACK_TTL_SECONDS,
  EDIT_MARK_TTL_MS,
  LEASE_TTL_MS,
  PLAYLIST_KEY_PREFIX,
  TRACK_KEY_PREFIX,
  type PlaylistPage,
  type TrackCache,
} from './cache.ts';
import type { Track } from './catalog.ts';
import { StorageError } from './errors.ts';

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;

const unavailable = (what: string, e: unknown) =>
  new StorageError('unavailable', `redis ${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });

/** Lua: milliseconds of the server clock (the leases' one clock, whichever node asks). */
const NOW_MS = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)`;

/**
 * KEYS: page hash, edit mark. ARGV: page field suffix, new lease token, lease ms, track prefix.
 * Hit: { page json, track json or false per entry }. Miss: 1 (lease granted) or 0 (no lease).
 */
const READ_PAGE = `
local got = redis.call('HMGET', KEYS[1], 'p:' .. ARGV[1], 'i:' .. ARGV[1])
if got[1] and got[2] then
  local ok, ids = pcall(cjson.decode, got[2])
  if ok and type(ids) == 'table' then
    local out = { got[1] }
    if #ids > 0 then
      local keys = {}
      for i, id in ipairs(ids) do keys[i] = ARGV[4] .. id end
      local values = redis.call('MGET', unpack(keys))
      for i = 1, #ids do out[i + 1] = values[i] end
    end
    return out
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
${NOW_MS}
local held = redis.call('HGET', KEYS[1], 'l:' .. ARGV[1])
if held then
  local expiry = tonumber(string.match(held, ':(%d+)$'))
  if expiry and expiry > now then return 0 end
end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'l:' .. ARGV[1], ARGV[2] .. ':' .. (now + ttl))
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/** KEYS: page hash, edit mark. ARGV: suffix, token, page json, ids json, ttl ms. 1 stored, 0 not. */
const FILL_PAGE = `
local held = redis.call('HGET', KEYS[1], 'l:' .. ARGV[1])
if not held or string.sub(held, 1, #ARGV[2] + 1) ~= ARGV[2] .. ':' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[3], 'i:' .. ARGV[1], ARGV[4])
redis.call('HDEL', KEYS[1], 'l:' .. ARGV[1])
local ttl = tonumber(ARGV[5])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
`;

/** KEYS: page hash, edit mark. ARGV: mark ms. */
const BEGIN_EDIT = `
redis.call('DEL', KEYS[1])
redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
return 1
`;

/** KEYS: page hash, edit mark. A mark that expired meanwhile counts down to below zero: gone. */
const END_EDIT = `
redis.call('DEL', KEYS[1])
if redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
return 1
`;

interface PageScripts {
  viewReadPage(
    hash: string,
    mark: string,
    field: string,
    token: string,
    leaseMs: number,
    trackPrefix: string,
  ): Promise<number | (string | null)[]>;
  viewFillPage(
    hash: string,
    mark: string,
    field: string,
    token: string,
    page: string,
    ids: string,
    ttlMs: number,
  ): Promise<number>;
  viewBeginEdit(hash: string, mark: string, markMs: number): Promise<number>;
  viewEndEdit(hash: string, mark: string): Promise<number>;
}

/** Opens the cache; every key lives under `namespace` (tests and benches give each its own). */
export async function createRedisTrackCache(url: string, namespace = ''): Promise<TrackCache> {
  const { Redis: RedisClient } = await import('ioredis');
  const redis: Redis = new RedisClient(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    commandTimeout: DEFAULT_REDIS_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: true,
  });
  // Connection errors reach callers as 'unavailable' from the command that hit them; without a
  // listener ioredis would also print each one as an "Unhandled error event".
  redis.on('error', () => undefined);
  try {
    await redis.connect();
  } catch (e) {
    redis.disconnect();
    throw new StorageError('unavailable', `redis unreachable at ${url}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // ioredis sends EVALSHA and falls back to EVAL once when the script is not loaded.
  redis.defineCommand('viewReadPage', { numberOfKeys: 2, lua: READ_PAGE });
  redis.defineCommand('viewFillPage', { numberOfKeys: 2, lua: FILL_PAGE });
  redis.defineCommand('viewBeginEdit', { numberOfKeys: 2, lua: BEGIN_EDIT });
  redis.defineCommand('viewEndEdit', { numberOfKeys: 2, lua: END_EDIT });
  const scripts = redis as unknown as PageScripts;

  const trackPrefix = namespace + TRACK_KEY_PREFIX;
  const pageKey = (playlistId: string) => namespace + PLAYLIST_KEY_PREFIX + playlistId;
  const markKey = (playlistId: string) => pageKey(playlistId) + ':edit';

  const decodeTrack = (v: string | null): Track | undefined => {
    if (v === null) return undefined;
    try {
      return JSON.parse(v) as Track;
    } catch {
      return undefined; // a corrupt value is a miss; the read-through overwrites it
    }
  };

  return {
    async getTracks(ids) {
      const out = new Map<string, Track>();
      if (ids.length === 0) return out;
      let values: (string | null)[];
      try {
        values = await redis.mget(ids.map((id) => trackPrefix + id));
      } catch (e) {
        throw unavailable('MGET', e);
      }
      values.forEach((v, i) => {
        const t = decodeTrack(v);
        if (t) out.set(ids[i]!, t);
      });
      return out;
    },
    async putTracks(tracks, ttlSeconds = DEFAULT_TRACK_TTL_SECONDS) {
      if (tracks.length === 0) return;
      const p = redis.pipeline();
      for (const t of tracks) p.set(trackPrefix + t.id, JSON.stringify(t), 'EX', ttlSeconds);
      try {
        const results = await p.exec();
        const failed = results?.find(([err]) => err);
        if (failed) throw failed[0];
      } catch (e) {
        throw unavailable('SET pipeline', e);
      }
    },
    async readPlaylistPage(playlistId, offset, limit) {
      const token = randomBytes(12).toString('base64url');
      let reply: number | (string | null)[];
      try {
        reply = await scripts.viewReadPage(
          pageKey(playlistId),
          markKey(playlistId),
          `${offset}:${limit}`,
          token,
          LEASE_TTL_MS,
          trackPrefix,
        );
      } catch (e) {
        throw unavailable('page read', e);
      }
      if (typeof reply === 'number') return reply === 1 ? { hit: false, lease: token } : { hit: false };
      let page: PlaylistPage;
      try {
        page = JSON.parse(reply[0]!) as PlaylistPage;
      } catch {
        return { hit: false }; // undecodable: a miss the next edit or the TTL clears
      }
      const tracks = new Map<string, Track>();
      page.entries.forEach((e, i) => {
        const t = decodeTrack(reply[i + 1] ?? null);
        if (t) tracks.set(e.trackId, t);
      });
      return { hit: true, page, tracks };
    },
    async fillPlaylistPage(playlistId, offset, limit, lease, page, ttlSeconds = DEFAULT_PAGE_TTL_SECONDS) {
      try {
        const stored = await scripts.viewFillPage(
          pageKey(playlistId),
          markKey(playlistId),
          `${offset}:${limit}`,
          lease,
          JSON.stringify(page),
          JSON.stringify(page.entries.map((e) => e.trackId)),
          ttlSeconds * 1000,
        );
        return stored === 1;
      } catch (e) {
        throw unavailable('page fill', e);
      }
    },
    async beginPlaylistEdit(playlistId) {
      try {
        await scripts.viewBeginEdit(pageKey(playlistId), markKey(playlistId), EDIT_MARK_TTL_MS);
      } catch (e) {
        throw unavailable('edit begin', e);
      }
    },
    async endPlaylistEdit(playlistId) {
      try {
        await scripts.viewEndEdit(pageKey(playlistId), markKey(playlistId));
      } catch (e) {
        throw unavailable('edit end', e);
      }
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
