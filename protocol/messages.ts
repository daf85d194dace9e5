/**
 * Every frame of the wire protocol, as TypeScript types.
 *
 * A frame is a plain MessagePack map `{ t: '<type>', ... }`. Field names are snake_case,
 * spelled out (readability over bytes: MessagePack already keeps them cheap); only the
 * two keys present in every frame are short:
 *   - `t`  the frame type tag (e.g. 'play', 'state');
 *   - `id` the request id: every client request carries one (an unsigned 32-bit integer
 *          chosen by the client, unique among its in-flight requests); the server answers
 *          it with exactly one `ack {id}` or `error {id}` (`hello` is answered by `welcome`,
 *          `ping` by `pong`).
 *
 * Times are milliseconds: `*_ms` are durations or positions, `*_at` / `at` / `server_time`
 * are Unix epoch milliseconds of the server's clock. Absent optional fields are omitted from
 * the map (never sent as nil); fields that can be "nothing" in a snapshot are explicit nulls.
 *
 * The schemas in schemas.ts mirror these types one for one (checked at compile time there).
 * protocol/README.md documents every frame with an example.
 */

// ---------------------------------------------------------------------------------------
// Shared value types
// ---------------------------------------------------------------------------------------

/** A catalog uri: `spotify:track:ID`, `spotify:album:ID`, `spotify:playlist:ID`, `spotify:artist:ID`. */
export type Uri = string;

export const DEVICE_TYPES = [
  'computer',
  'smartphone',
  'tablet',
  'speaker',
  'tv',
  'car',
  'web',
  'other',
] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

export const REPEAT_MODES = ['off', 'context', 'track'] as const;
export type RepeatMode = (typeof REPEAT_MODES)[number];

/** Quality settings and their nominal bitrates (kbps): low 24, normal 96, high 160, very_high 320. */
export const QUALITIES = ['low', 'normal', 'high', 'very_high'] as const;
export type Quality = (typeof QUALITIES)[number];
export const QUALITY_KBPS: Readonly<Record<Quality, number>> = {
  low: 24,
  normal: 96,
  high: 160,
  very_high: 320,
};

/**
 * Where a device last was in the session's state stream. `version` is the `state.version` it
 * last applied, `epoch` the `state.epoch` it came with. The epoch changes whenever versions
 * restart (a new actor incarnation, e.g. after a restore), so a version from another epoch is
 * meaningless. The server answers a resume with `welcome`: `resumed: true` when it could
 * continue from that point, `resumed: false` (a full snapshot to replace everything) on a gap
 * or an epoch mismatch; never a silent skip.
 */
export interface ResumePoint {
  version: number;
  epoch: string;
}

/** What a device says about itself in `hello`. `id` is stable per installation. */
export interface DeviceHello {
  id: string;
  name: string;
  type: DeviceType;
}

/** Start offset inside a context: a position in its order, or the uri of one of its tracks. */
export type PlayOffset = { index: number } | { uri: Uri };

/** Track metadata carried by state, playback and queue previews. */
export interface TrackMeta {
  id: string;
  title: string;
  artist: string;
  album: string;
  duration_ms: number;
}

// ---------------------------------------------------------------------------------------
// Client -> server
// ---------------------------------------------------------------------------------------

/** First frame of every connection. Answered by `welcome` or by `error` + close. */
export interface HelloFrame {
  t: 'hello';
  id: number;
  /** Signed session token (JWT); missing or empty is refused with `token_missing` + close 4500. */
  token?: string;
  device: DeviceHello;
  /** The protocol version the client speaks (see version.ts). */
  protocol: number;
  resume?: ResumePoint;
}

/**
 * Start playing. Exactly one of `context` (a playlist/album/artist uri) or `uris` (a list of
 * track uris to play as an ad-hoc context). `offset` picks the first track (default: the
 * first, or a shuffled first when shuffle is on); `position_ms` where to start in it.
 */
export interface PlayFrame {
  t: 'play';
  id: number;
  context?: Uri;
  uris?: Uri[];
  offset?: PlayOffset;
  position_ms?: number;
}

export interface PauseFrame {
  t: 'pause';
  id: number;
}

export interface ResumeFrame {
  t: 'resume';
  id: number;
}

/** This device logs out: its play ends (`logout`), then the socket closes with 4503 after the ack. */
export interface LogoutFrame {
  t: 'logout';
  id: number;
}

export interface SeekFrame {
  t: 'seek';
  id: number;
  position_ms: number;
}

export interface NextFrame {
  t: 'next';
  id: number;
}

/** Previous track; restarts the current one when more than 3 s have played. */
export interface PreviousFrame {
  t: 'previous';
  id: number;
}

export interface ShuffleFrame {
  t: 'shuffle';
  id: number;
  on: boolean;
}

