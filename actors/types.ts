/**
 * Public domain types of the session actor: what comes in (commands), what goes out
 * (outputs, listening events), what the ports load (track bundles, contexts).
 *
 * actors/ depends on nothing else of ours, so the domain types other layers share are
 * defined here, once: `Plan`, `Quality`, `RepeatMode`, the catalog rows a play needs
 * (storage/catalog.ts extends them) and the `ListeningEvent` (storage/event-log.ts stores
 * it). The wire frames are protocol/'s; session/frames.ts maps them to commands and
 * outputs 1:1 and proves at compile time that the enums both sides name are the same.
 */

/** The listener's subscription (a token claim). */
export type Plan = 'free' | 'premium';
/** The listener's quality setting; its nominal bitrates are config.ts QUALITY_KBPS. */
export type Quality = 'low' | 'normal' | 'high' | 'very_high';
export type RepeatMode = 'off' | 'context' | 'track';
/** Frame ids are chosen by the client; the session only echoes them. */
export type RequestId = number | string;

// ---------------------------------------------------------------------------------------
// Commands (client -> server frames, already validated by protocol/, plus transport events)
// ---------------------------------------------------------------------------------------

interface CommandBase {
  /** The device that sent the frame (the socket's authenticated device). */
  deviceId: string;
  /** Present on requests that want an `ack` / `error` answer; absent on fire-and-forget reports. */
  requestId?: RequestId;
}

export interface HelloCommand extends CommandBase {
  type: 'hello';
  name: string;
  deviceType: string;
  volume?: number;
  /** Token claims; a new token may carry a changed plan or country. */
  plan: Plan;
  country: string;
  /** Last state the device saw: a matching epoch gets `resumed: true` in the welcome. */
  resume?: { version: number; epoch: number };
}

/** Not a frame: session/ sends it when a device's socket closes. */
export interface DisconnectCommand extends CommandBase {
  type: 'disconnect';
}

export interface PlayCommand extends CommandBase {
  type: 'play';
  /** `playlist:<id>` or `album:<id>`; resolved by the `resolveContext` port. */
  contextUri?: string;
  /** Explicit track list (`track:<id>` or a bare id) when there is no context uri. */
  uris?: string[];
  /** Where to start: an index into the context/uris, or a track uri inside it. */
  offset?: { index?: number; uri?: string };
  positionMs?: number;
  /** Load paused instead of playing. */
  paused?: boolean;
}

export interface PauseCommand extends CommandBase {
  type: 'pause';
}
export interface ResumeCommand extends CommandBase {
  type: 'resume';
}
export interface SeekCommand extends CommandBase {
  type: 'seek';
  positionMs: number;
}
export interface NextCommand extends CommandBase {
  type: 'next';
}
export interface PreviousCommand extends CommandBase {
  type: 'previous';
  /**
   * With no track before this one (and not past `previousRestartMs`): `restart` it (a
   * device's button, the default) or `refuse` (`conflict` `no_previous_track`: the Web
   * API's NO_PREV_TRACK, which leaves the play alone).
   */
  atFirst?: 'restart' | 'refuse';
}
export interface ShuffleCommand extends CommandBase {
  type: 'shuffle';
  on: boolean;
}
export interface RepeatCommand extends CommandBase {
  type: 'repeat';
  mode: RepeatMode;
}
export interface QueueAddCommand extends CommandBase {
  type: 'queue.add';
  /** `track:<id>` or a bare track id. */
  uri: string;
}
/**
 * Edits of the user queue (the Web API's extension; Spotify has only add): remove by index
 * or by uri (every occurrence), move one entry, or clear it. `expect` (a track uri) on an
 * edit by index says which track the caller saw there: another track there now (the queue
 * changed meanwhile) refuses the edit instead of touching the wrong entry.
 */
