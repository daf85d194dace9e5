/**
 * Redis view cache (ioredis): one MGET per batch of tracks, one pipeline of SET EX per
 * write-back. A warm page is two plain commands sent together, in one socket write and one
 * round trip: HGET of the page and MGET of the tracks this process saw on it last (checked
 * against the page: tracks it no longer has are dropped, new ones take a second MGET). Lua only
 * where a step must be atomic (lease, fill, edit mark), on the miss and edit paths.
 * Replies are read as bytes; a page or track whose bytes are those decoded last time is not
 * decoded again (decoded-memo.ts: keyed by the bytes, so a changed value is seen at once).
 * One Lua script doing both reads was measured and dropped: Redis spent 160-250 us of its one
 * thread per call converting 100 replies through Lua, against 15-25 us for MGET and HGET.
 *
 * Keys, under the namespace: `track:v1:<track id>` (JSON), `plpage:v1:<playlist id>` (a hash:
 * `p:<offset>:<limit>` the page JSON, `l:<offset>:<limit>` a lease `<token>:<expiry ms>`),
 * `plpage:v1:<playlist id>:edit` (the count of edits in progress). Each script touches only
 * the keys it is given, both of one playlist.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
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
import { createDecodedMemo } from './decoded-memo.ts';
import { StorageError } from './errors.ts';

export const DEFAULT_REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** Pages whose track keys a process remembers for the one-round-trip read (keys only: ~10 KB each at most). */
const RECENT_PAGE_ENTRIES = 10_000;
/**
 * Raw bytes each memo of decoded values keeps (tracks, pages): 8 MiB is ~40 000 tracks or ~800
 * pages of 100 entries; with the decoded values, some 50 MiB at most for both.
 */
export const DEFAULT_DECODED_MEMO_BYTES = 8 * 1024 * 1024;

/** A cached page as decoded, with its track ids and their keys in entry order (built once per decode). */
interface DecodedPage {
  page: PlaylistPage;
  ids: string[];
  keys: string[];
}

/** A page's JSON, or undefined when it is not one (no entries array, no header object). */
function decodePage(raw: Buffer, trackPrefix: string): DecodedPage | undefined {
  const page = JSON.parse(raw.toString()) as PlaylistPage | null;
  if (!Array.isArray(page?.entries) || typeof page.playlist !== 'object') return undefined;
  const ids = page.entries.map((e) => e.trackId);
  return { page, ids, keys: ids.map((id) => trackPrefix + id) };
}

const unavailable = (what: string, e: unknown) =>
  new StorageError('unavailable', `redis ${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });

/** Lua: milliseconds of the server clock (the leases' one clock, whichever node asks). */
const NOW_MS = `local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)`;

/**
 * A page miss: grants a lease unless an edit is in progress or another reader holds a live one.
 * KEYS: page hash, edit mark. ARGV: page field suffix, new lease token, lease ms.
 * 1: lease granted; 0: none; 2: the page is there after all (filled since the read).
 */
const LEASE_PAGE = `
if redis.call('HEXISTS', KEYS[1], 'p:' .. ARGV[1]) == 1 then return 2 end
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

