/**
 * Translation between the wire (protocol/ frames) and the session actor (actors/ commands
 * and outputs). Pure functions, 1:1 field mapping; the only state they need is a track
 * metadata lookup (state frames carry metadata of upcoming tracks, the actor only ids).
 */
import type {
  DeviceState,
  ErrorFrame,
  PlaybackFrame,
  PrefetchFrame,
  SessionState,
  StateFrame,
  TrackMeta as WireTrackMeta,
  ClientFrame,
  WarningFrame,
  WelcomeFrame,
  DeviceType,
  Quality,
  RepeatMode,
} from '../protocol/messages.ts';
import { DEVICE_TYPES } from '../protocol/messages.ts';
import { encodeOnce } from '../protocol/codec.ts';
import type { ErrorReason } from '../protocol/errors.ts';
import type {
  Quality as ActorQuality,
  RepeatMode as ActorRepeatMode,
  EndedCommand,
  ErrorOutput,
  PlayCommand,
  ProgressCommand,
  TransferCommand,
  VolumeCommand,
  PlaybackOutput,
  PrefetchOutput,
  SessionCommand,
  SessionView,
  TrackRow,
  WarningOutput,
  WelcomeOutput,
} from '../actors/types.ts';

// actors/ and protocol/ import nothing of ours, so each names the quality and repeat enums
// for itself; the mapping below passes them through as they are, which holds only while
// the two are the same union. This proves it at compile time.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const enumsAgree: [Same<Quality, ActorQuality>, Same<RepeatMode, ActorRepeatMode>] = [true, true];
void enumsAgree;

/** Metadata lookup for ids the actor names (filled from the catalog port's answers). */
export type TrackLookup = (trackId: string) => TrackRow | undefined;

const SPOTIFY = 'spotify:';

/** `spotify:playlist:x` -> `playlist:x` (the actor's uri form). */
export const toActorUri = (uri: string): string =>
  uri.startsWith(SPOTIFY) ? uri.slice(SPOTIFY.length) : uri;
/** `playlist:x` -> `spotify:playlist:x`. */
export const toWireUri = (uri: string | null): string | null =>
  uri === null ? null : uri.startsWith(SPOTIFY) ? uri : `${SPOTIFY}${uri}`;

export const wireTrack = (t: TrackRow): WireTrackMeta => ({
  id: t.id,
  title: t.title,
  artist: t.artistName,
  album: t.albumName,
  duration_ms: t.durationMs,
});

const deviceType = (t: string): DeviceType =>
  (DEVICE_TYPES as readonly string[]).includes(t) ? (t as DeviceType) : 'other';

/** The actor's epoch is a number; on the wire it is a string. */
export const wireEpoch = (epoch: number): string => String(epoch);
/** A wire epoch that is not ours maps to -1, which never matches (full welcome). */
export const actorEpoch = (epoch: string): number => (/^\d{1,15}$/.test(epoch) ? Number(epoch) : -1);

export function wireState(s: SessionView, lookup: TrackLookup): SessionState {
  const queued = new Set(s.queue);
  const next_tracks: SessionState['next_tracks'] = [];
  for (const id of s.next) {
    const meta = lookup(id);
    const source = s.nextFromRadio.includes(id) ? 'autoplay' : queued.has(id) ? 'queue' : 'context';
    if (meta) next_tracks.push({ track: wireTrack(meta), source });
  }
  return {
    version: s.version,
    epoch: wireEpoch(s.epoch),
    devices: s.devices.map((d): DeviceState => ({
      id: d.id,
      name: d.name,
      type: deviceType(d.type),
      volume_percent: d.volume,
      connected: d.connected,
    })),
    active_device_id: s.activeDeviceId,
    is_playing: s.position.playing,
    track: s.track ? wireTrack(s.track) : null,
    play_id: s.playId,
    position: { position_ms: Math.max(0, Math.round(s.position.positionMs)), at: s.position.at },
    shuffle: s.shuffle,
    repeat: s.repeat,
    quality: s.quality,
    bitrate_kbps: s.bitrateKbps,
    context_uri: toWireUri(s.contextUri),
    next_tracks,
  };
}

export const stateFrame = (s: SessionView, lookup: TrackLookup): StateFrame => ({
  t: 'state',
  state: wireState(s, lookup),
});

export function welcomeFrame(
  o: WelcomeOutput,
  helloId: number,
  protocol: number,
  now: number,
  lookup: TrackLookup,
): WelcomeFrame {
  return {
    t: 'welcome',
    id: helloId,
    protocol,
    server_time: now,
    resumed: o.resumed,
    state: wireState(o.state, lookup),
  };
}

export function playbackFrame(o: PlaybackOutput): PlaybackFrame {
  return {
    t: 'playback',
    play_id: o.playId,
    track: wireTrack(o.track),
    codec: o.codec,
    mime: o.mimeType,
    bitrate_kbps: o.bitrateKbps,
    // Shared by every playback of this file and expiry (actors/ `fileSigner`): encoded once.
    chunks: { count: o.chunks.count, duration_ms: o.chunks.durationMs, sizes: encodeOnce(o.chunks.bytes) },
    init_url: o.init.url || null,
    urls: encodeOnce(o.chunks.urls),
    first_chunk: {
      url: o.firstChunk.url,
      bitrate_kbps: o.firstChunk.bitrateKbps,
      init_url: o.firstChunk.init.url || null,
    },
    expires_at: o.expiresAt,
    gapless: {
      encoder_delay_samples: o.gapless.encoderDelaySamples,
      padding_samples: o.gapless.paddingSamples,
      sample_rate: o.gapless.sampleRate,
    },
    // The catalog keeps integrated loudness and gain, not the peak: full scale is the safe value.
    loudness: { track_gain_db: o.loudness.replayGainDb, track_peak: 1 },
    position_ms: Math.max(0, Math.round(o.positionMs)),
    is_playing: o.playing,
  };
}