export interface RepeatFrame {
  t: 'repeat';
  id: number;
  mode: RepeatMode;
}

/** Adds a track to the user queue (plays before the context continues). */
export interface QueueAddFrame {
  t: 'queue.add';
  id: number;
  uri: Uri;
}

export interface QualityFrame {
  t: 'quality';
  id: number;
  quality: Quality;
}

/** Volume in percent (0-100) of `device_id`, or of the sending device when absent. */
export interface VolumeFrame {
  t: 'volume';
  id: number;
  percent: number;
  device_id?: string;
}

/** Moves playback to `device_id` at the current position; `play` forces playing (true) or paused (false), default: unchanged. */
export interface TransferFrame {
  t: 'transfer';
  id: number;
  device_id: string;
  play?: boolean;
}

/**
 * Playback report from the active device (typically every few seconds): its position in
 * the play `play_id`, how much audio it has buffered ahead, and the bandwidth it measured.
 */
export interface ProgressFrame {
  t: 'progress';
  id: number;
  play_id: string;
  position_ms: number;
  buffered_ms: number;
  bandwidth_kbps: number;
}

/** The active device finished playing `play_id` to its end. */
export interface EndedFrame {
  t: 'ended';
  id: number;
  play_id: string;
}

/** Keep-alive and clock probe; answered by `pong` with the same id. */
export interface PingFrame {
  t: 'ping';
  id: number;
}

export type ClientFrame =
  | HelloFrame
  | PlayFrame
  | PauseFrame
  | ResumeFrame
  | SeekFrame
  | NextFrame
  | PreviousFrame
  | ShuffleFrame
  | RepeatFrame
  | QueueAddFrame
  | QualityFrame
  | VolumeFrame
  | TransferFrame
  | ProgressFrame
  | EndedFrame
  | LogoutFrame
  | PingFrame;

export type ClientFrameType = ClientFrame['t'];

export const CLIENT_FRAME_TYPES = [
  'hello',
  'play',
  'pause',
  'resume',
  'seek',
  'next',
  'previous',
  'shuffle',
  'repeat',
  'queue.add',
  'quality',
  'volume',
  'transfer',
  'progress',
  'ended',
  'logout',
  'ping',
] as const satisfies readonly ClientFrameType[];

// ---------------------------------------------------------------------------------------
// Server -> client
// ---------------------------------------------------------------------------------------

export interface DeviceState {
  id: string;
  name: string;
  type: DeviceType;
  volume_percent: number;
  connected: boolean;
}

/**
 * Playback position as an anchor: at server time `at` the position was `position_ms`. While
 * `is_playing`, the current position is `position_ms + (now - at)` (clamped to the duration);
 * while paused it is `position_ms`.
 */
export interface PositionAnchor {
  position_ms: number;
  at: number;
}

/** Where an upcoming track comes from: the user queue, the context, or autoplay (radio). */
export const QUEUE_SOURCES = ['queue', 'context', 'autoplay'] as const;
export type QueueSource = (typeof QUEUE_SOURCES)[number];

export interface UpcomingTrack {
  track: TrackMeta;
  source: QueueSource;
}

/**
 * The whole session state, as every device of the user sees it. `version` increases by one
 * with every change inside one `epoch`; a device applies a snapshot only if its version is
 * newer than the one it holds (same epoch) or its epoch differs.
 */
export interface SessionState {
  version: number;
  epoch: string;
  devices: DeviceState[];
  active_device_id: string | null;
  is_playing: boolean;
  /** The current track, or null when nothing is loaded. */
  track: TrackMeta | null;
  /** Id of the current play (one per start of a track); null when nothing is loaded. */
  play_id: string | null;
  position: PositionAnchor;
  shuffle: boolean;
  repeat: RepeatMode;
  quality: Quality;
  /** The context uri being played (`spotify:playlist:ID`, ...), null for none or an ad-hoc uri list. */
  context_uri: string | null;
  /** The next tracks in the order they will really play (user queue, context, autoplay); a preview, a few items. */
  next_tracks: UpcomingTrack[];
}

/** Answer to `hello`: the full state. `resumed` says whether the resume point was honoured. */
export interface WelcomeFrame {
  t: 'welcome';
  /** The `hello` id. */
  id: number;
  protocol: number;
  /** Server clock at sending, so the client can estimate its offset. */
  server_time: number;
  resumed: boolean;
  state: SessionState;
}

/** Sent to every device of the user after every change. */
export interface StateFrame {
  t: 'state';
  state: SessionState;
}

export interface ChunkTable {
  count: number;
  /** Nominal duration of every chunk but the last. */
  duration_ms: number;
  /** Byte size of each chunk at this frame's bitrate; `sizes.length === count`. */
  sizes: number[];
}

