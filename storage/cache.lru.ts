/**
 * In-process LRU view cache (lru-cache), the default when REDIS_URL is unset. Tracks and
 * playlist slots (a playlist's pages and their leases) are separate LRUs, so evicting a slot
 * drops its leases with its pages, as a Redis hash does; the protocol of cache.ts holds the same.
 */
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import {
  DEFAULT_LRU_MAX_ENTRIES,
  DEFAULT_PAGE_TTL_SECONDS,
  DEFAULT_TRACK_TTL_SECONDS,
  EDIT_MARK_TTL_MS,
  LEASE_TTL_MS,
  type PlaylistPage,
  type TrackCache,
} from './cache.ts';
import type { Track } from './catalog.ts';

/** One playlist's cached pages and outstanding leases, by `<offset>:<limit>`. */
interface Slot {
  pages: Map<string, PlaylistPage>;
  leases: Map<string, { token: string; expiresAt: number }>;
}

export function createLruTrackCache(
  maxEntries = DEFAULT_LRU_MAX_ENTRIES,
  now: () => number = Date.now,
): TrackCache {
  const lru = new LRUCache<string, Track>({ max: maxEntries, ttl: DEFAULT_TRACK_TTL_SECONDS * 1000 });
  // A playlist slot holds up to a few pages of entries: a tenth of the track budget in slots.
  const slots = new LRUCache<string, Slot>({
    max: Math.max(1, Math.floor(maxEntries / 10)),
    ttl: DEFAULT_PAGE_TTL_SECONDS * 1000,
  });
  /** Edits in progress per playlist, each with the time its mark lapses. */
  const editing = new Map<string, number[]>();
  const isEditing = (id: string) => {
    const marks = editing.get(id)?.filter((until) => until > now());
    if (marks?.length) editing.set(id, marks);
    else editing.delete(id);
    return (marks?.length ?? 0) > 0;
  };
  const field = (offset: number, limit: number) => `${offset}:${limit}`;

  return {
    async getTracks(ids) {
      const out = new Map<string, Track>();
      for (const id of ids) {
        const t = lru.get(id);
        if (t) out.set(id, t);
      }
      return out;
    },
    async putTracks(tracks, ttlSeconds = DEFAULT_TRACK_TTL_SECONDS) {
      for (const t of tracks) lru.set(t.id, t, { ttl: ttlSeconds * 1000 });
    },
    async readPlaylistPage(playlistId, offset, limit) {
      const f = field(offset, limit);
      const slot = slots.get(playlistId);
      const page = slot?.pages.get(f);
      if (page) {
        const tracks = new Map<string, Track>();
        for (const e of page.entries) {
          const t = lru.get(e.trackId);
          if (t) tracks.set(e.trackId, t);
        }
        return { hit: true, page, tracks };
      }
      if (isEditing(playlistId)) return { hit: false };
      const held = slot?.leases.get(f);
      if (held && held.expiresAt > now()) return { hit: false };
      const token = randomBytes(12).toString('base64url');
      const s = slot ?? { pages: new Map(), leases: new Map() };
      s.leases.set(f, { token, expiresAt: now() + LEASE_TTL_MS });
      if (!slot) slots.set(playlistId, s, { ttl: Math.max(LEASE_TTL_MS, 1) });
      return { hit: false, lease: token };
    },
    async fillPlaylistPage(playlistId, offset, limit, lease, page, ttlSeconds = DEFAULT_PAGE_TTL_SECONDS) {
      const f = field(offset, limit);
      const slot = slots.get(playlistId);
      if (!slot || slot.leases.get(f)?.token !== lease || isEditing(playlistId)) return false;
      slot.leases.delete(f);
      // Stored as its own copy: callers go on to use (and may change) the page they read.
      slot.pages.set(f, structuredClone(page));
      // Only ever lengthened, as the Redis adapter does for the hash.
      if (slots.getRemainingTTL(playlistId) < ttlSeconds * 1000)
        slots.set(playlistId, slot, { ttl: ttlSeconds * 1000 });
      return true;
    },
    async beginPlaylistEdit(playlistId) {
      slots.delete(playlistId);
      editing.set(playlistId, [...(editing.get(playlistId) ?? []), now() + EDIT_MARK_TTL_MS]);
    },
    async endPlaylistEdit(playlistId) {
      slots.delete(playlistId);
      const marks = editing.get(playlistId) ?? [];
      marks.shift(); // any one mark: they only count
      if (marks.length > 0) editing.set(playlistId, marks);
      else editing.delete(playlistId);
    },
    async close() {
      lru.clear();
      slots.clear();
      editing.clear();
    },
  };
}