export function prefetchFrame(o: PrefetchOutput, afterPlayId: string | null): PrefetchFrame {
  return {
    t: 'prefetch',
    after_play_id: afterPlayId,
    items: o.items.slice(0, 2).map((it, i) => ({
      track_id: it.trackId,
      position: i + 1,
      bitrate_kbps: it.bitrateKbps,
      urls: it.chunks.map((c) => c.url),
      init_url: it.init.url || null,
      expires_at: it.expiresAt,
    })),
  };
}

export function warningFrame(o: WarningOutput): WarningFrame {
  switch (o.code) {
    case 'bandwidth_below_quality':
      return {
        t: 'warning',
        code: 'bandwidth_insufficient',
        message: o.message,
        bitrate_kbps: o.sustainableKbps,
      };
    case 'quality_capped':
      return { t: 'warning', code: 'quality_capped', message: o.message, bitrate_kbps: o.bitrateKbps };
    case 'autoplay_unavailable':
      return { t: 'warning', code: 'autoplay_unavailable', message: o.message };
    case 'track_skipped':
      return {
        t: 'warning',
        code: 'track_skipped',
        message: o.message,
        track_id: o.trackId,
        reason: o.reason,
      };
  }
}

/** Default reason per code when the actor gives none (the wire always carries one). */
/** The actor's error as a frame; its code and reason are protocol/'s (checked by the compiler). */
export function errorFrameOf(o: ErrorOutput, requestId: number | undefined): ErrorFrame {
  const reason: ErrorReason = o.reason;
  const f: ErrorFrame = { t: 'error', code: o.code, reason, message: o.message };
  if (requestId !== undefined) f.id = requestId;
  return f;
}

/**
 * A validated client frame as an actor command; `undefined` for frames the actor does not
 * see (hello and ping are answered by the socket layer, device-socket.ts, and never come
 * here; the router answers any that does with an error). Exhaustive: a client frame type added
 * to protocol/schemas.ts fails to compile here until it is mapped. Built field by field (no
 * object spreads): this runs for every inbound command, and conditional spreads cost V8 a
 * slow path.
 */
export function toCommand(frame: ClientFrame, deviceId: string): SessionCommand | undefined {
  const requestId = frame.id;
  switch (frame.t) {
    case 'play': {
      const c: PlayCommand = { type: 'play', deviceId, requestId };
      if (frame.context) c.contextUri = toActorUri(frame.context);
      if (frame.uris) c.uris = frame.uris.map(toActorUri);
      if (frame.offset)
        c.offset =
          'index' in frame.offset ? { index: frame.offset.index } : { uri: toActorUri(frame.offset.uri) };
      if (frame.position_ms !== undefined) c.positionMs = frame.position_ms;
      return c;
    }
    case 'pause':
    case 'resume':
    case 'next':
    case 'previous':
    case 'logout':
      return { type: frame.t, deviceId, requestId };
    case 'seek':
      return { type: 'seek', deviceId, requestId, positionMs: frame.position_ms };
    case 'shuffle':
      return { type: 'shuffle', deviceId, requestId, on: frame.on };
    case 'repeat':
      return { type: 'repeat', deviceId, requestId, mode: frame.mode };
    case 'queue.add':
      return { type: 'queue.add', deviceId, requestId, uri: toActorUri(frame.uri) };
    case 'quality':
      return { type: 'quality', deviceId, requestId, quality: frame.quality };
    case 'volume': {
      const c: VolumeCommand = { type: 'volume', deviceId, requestId, volume: frame.percent };
      if (frame.device_id) c.targetDeviceId = frame.device_id;
      return c;
    }
    case 'transfer': {
      const c: TransferCommand = { type: 'transfer', deviceId, requestId, toDeviceId: frame.device_id };
      if (frame.play !== undefined) c.play = frame.play;
      return c;
    }
    case 'progress': {
      const c: ProgressCommand = { type: 'progress', deviceId, requestId, positionMs: frame.position_ms };
      if (frame.play_id !== undefined) c.playId = frame.play_id;
      if (frame.buffered_ms !== undefined) c.bufferMs = frame.buffered_ms;
      if (frame.bandwidth_kbps !== undefined) c.bandwidthKbps = frame.bandwidth_kbps;
      return c;
    }
    case 'ended': {
      const c: EndedCommand = { type: 'ended', deviceId, requestId };
      if (frame.play_id !== undefined) c.playId = frame.play_id;
      return c;
    }
    case 'hello':
    case 'ping':
      return undefined;
    default:
      return unmapped(frame);
  }
}

/** Compiles only when every client frame type has a case above. */
const unmapped = (_frame: never): undefined => undefined;
