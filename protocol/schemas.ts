/**
 * The wire protocol's one source: a TypeBox schema (a plain JSON Schema object) for every
 * frame and every value a frame carries, and the constant tables behind its enums. The
 * TypeScript types in messages.ts are derived from these with `Static<>`; the validators in
 * validate.ts are compiled from them. Change a frame here and both follow.
 *
 * Rules:
 *   - client frames are bounded: ids are uint32, strings have a max length, lists a max
 *     count, numbers are finite and non-negative where negative is meaningless;
 *   - unknown fields are ignored, not refused (a newer peer may add optional fields without
 *     a version bump, see version.ts);
 *   - server frames are checked only for shape (the server is trusted for bounds).
 *
 * TypeBox won the measurement in loadtest/schema-candidates.bench.ts (see protocol/README.md).
 */
import Type, { type Static, type TSchema } from 'typebox';
import { CONTEXT_URI_PATTERN, TRACK_URI_PATTERN } from './uris.ts';
import { MAX_PLAY_URIS, MAX_STRING_LENGTH, MAX_TOKEN_LENGTH } from './version.ts';

// ---- constant tables ------------------------------------------------------------------

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

export const REPEAT_MODES = ['off', 'context', 'track'] as const;

/** Quality settings; their bitrates are the session's policy (actors/config.ts QUALITY_KBPS). */
export const QUALITIES = ['low', 'normal', 'high', 'very_high'] as const;

/** Where an upcoming track comes from: the user queue, the context, or autoplay (radio). */
export const QUEUE_SOURCES = ['queue', 'context', 'autoplay'] as const;

/**
 * - bandwidth_insufficient: the measured bandwidth cannot sustain the quality setting; the
 *   track plays at a lower bitrate (`bitrate_kbps`) instead of silently degrading.
 * - quality_capped: the plan caps the bitrate below the quality setting.
 * - track_skipped: a track of the context was skipped (e.g. not playable in the country).
 */
export const WARNING_CODES = [
  'bandwidth_insufficient',
  'quality_capped',
  'track_skipped',
  'autoplay_unavailable',
] as const;

// ---- building blocks ------------------------------------------------------------------

const UINT32_MAX = 0xffff_ffff;
/** Request id: an unsigned 32-bit integer. */
const RequestId = Type.Integer({ minimum: 0, maximum: UINT32_MAX });
/** Milliseconds (durations, positions): a non-negative integer. */
const Millis = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
/** Any non-negative finite number (rates). */
const NonNegative = Type.Number({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });
const Name = Type.String({ minLength: 1, maxLength: MAX_STRING_LENGTH });
const TrackUri = Type.String({ maxLength: MAX_STRING_LENGTH, pattern: TRACK_URI_PATTERN.source });
const ContextUri = Type.String({ maxLength: MAX_STRING_LENGTH, pattern: CONTEXT_URI_PATTERN.source });

const DeviceTypeEnum = Type.Enum(DEVICE_TYPES);
const RepeatModeEnum = Type.Enum(REPEAT_MODES);
const QualityEnum = Type.Enum(QUALITIES);
const QueueSourceEnum = Type.Enum(QUEUE_SOURCES);
const WarningCodeEnum = Type.Enum(WARNING_CODES);

/** A request frame `{ t, id, ...fields }`. */
function request<const T extends string, P extends Type.TProperties>(t: T, fields: P) {
  return Type.Object({ t: Type.Literal(t), id: RequestId, ...fields });
}

// ---- client -> server -----------------------------------------------------------------

export const ResumePointSchema = Type.Object({
  version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  epoch: Type.String({ minLength: 1, maxLength: MAX_STRING_LENGTH }),
});

export const DeviceHelloSchema = Type.Object({ id: Name, name: Name, type: DeviceTypeEnum });

export const PlayOffsetSchema = Type.Union([
  Type.Object({ index: Type.Integer({ minimum: 0, maximum: UINT32_MAX }) }),
  Type.Object({ uri: TrackUri }),
]);

export const HelloSchema = request('hello', {
  // Missing or empty passes the schema on purpose: the server answers it as a token problem
  // (unauthorized/token_missing + close 4500), as it does a bad one, not as a bad field.
  /** Signed session token (JWT); missing or empty is refused with `token_missing` + close 4500. */
  token: Type.Optional(Type.String({ maxLength: MAX_TOKEN_LENGTH })),
  device: DeviceHelloSchema,
  /** The protocol version the client speaks (see version.ts). */
  protocol: Type.Integer({ minimum: 0, maximum: UINT32_MAX }),
  resume: Type.Optional(ResumePointSchema),
});