export interface QueueEditCommand extends CommandBase {
  type: 'queue.edit';
  edit:
    | { op: 'remove'; index: number; expect?: string }
    | { op: 'remove'; uri: string }
    | { op: 'move'; from: number; to: number; expect?: string }
    | { op: 'clear' };
}
export interface QualityCommand extends CommandBase {
  type: 'quality';
  quality: Quality;
}
export interface VolumeCommand extends CommandBase {
  type: 'volume';
  /** 0..100. */
  volume: number;
  /** Device whose volume changes; defaults to the sender. */
  targetDeviceId?: string;
}
export interface TransferCommand extends CommandBase {
  type: 'transfer';
  toDeviceId: string;
  /** true: play on the new device, false: paused there; absent: keep the current play/pause. */
  play?: boolean;
}
/** Report from a device; only the active device's reports correct the position. */
export interface ProgressCommand extends CommandBase {
  type: 'progress';
  positionMs: number;
  /** Play id the report is about; a stale report (other play) is ignored. */
  playId?: string;
  bufferMs?: number;
  /** Measured network throughput, kbit/s. */
  bandwidthKbps?: number;
}
/** The active device finished the track (audio ran out). */
export interface EndedCommand extends CommandBase {
  type: 'ended';
  playId?: string;
}
export interface LogoutCommand extends CommandBase {
  type: 'logout';
}

export type SessionCommand =
  | HelloCommand
  | DisconnectCommand
  | PlayCommand
  | PauseCommand
  | ResumeCommand
  | SeekCommand
  | NextCommand
  | PreviousCommand
  | ShuffleCommand
  | RepeatCommand
  | QueueAddCommand
  | QueueEditCommand
  | QualityCommand
  | VolumeCommand
  | TransferCommand
  | ProgressCommand
  | EndedCommand
  | LogoutCommand;

// ---------------------------------------------------------------------------------------
// What the ports load (shapes compatible with storage/catalog.ts rows)
// ---------------------------------------------------------------------------------------

/** A catalog track as a play needs it (storage/catalog.ts `Track` is this and more). */
export interface TrackRow {
  id: string;
  title: string;
  artistId: string;
  artistName: string;
  albumId: string;
  albumName: string;
  /** 1-based position on the album, for album contexts. */
  trackNumber?: number;
  durationMs: number;
}

/** One chunk of an encoded file; the same index covers the same time at every bitrate. */
export interface ChunkRow {
  index: number;
  /** Content address of the chunk object; its URL path is `/o/<key>`. */
  key: string;
  bytes: number;
  durationMs: number;
}

/** One encoded file of a track, at one bitrate. */
export interface AudioFileRow {
  bitrateKbps: number;
  codec: string; // e.g. 'opus'
  container: string; // e.g. 'webm'
  mimeType: string; // e.g. 'audio/webm; codecs="opus"'
  /** Init segment object (headers) that precedes any chunk for MSE. */
  init: { key: string; bytes: number };
  chunkDurationMs: number;
  chunks: ChunkRow[];
  /** Gapless trim values, in samples at `sampleRate`. */
  encoderDelaySamples: number;
  paddingSamples: number;
  sampleRate: number;
  /** EBU R128 integrated loudness and the gain to apply (not baked in). */
  loudness: { integratedLufs: number; replayGainDb: number };
}

export interface RightsRow {
  /** ISO 3166-1 alpha-2 or '*' for worldwide. */
  territory: string;
  allowed: boolean;
  /** Release window, epoch ms; absent means open-ended. */
  availableFrom?: number;
  availableUntil?: number;
  /** Only premium listeners may play it on demand. */
  premiumOnly?: boolean;
}

/** Everything a play needs about one track. */
export interface TrackBundle {
  track: TrackRow;
  /** Every encoded bitrate, any order. */
  files: AudioFileRow[];
  /** Rows for the listener's country and the '*' row. */
  rights: RightsRow[];
}

export interface LoadTracksRequest {
  trackIds: string[];
  country: string;
}
/** Keyed by track id; `null` (or absent) when the track does not exist. */
export type LoadTracksResult = Record<string, TrackBundle | null>;

