/**
 * Readable one-line renderings of what the session CLI sees: state, playback, prefetch,
 * warnings, errors, closes and prefetch-cache verdicts. Pure (the clock is passed in), so
 * the wording is tested without a server.
 */
import { closeInfo } from '../protocol/close-codes.ts';
import type {
  ErrorFrame,
  PlaybackFrame,
  PrefetchFrame,
  SessionState,
  TrackMeta,
  WarningFrame,
} from '../protocol/messages.ts';
import type { CloseInfo } from './session-client.ts';
import type { ChunkFetchResult } from './prefetch-cache.ts';

/** m:ss (h:mm:ss past an hour). */
export function clock(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const track = (t: TrackMeta): string => `"${t.title}" by ${t.artist}`;

/** The position the anchor gives at `now` (server clock assumed close to ours on loopback). */
function shownPositionMs(s: SessionState, now: number): number {
  const raw = s.position.position_ms + (s.is_playing ? Math.max(0, now - s.position.at) : 0);
  return s.track ? Math.min(raw, s.track.duration_ms) : raw;
}

export function formatState(s: SessionState, now: number, selfId?: string): string {
  const active =
    s.active_device_id === null
      ? 'no active device'
      : `on ${s.active_device_id}${s.active_device_id === selfId ? ' (this device)' : ''}`;
  const what = s.track
    ? `${s.is_playing ? 'playing' : 'paused'} ${track(s.track)} ${clock(shownPositionMs(s, now))}/${clock(s.track.duration_ms)}`
    : 'nothing loaded';
  const modes = `shuffle ${s.shuffle ? 'on' : 'off'}, repeat ${s.repeat}, quality ${s.quality}`;
  const next = s.next_tracks.length
    ? ` | next: ${s.next_tracks
        .slice(0, 3)
        .map((u) => `${u.track.title} [${u.source}]`)
        .join(', ')}`
    : '';
  return `state v${s.version}: ${what}, ${active} | ${modes}${s.context_uri ? ` | ${s.context_uri}` : ''}${next}`;
}

export function formatDevices(s: SessionState, selfId?: string): string[] {
  if (s.devices.length === 0) return ['devices: none'];
  return s.devices.map(
    (d) =>
      `device ${d.id}${d.id === s.active_device_id ? ' *active*' : ''}${d.id === selfId ? ' (this)' : ''}: ` +
      `"${d.name}" ${d.type}, volume ${d.volume_percent}%, ${d.connected ? 'connected' : 'disconnected'}`,
  );
}

export function formatPlayback(p: PlaybackFrame, now: number): string {
  const expiresIn = Math.round((p.expires_at - now) / 60_000);
  return (
    `playback ${p.play_id}: ${track(p.track)} at ${p.bitrate_kbps} kbps ${p.codec}, ` +
    `${p.chunks.count} chunks of ${clock(p.chunks.duration_ms)}, first chunk at ${p.first_chunk.bitrate_kbps} kbps, ` +
    `from ${clock(p.position_ms)} ${p.is_playing ? 'playing' : 'paused'}, urls expire in ${expiresIn} min`
  );
}

export function formatPrefetch(f: PrefetchFrame): string {
  if (f.items.length === 0) return `prefetch after ${f.after_play_id ?? '-'}: nothing ahead`;
  const items = f.items.map(
    (i) =>
      `${i.position}. ${i.track_id} (${i.urls.length} chunk${i.urls.length === 1 ? '' : 's'} at ${i.bitrate_kbps} kbps)`,
  );
  return `prefetch after ${f.after_play_id ?? '-'}: ${items.join(', ')}`;
}

export function formatWarning(w: WarningFrame): string {
  const at = [
    w.track_id && `track ${w.track_id}`,
    w.bitrate_kbps !== undefined && `${w.bitrate_kbps} kbps`,
  ].filter(Boolean);
  return `warning ${w.code}: ${w.message}${at.length ? ` (${at.join(', ')})` : ''}`;
}

/** `code/reason: message`, the shape every refused request prints. */
export function formatError(e: Pick<ErrorFrame, 'code' | 'reason' | 'message' | 'retry_after_ms'>): string {
  const retry = e.retry_after_ms !== undefined ? ` (retry after ${e.retry_after_ms} ms)` : '';
  return `error ${e.code}${e.reason ? `/${e.reason}` : ''}: ${e.message}${retry}`;
}

export function formatClose(c: Pick<CloseInfo, 'code' | 'reason' | 'action'>): string {
  const known = closeInfo(c.code);
  const why = known ? ` - ${known.description}` : '';
  return `closed ${c.code}${c.reason ? ` ${c.reason}` : ''} (${c.action})${why}`;
}

export function formatChunk(url: string, r: ChunkFetchResult): string {
  // The path names the chunk (`/o/<sha256>`); the origin in front of it is the same for all.
  const key = url.replace(/\?.*$/, '').replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]+/i, '');
  const short = key.length > 24 ? `${key.slice(0, 15)}...${key.slice(-6)}` : key;
  if (r.ok) {
    const refetch = r.mismatches.length
      ? ` after a refetch (${r.mismatches[0]!.ok ? '' : r.mismatches[0]!.reason})`
      : '';
    return `chunk ${short}: ${r.chunk.bytes.byteLength} bytes verified${refetch}`;
  }
  return `chunk ${short}: FAILED ${r.error.message}`;
}