export const PlaySchema = request('play', {
  context: Type.Optional(ContextUri),
  uris: Type.Optional(Type.Array(TrackUri, { minItems: 1, maxItems: MAX_PLAY_URIS })),
  offset: Type.Optional(PlayOffsetSchema),
  position_ms: Type.Optional(Millis),
});

export const PauseSchema = request('pause', {});
export const ResumeSchema = request('resume', {});
export const SeekSchema = request('seek', { position_ms: Millis });
export const NextSchema = request('next', {});
export const PreviousSchema = request('previous', {});
export const ShuffleSchema = request('shuffle', { on: Type.Boolean() });
export const RepeatSchema = request('repeat', { mode: RepeatModeEnum });
export const QueueAddSchema = request('queue.add', { uri: TrackUri });
export const QualitySchema = request('quality', { quality: QualityEnum });
export const VolumeSchema = request('volume', {
  percent: Type.Integer({ minimum: 0, maximum: 100 }),
  device_id: Type.Optional(Name),
});
export const TransferSchema = request('transfer', {
  device_id: Name,
  play: Type.Optional(Type.Boolean()),
});
export const ProgressSchema = request('progress', {
  play_id: Name,
  position_ms: Millis,
  buffered_ms: Millis,
  bandwidth_kbps: NonNegative,
});
export const EndedSchema = request('ended', { play_id: Name });
export const LogoutSchema = request('logout', {});
export const PingSchema = request('ping', {});

/**
 * Every client frame, keyed by its type tag: the list of client frame types. A frame added
 * here is validated, typed (messages.ts ClientFrame) and covered by the tests that walk
 * every client frame type, with nothing else to update.
 */
export const CLIENT_SCHEMAS = {
  hello: HelloSchema,
  play: PlaySchema,
  pause: PauseSchema,
  resume: ResumeSchema,
  seek: SeekSchema,
  next: NextSchema,
  previous: PreviousSchema,
  shuffle: ShuffleSchema,
  repeat: RepeatSchema,
  'queue.add': QueueAddSchema,
  quality: QualitySchema,
  volume: VolumeSchema,
  transfer: TransferSchema,
  progress: ProgressSchema,
  ended: EndedSchema,
  logout: LogoutSchema,
  ping: PingSchema,
} as const;

// ---- server -> client -----------------------------------------------------------------

const Str = Type.String();
const Int = Type.Integer();
const Num = Type.Number();
const Nullable = <S extends TSchema>(s: S) => Type.Union([s, Type.Null()]);

export const TrackMetaSchema = Type.Object({
  id: Str,
  title: Str,
  artist: Str,
  album: Str,
  duration_ms: Int,
});

export const DeviceStateSchema = Type.Object({
  id: Str,
  name: Str,
  type: DeviceTypeEnum,
  volume_percent: Int,
  connected: Type.Boolean(),
});

/**
 * Playback position as an anchor: at server time `at` the position was `position_ms`. While
 * `is_playing`, the current position is `position_ms + (now - at)` (clamped to the duration);
 * while paused it is `position_ms`.
 */
const PositionAnchorSchema = Type.Object({ position_ms: Int, at: Int });

export const UpcomingTrackSchema = Type.Object({ track: TrackMetaSchema, source: QueueSourceEnum });

export const SessionStateSchema = Type.Object({
  version: Int,
  epoch: Str,
  devices: Type.Array(DeviceStateSchema),
  active_device_id: Nullable(Str),
  is_playing: Type.Boolean(),
  /** The current track, or null when nothing is loaded. */
  track: Nullable(TrackMetaSchema),
  /** Id of the current play (one per start of a track); null when nothing is loaded. */
  play_id: Nullable(Str),
  position: PositionAnchorSchema,
  shuffle: Type.Boolean(),
  repeat: RepeatModeEnum,
  quality: QualityEnum,
  /** The context uri being played (`spotify:playlist:ID`, ...), null for none or an ad-hoc uri list. */
  context_uri: Nullable(Str),
  /**
   * The next tracks in the order they will really play (user queue, context, autoplay),
   * past the tracks the listener may not play; a preview, a few items.
   */
  next_tracks: Type.Array(UpcomingTrackSchema),
  /**
   * The effective bitrate, kbps: the current play's, else what a play started now gets
   * (the quality setting, capped by the plan and the measured bandwidth). Optional for
   * older servers; this one always sends it.
   */
  bitrate_kbps: Type.Optional(Int),
});