export interface ContextTrack {
  id: string;
  artistId: string;
}

export interface ResolveContextRequest {
  userId: string;
  /** A `playlist:` / `album:` uri, or null for an explicit track list. */
  contextUri: string | null;
  /** For an explicit list: the bare track ids, in order. */
  trackIds: string[];
}
/** `null` when the context does not exist; unknown ids of an explicit list are left out. */
export interface ResolvedContext {
  uri: string | null;
  tracks: ContextTrack[];
}

export interface RadioRequest {
  userId: string;
  /** The context's last tracks, oldest first: the radio continues from them. */
  seedTrackIds: string[];
  /** Track ids not to return: the context, the queue, what autoplay gave this session. */
  exclude: string[];
  count: number;
  /** Where and on which plan the listener plays: the answer is playable there now. */
  country: string;
  plan: Plan;
}

// ---------------------------------------------------------------------------------------
// Outputs (server -> client frames)
// ---------------------------------------------------------------------------------------

/** The codes of protocol/errors.ts ERROR_CODES the actor answers with. */
export type ActorErrorCode =
  'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'rate_limited' | 'unavailable';
export type ForbiddenReason = 'region_blocked' | 'not_available' | 'premium_required';
/**
 * Which failure exactly, per code: the same names as protocol/errors.ts ERROR_REASONS (a
 * copy by shape: actors/ imports nothing of ours; session/ maps 1:1 and the compiler checks).
 */
export type ErrorReasonOf = {
  bad_request: 'invalid_field';
  unauthorized: 'hello_required';
  forbidden: ForbiddenReason;
  not_found: 'unknown_track' | 'unknown_context' | 'unknown_device' | 'unknown_play';
  conflict:
    | 'nothing_playing'
    | 'device_offline'
    | 'too_many_pending'
    | 'no_active_device'
    | 'stale_play'
    | 'no_previous_track'
    | 'version_mismatch';
  rate_limited: 'too_many_requests';
  unavailable: 'catalog_unavailable' | 'store_unavailable';
};
export type ActorErrorReason = ErrorReasonOf[ActorErrorCode];

export interface DeviceView {
  id: string;
  name: string;
  type: string;
  volume: number;
  connected: boolean;
}

/** Position anchor: `positionMs` at server time `at`; moves with wall time when `playing`. */
export interface PositionAnchor {
  positionMs: number;
  at: number;
  playing: boolean;
}

/** The versioned state every device of the user sees. */
export interface SessionView {
  version: number;
  epoch: number;
  devices: DeviceView[];
  activeDeviceId: string | null;
  /** Current play (or the track being loaded, with `loading: true`). */
  track: TrackRow | null;
  playId: string | null;
  loading: boolean;
  position: PositionAnchor;
  contextUri: string | null;
  shuffle: boolean;
  repeat: RepeatMode;
  quality: Quality;
  /**
   * The effective bitrate, kbps: the current play's (the setting capped by the plan and
   * the network when it started); with nothing playing, the setting capped by the plan.
   */
  bitrateKbps: number;
  /** User queue, track ids in play order. */
  queue: string[];
  /** The next tracks that will really play (queue, shuffle, repeat, autoplay), at most 2. */
  next: string[];
  /** Those of `next` that autoplay (the radio) added. */
  nextFromRadio: string[];
}

export interface AckOutput {
  type: 'ack';
  requestId: RequestId;
}
export interface ErrorOutput {
  type: 'error';
  /** Absent when the error is not an answer (e.g. a blocked track skipped on track end). */
  requestId?: RequestId;
  code: ActorErrorCode;
  reason: ActorErrorReason;
  message: string;
  /** The track concerned, for forbidden/not_found. */
  trackId?: string;
}
export interface WelcomeOutput {
  type: 'welcome';
  requestId?: RequestId;
  /** true when the device's resume point is in this epoch (nothing was lost). */
  resumed: boolean;
  state: SessionView;
}
export interface StateOutput {
  type: 'state';
  state: SessionView;
  /**
   * Devices that got this very state in their `welcome` of the same step: the broadcast
   * skips them, so no device is sent the same version twice.
   */
  welcomed?: string[];
}