/** KEYS: page hash, edit mark. ARGV: suffix, token, page json, ttl ms. 1 stored, 0 not. */
const FILL_PAGE = `
local held = redis.call('HGET', KEYS[1], 'l:' .. ARGV[1])
if not held or string.sub(held, 1, #ARGV[2] + 1) ~= ARGV[2] .. ':' then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'p:' .. ARGV[1], ARGV[3])
redis.call('HDEL', KEYS[1], 'l:' .. ARGV[1])
local ttl = tonumber(ARGV[4])
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
  viewLeasePage(hash: string, mark: string, field: string, token: string, leaseMs: number): Promise<number>;
  viewFillPage(
    hash: string,
    mark: string,
    field: string,
    token: string,
    page: string,
    ttlMs: number,
  ): Promise<number>;
  viewBeginEdit(hash: string, mark: string, markMs: number): Promise<number>;
  viewEndEdit(hash: string, mark: string): Promise<number>;
}

/**
 * Opens the cache; every key lives under `namespace` (tests and benches give each its own).
 * `memoBytes` bounds each memo of decoded values (decoded-memo.ts).
 */
export async function createRedisTrackCache(
  url: string,
  namespace = '',
  memoBytes = DEFAULT_DECODED_MEMO_BYTES,
): Promise<TrackCache> {
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
  redis.defineCommand('viewLeasePage', { numberOfKeys: 2, lua: LEASE_PAGE });
  redis.defineCommand('viewFillPage', { numberOfKeys: 2, lua: FILL_PAGE });
  redis.defineCommand('viewBeginEdit', { numberOfKeys: 2, lua: BEGIN_EDIT });
  redis.defineCommand('viewEndEdit', { numberOfKeys: 2, lua: END_EDIT });
  const scripts = redis as unknown as PageScripts;

  const trackPrefix = namespace + TRACK_KEY_PREFIX;
  /**
   * Per page, the keys of the tracks this process read on it last: a warm view asks for the
   * page and for these tracks at once (one round trip); the page read decides what is served.
   */
  const lastKeys = new LRUCache<string, string[]>({ max: RECENT_PAGE_ENTRIES });
  const pageKey = (playlistId: string) => namespace + PLAYLIST_KEY_PREFIX + playlistId;
  const markKey = (playlistId: string) => pageKey(playlistId) + ':edit';

  // Replies are read as bytes and decoded through these memos: an unchanged value is compared,
  // not decoded again (decoded-memo.ts); a corrupt one is a miss that the read-through overwrites.
  const trackMemo = createDecodedMemo<Track>((raw) => JSON.parse(raw.toString()) as Track, memoBytes);
  const pageMemo = createDecodedMemo<DecodedPage>((raw) => decodePage(raw, trackPrefix), memoBytes);
  /**
   * Runs `send` with the socket corked, so the commands it sends leave in one write (one
   * syscall and one segment instead of one per command); replies are unaffected.
   */
  function inOneWrite<T>(send: () => T): T {
    const stream = redis.stream;
    stream.cork();
    try {
      return send();
    } finally {
      stream.uncork();
    }
  }
  const decodeTrack = (id: string, v: Buffer | null): Track | undefined =>
    v === null ? undefined : trackMemo.decode(id, v);

  async function getTracks(ids: readonly string[]): Promise<Map<string, Track>> {
    const out = new Map<string, Track>();
    if (ids.length === 0) return out;
    let values: (Buffer | null)[];
    try {
      values = await redis.mgetBuffer(ids.map((id) => trackPrefix + id));
    } catch (e) {
      throw unavailable('MGET', e);
    }
    values.forEach((v, i) => {
      const t = decodeTrack(ids[i]!, v);
      if (t) out.set(ids[i]!, t);
    });
    return out;
  }

  return {
    getTracks,
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
      const field = `${offset}:${limit}`;
      const hash = pageKey(playlistId);
      // The tracks this process last saw on the page, fetched in the same round trip as the
      // page itself: only a guess, checked against the page below.
      const guessKey = `${hash}\n${field}`;
      const guess = lastKeys.get(guessKey);
      let raw: Buffer | null;
      let guessed: (Buffer | null)[] | undefined;
      try {
        [raw, guessed] = await inOneWrite(() =>
          Promise.all([redis.hgetBuffer(hash, `p:${field}`), guess ? redis.mgetBuffer(guess) : undefined]),
        );
      } catch (e) {
        throw unavailable('page read', e);
      }
      let decoded: DecodedPage | undefined;
      if (raw !== null) {
        decoded = pageMemo.decode(guessKey, raw);
        // Undecodable: a miss, and no lease either; the next edit or the TTL clears it.
        if (decoded === undefined) return { hit: false };
      }
      if (decoded === undefined) {
        const token = randomBytes(12).toString('base64url');
        let granted: number;
        try {
          granted = await scripts.viewLeasePage(hash, markKey(playlistId), field, token, LEASE_TTL_MS);
        } catch (e) {
          throw unavailable('page lease', e);
        }
        // 2: filled by another reader meanwhile; this one reads the store without a lease.
        return granted === 1 ? { hit: false, lease: token } : { hit: false };
      }
      const { page, ids, keys } = decoded;
      lastKeys.set(guessKey, keys);
      if (!guess || !guessed) return { hit: true, page, tracks: await getTracks(ids) };
      const tracks = new Map<string, Track>();
      // The usual case: the page is the one decoded last time, so the guess is its very keys.
      if (guess === keys) {
        guessed.forEach((v, i) => {
          const t = decodeTrack(ids[i]!, v);
          if (t) tracks.set(ids[i]!, t);
        });
        return { hit: true, page, tracks };
      }
      // The guess's values serve the ids the page still has; the rest take a second read.
      const fetched = new Set<string>();
      guess.forEach((key, i) => {
        const id = key.slice(trackPrefix.length);
        fetched.add(id);
        const t = decodeTrack(id, guessed![i] ?? null);
        if (t) tracks.set(id, t);
      });
      const pageIds = new Set(ids);
      for (const id of fetched) if (!pageIds.has(id)) tracks.delete(id);
      const rest = ids.filter((id) => !fetched.has(id));
      if (rest.length > 0) for (const [id, t] of await getTracks(rest)) tracks.set(id, t);
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
      lastKeys.clear();
      trackMemo.clear();
      pageMemo.clear();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