export interface FirstChunk {
  url: string;
  bitrate_kbps: number;
  /** Init segment for the start bitrate (fMP4); null for self-contained chunks. */
  init_url: string | null;
}

/** Sample counts to trim for gapless playback (encoder priming and tail padding). */
export interface GaplessInfo {
  encoder_delay_samples: number;
  padding_samples: number;
  sample_rate: number;
}

export interface Loudness {
  /** ReplayGain-style track gain and peak (linear, 1.0 = full scale). */
  track_gain_db: number;
  track_peak: number;
}

/**
 * What the active device needs to play a track: metadata, encoding, chunk table, signed URLs.
 * A second `playback` with the same `play_id` renews the URLs of a track still playing (the
 * device swaps URLs and keeps playing; it does not restart).
 */
export interface PlaybackFrame {
  t: 'playback';
  play_id: string;
  track: TrackMeta;
  codec: string;
  mime: string;
  bitrate_kbps: number;
  chunks: ChunkTable;
  /** Init segment at `bitrate_kbps` (fMP4); null for self-contained chunks. */
  init_url: string | null;
  /** One signed URL per chunk at `bitrate_kbps`; `urls.length === chunks.count`. */
  urls: string[];
  /** The first chunk at the low start bitrate so audio starts at once. */
  first_chunk: FirstChunk;
  /** When the signed URLs stop working (server epoch ms). */
  expires_at: number;
  gapless: GaplessInfo;
  loudness: Loudness;
  /** Where to start in the track. */
  position_ms: number;
  is_playing: boolean;
}

export interface PrefetchItem {
  track_id: string;
  /** 1 = the next track to play, 2 = the one after. Never more than 2. */
  position: number;
  bitrate_kbps: number;
  /** Signed URLs of the chunks to fetch ahead, from chunk 0: the first chunk, or the first 3. */
  urls: string[];
  init_url: string | null;
  expires_at: number;
}

/**
 * Tells the active device what to fetch ahead. Replaces any earlier prefetch list; `after_play_id`
 * is the play it follows, so a device drops a prefetch that arrives for a play already left.
 */
export interface PrefetchFrame {
  t: 'prefetch';
  after_play_id: string | null;
  items: PrefetchItem[];
}

export const WARNING_CODES = ['bandwidth_insufficient', 'quality_capped', 'track_skipped'] as const;
/**
 * - bandwidth_insufficient: the measured bandwidth cannot sustain the quality setting; the
 *   track plays at a lower bitrate (`bitrate_kbps`) instead of silently degrading.
 * - quality_capped: the plan caps the bitrate below the quality setting.
 * - track_skipped: a track of the context was skipped (e.g. not playable in the country).
 */
export type WarningCode = (typeof WARNING_CODES)[number];

export interface WarningFrame {
  t: 'warning';
  code: WarningCode;
  message: string;
  play_id?: string;
  track_id?: string;
  bitrate_kbps?: number;
}

export interface AckFrame {
  t: 'ack';
  id: number;
}

/**
 * A refused request (with its `id`) or a problem with a frame whose id could not be read
 * (no `id`). `code` is one of errors.ts ERROR_CODES; `reason` narrows it (e.g. forbidden /
 * region_blocked); `message` is for humans. `retry_after_ms` comes with `rate_limited`.
 */
export interface ErrorFrame {
  t: 'error';
  id?: number;
  code: string;
  reason?: string;
  message: string;
  retry_after_ms?: number;
}

export interface PongFrame {
  t: 'pong';
  id: number;
  server_time: number;
}

export type ServerFrame =
  | WelcomeFrame
  | StateFrame
  | PlaybackFrame
  | PrefetchFrame
  | WarningFrame
  | AckFrame
  | ErrorFrame
  | PongFrame;

export type ServerFrameType = ServerFrame['t'];

export const SERVER_FRAME_TYPES = [
  'welcome',
  'state',
  'playback',
  'prefetch',
  'warning',
  'ack',
  'error',
  'pong',
] as const satisfies readonly ServerFrameType[];

export type Frame = ClientFrame | ServerFrame;

/** The frame of type `T` of a union. */
export type FrameOf<U extends { t: string }, T extends U['t']> = Extract<U, { t: T }>;

// Compile-time proof that the tag lists above name every frame type.
type MissingTags<U extends string, L extends readonly string[]> = Exclude<U, L[number]>;
const clientTagsComplete: [MissingTags<ClientFrameType, typeof CLIENT_FRAME_TYPES>] extends [never]
  ? true
  : false = true;
const serverTagsComplete: [MissingTags<ServerFrameType, typeof SERVER_FRAME_TYPES>] extends [never]
  ? true
  : false = true;
void clientTagsComplete;
void serverTagsComplete;