export interface SignedChunk {
  index: number;
  url: string;
  bytes: number;
}

export interface PlaybackOutput {
  type: 'playback';
  playId: string;
  track: TrackRow;
  codec: string;
  container: string;
  mimeType: string;
  bitrateKbps: number;
  /** Where to start and whether to play right away. */
  positionMs: number;
  playing: boolean;
  init: { url: string; bytes: number };
  chunks: {
    count: number;
    /** Nominal chunk duration; chunk i covers [i*durationMs, (i+1)*durationMs). */
    durationMs: number;
    bytes: number[];
    urls: string[];
  };
  /** The chunk covering `positionMs`, at the start bitrate, to start at once. */
  firstChunk: SignedChunk & { bitrateKbps: number; init: { url: string; bytes: number } };
  /** Every URL above is valid until then (epoch ms); a fresh playback comes before. */
  expiresAt: number;
  gapless: { encoderDelaySamples: number; paddingSamples: number; sampleRate: number };
  loudness: { integratedLufs: number; replayGainDb: number };
  /** true when this only renews the URLs of the play already running. */
  renewal: boolean;
}

export interface PrefetchItem {
  trackId: string;
  bitrateKbps: number;
  init: { url: string; bytes: number };
  chunks: SignedChunk[];
  expiresAt: number;
}
export interface PrefetchOutput {
  type: 'prefetch';
  /** In play order; at most 2 tracks. */
  items: PrefetchItem[];
}

export type WarningOutput =
  | {
      type: 'warning';
      /** The network sustains less than the quality setting (the wire's `bandwidth_insufficient`). */
      code: 'bandwidth_below_quality';
      message: string;
      requestedKbps: number;
      sustainableKbps: number;
    }
  | {
      type: 'warning';
      /** The plan caps the bitrate below the quality setting: plays get `bitrateKbps`. */
      code: 'quality_capped';
      message: string;
      requestedKbps: number;
      bitrateKbps: number;
    }
  | {
      type: 'warning';
      /** The radio service did not answer (down or slow): the context ends without autoplay. */
      code: 'autoplay_unavailable';
      message: string;
    }
  | {
      type: 'warning';
      /** A track the listener may not play (or that does not exist) was passed over. */
      code: 'track_skipped';
      message: string;
      trackId: string;
      reason: ForbiddenReason | 'not_found';
    };

/** Outputs addressed to one device. */
export type DeviceOutput =
  AckOutput | ErrorOutput | WelcomeOutput | PlaybackOutput | PrefetchOutput | WarningOutput;

// ---------------------------------------------------------------------------------------
// Listening events (stored by the event log port, storage/event-log.ts)
// ---------------------------------------------------------------------------------------

export type ListeningEventType = 'play.start' | 'play.progress' | 'play.end';
/**
 * Why a play ended. `transfer` is no longer emitted (a transfer continues the play on the
 * other device); it stays so events stored before that still validate.
 */
export type EndReason = 'trackdone' | 'skip' | 'transfer' | 'logout' | 'blocked';

export interface ListeningEvent {
  /** `${play_id}:${type}`: deterministic, so a retry of the same play is the same event. */
  event_id: string;
  type: ListeningEventType;
  play_id: string;
  user: string;
  track: string;
  artist: string;
  /** Epoch ms, server clock. */
  ts: number;
  ms_played: number;
  context: string;
  country: string;
  product: Plan;
  /** The device the play runs on when the event is emitted. */
  device: string;
  /** Every device the play ran on, each once, in first-played order; only once a transfer moved it. */
  devices?: string[];
  reason?: EndReason;
}