export const WelcomeSchema = Type.Object({
  t: Type.Literal('welcome'),
  /** The `hello` id. */
  id: Int,
  protocol: Int,
  /** Server clock at sending, so the client can estimate its offset. */
  server_time: Int,
  resumed: Type.Boolean(),
  state: SessionStateSchema,
});

export const StateSchema = Type.Object({ t: Type.Literal('state'), state: SessionStateSchema });

export const ChunkTableSchema = Type.Object({
  count: Int,
  /** Nominal duration of every chunk but the last. */
  duration_ms: Int,
  /** Byte size of each chunk at this frame's bitrate; `sizes.length === count`. */
  sizes: Type.Array(Int),
});

export const FirstChunkSchema = Type.Object({
  url: Str,
  bitrate_kbps: Int,
  /** Init segment for the start bitrate (fMP4); null for self-contained chunks. */
  init_url: Nullable(Str),
});

export const GaplessInfoSchema = Type.Object({
  encoder_delay_samples: Int,
  padding_samples: Int,
  sample_rate: Int,
});

export const LoudnessSchema = Type.Object({
  /** ReplayGain-style track gain and peak (linear, 1.0 = full scale). */
  track_gain_db: Num,
  track_peak: Num,
});

export const PlaybackSchema = Type.Object({
  t: Type.Literal('playback'),
  play_id: Str,
  track: TrackMetaSchema,
  codec: Str,
  mime: Str,
  bitrate_kbps: Int,
  chunks: ChunkTableSchema,
  /** Init segment at `bitrate_kbps` (fMP4); null for self-contained chunks. */
  init_url: Nullable(Str),
  /** One signed URL per chunk at `bitrate_kbps`; `urls.length === chunks.count`. */
  urls: Type.Array(Str),
  /** The first chunk at the low start bitrate so audio starts at once. */
  first_chunk: FirstChunkSchema,
  /** When the signed URLs stop working (server epoch ms). */
  expires_at: Int,
  gapless: GaplessInfoSchema,
  loudness: LoudnessSchema,
  /** Where to start in the track. */
  position_ms: Int,
  is_playing: Type.Boolean(),
});

const PrefetchItemSchema = Type.Object({
  track_id: Str,
  /** 1 = the next track to play, 2 = the one after. Never more than 2. */
  position: Int,
  bitrate_kbps: Int,
  /** Signed URLs of the chunks to fetch ahead, from chunk 0: the first chunk, or the first 3. */
  urls: Type.Array(Str),
  init_url: Nullable(Str),
  expires_at: Int,
});

export const PrefetchSchema = Type.Object({
  t: Type.Literal('prefetch'),
  after_play_id: Nullable(Str),
  items: Type.Array(PrefetchItemSchema, { maxItems: 2 }),
});

export const WarningSchema = Type.Object({
  t: Type.Literal('warning'),
  code: WarningCodeEnum,
  message: Str,
  play_id: Type.Optional(Str),
  track_id: Type.Optional(Str),
  bitrate_kbps: Type.Optional(Int),
  /** track_skipped: why the track was passed over (an `error` reason: `region_blocked`, `not_found`...). */
  reason: Type.Optional(Str),
});

export const AckSchema = Type.Object({ t: Type.Literal('ack'), id: Int });

export const ErrorSchema = Type.Object({
  t: Type.Literal('error'),
  id: Type.Optional(Int),
  code: Str,
  reason: Type.Optional(Str),
  message: Str,
  retry_after_ms: Type.Optional(Int),
});

export const PongSchema = Type.Object({ t: Type.Literal('pong'), id: Int, server_time: Int });

/** Every server frame, keyed by its type tag. */
export const SERVER_SCHEMAS = {
  welcome: WelcomeSchema,
  state: StateSchema,
  playback: PlaybackSchema,
  prefetch: PrefetchSchema,
  warning: WarningSchema,
  ack: AckSchema,
  error: ErrorSchema,
  pong: PongSchema,
} as const;

// ---- compile-time proof: each table key is its schema's `t` ----------------------------

type KeyIsTag<M extends Record<string, TSchema>> = {
  [K in keyof M]: Static<M[K]> extends { t: K } ? true : false;
}[keyof M];
const clientKeysAreTags: KeyIsTag<typeof CLIENT_SCHEMAS> = true;
const serverKeysAreTags: KeyIsTag<typeof SERVER_SCHEMAS> = true;
void clientKeysAreTags;
void serverKeysAreTags;
