/**
 * Schemas of every frame (TypeBox, i.e. plain JSON Schema objects), mirroring messages.ts.
 * A compile-time check at the bottom proves each schema's static type equals its
 * hand-written type, so the two cannot drift.
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
import {
  DEVICE_TYPES,
  QUALITIES,
  QUEUE_SOURCES,
  REPEAT_MODES,
  WARNING_CODES,
  type AckFrame,
  type ClientFrameType,
  type EndedFrame,
  type ErrorFrame,
  type HelloFrame,
  type NextFrame,
  type PauseFrame,
  type LogoutFrame,
  type PingFrame,
  type PlaybackFrame,
  type PlayFrame,
  type PongFrame,
  type PrefetchFrame,
  type PreviousFrame,
  type ProgressFrame,
  type QualityFrame,
  type QueueAddFrame,
  type RepeatFrame,
  type ResumeFrame,
  type SeekFrame,
  type ServerFrameType,
  type ShuffleFrame,
  type StateFrame,
  type TransferFrame,
  type VolumeFrame,
  type WarningFrame,
  type WelcomeFrame,
} from './messages.ts';
import { CONTEXT_URI_PATTERN, TRACK_URI_PATTERN } from './uris.ts';
import { MAX_PLAY_URIS, MAX_STRING_LENGTH, MAX_TOKEN_LENGTH } from './version.ts';

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

const DeviceType = Type.Enum(DEVICE_TYPES);
const RepeatMode = Type.Enum(REPEAT_MODES);
const Quality = Type.Enum(QUALITIES);

/** A request frame `{ t, id, ...fields }`. */
function request<const T extends string, P extends Type.TProperties>(t: T, fields: P) {
  return Type.Object({ t: Type.Literal(t), id: RequestId, ...fields });
}

// ---- client -> server -----------------------------------------------------------------

export const ResumePointSchema = Type.Object({
  version: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  epoch: Type.String({ minLength: 1, maxLength: MAX_STRING_LENGTH }),
});

export const HelloSchema = request('hello', {
  // Missing or empty passes the schema on purpose: the server answers it as a token problem
  // (unauthorized/token_missing + close 4500), as it does a bad one, not as a bad field.
  token: Type.Optional(Type.String({ maxLength: MAX_TOKEN_LENGTH })),
  device: Type.Object({ id: Name, name: Name, type: DeviceType }),
  protocol: Type.Integer({ minimum: 0, maximum: UINT32_MAX }),
  resume: Type.Optional(ResumePointSchema),
});

export const PlaySchema = request('play', {
  context: Type.Optional(ContextUri),
  uris: Type.Optional(Type.Array(TrackUri, { minItems: 1, maxItems: MAX_PLAY_URIS })),
  offset: Type.Optional(
    Type.Union([
      Type.Object({ index: Type.Integer({ minimum: 0, maximum: UINT32_MAX }) }),
      Type.Object({ uri: TrackUri }),
    ]),
  ),
  position_ms: Type.Optional(Millis),
});

export const PauseSchema = request('pause', {});
export const ResumeSchema = request('resume', {});
export const SeekSchema = request('seek', { position_ms: Millis });
export const NextSchema = request('next', {});
export const PreviousSchema = request('previous', {});
export const ShuffleSchema = request('shuffle', { on: Type.Boolean() });
export const RepeatSchema = request('repeat', { mode: RepeatMode });
export const QueueAddSchema = request('queue.add', { uri: TrackUri });
export const QualitySchema = request('quality', { quality: Quality });
export const VolumeSchema = request('volume', {
  percent: Type.Integer({ minimum: 0, maximum: 100 }),
  device_id: Type.Optional(Name),
});
export const TransferSchema = request('transfer', { device_id: Name, play: Type.Optional(Type.Boolean()) });
export const ProgressSchema = request('progress', {
  play_id: Name,
  position_ms: Millis,
  buffered_ms: Millis,
  bandwidth_kbps: NonNegative,
});
export const EndedSchema = request('ended', { play_id: Name });
export const LogoutSchema = request('logout', {});
export const PingSchema = request('ping', {});

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
} as const satisfies Record<ClientFrameType, TSchema>;

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

export const SessionStateSchema = Type.Object({
  version: Int,
  epoch: Str,
  devices: Type.Array(
    Type.Object({ id: Str, name: Str, type: DeviceType, volume_percent: Int, connected: Type.Boolean() }),
  ),
  active_device_id: Nullable(Str),
  is_playing: Type.Boolean(),
  track: Nullable(TrackMetaSchema),
  play_id: Nullable(Str),
  position: Type.Object({ position_ms: Int, at: Int }),
  shuffle: Type.Boolean(),
  repeat: RepeatMode,
  quality: Quality,
  context_uri: Nullable(Str),
  next_tracks: Type.Array(Type.Object({ track: TrackMetaSchema, source: Type.Enum(QUEUE_SOURCES) })),
});

export const WelcomeSchema = Type.Object({
  t: Type.Literal('welcome'),
  id: Int,
  protocol: Int,
  server_time: Int,
  resumed: Type.Boolean(),
  state: SessionStateSchema,
});

export const StateSchema = Type.Object({ t: Type.Literal('state'), state: SessionStateSchema });

export const PlaybackSchema = Type.Object({
  t: Type.Literal('playback'),
  play_id: Str,
  track: TrackMetaSchema,
  codec: Str,
  mime: Str,
  bitrate_kbps: Int,
  chunks: Type.Object({ count: Int, duration_ms: Int, sizes: Type.Array(Int) }),
  init_url: Nullable(Str),
  urls: Type.Array(Str),
  first_chunk: Type.Object({ url: Str, bitrate_kbps: Int, init_url: Nullable(Str) }),
  expires_at: Int,
  gapless: Type.Object({ encoder_delay_samples: Int, padding_samples: Int, sample_rate: Int }),
  loudness: Type.Object({ track_gain_db: Num, track_peak: Num }),
  position_ms: Int,
  is_playing: Type.Boolean(),
});

export const PrefetchSchema = Type.Object({
  t: Type.Literal('prefetch'),
  after_play_id: Nullable(Str),
  items: Type.Array(
    Type.Object({
      track_id: Str,
      position: Int,
      bitrate_kbps: Int,
      urls: Type.Array(Str),
      init_url: Nullable(Str),
      expires_at: Int,
    }),
    { maxItems: 2 },
  ),
});

export const WarningSchema = Type.Object({
  t: Type.Literal('warning'),
  code: Type.Enum(WARNING_CODES),
  message: Str,
  play_id: Type.Optional(Str),
  track_id: Type.Optional(Str),
  bitrate_kbps: Type.Optional(Int),
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

export const SERVER_SCHEMAS = {
  welcome: WelcomeSchema,
  state: StateSchema,
  playback: PlaybackSchema,
  prefetch: PrefetchSchema,
  warning: WarningSchema,
  ack: AckSchema,
  error: ErrorSchema,
  pong: PongSchema,
} as const satisfies Record<ServerFrameType, TSchema>;

// ---- compile-time proof: schema types == messages.ts types -----------------------------

type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Same<S extends TSchema, T> = Equals<Static<S>, T>;
type Proof = [
  Same<typeof HelloSchema, HelloFrame>,
  Same<typeof PlaySchema, PlayFrame>,
  Same<typeof PauseSchema, PauseFrame>,
  Same<typeof LogoutSchema, LogoutFrame>,
  Same<typeof ResumeSchema, ResumeFrame>,
  Same<typeof SeekSchema, SeekFrame>,
  Same<typeof NextSchema, NextFrame>,
  Same<typeof PreviousSchema, PreviousFrame>,
  Same<typeof ShuffleSchema, ShuffleFrame>,
  Same<typeof RepeatSchema, RepeatFrame>,
  Same<typeof QueueAddSchema, QueueAddFrame>,
  Same<typeof QualitySchema, QualityFrame>,
  Same<typeof VolumeSchema, VolumeFrame>,
  Same<typeof TransferSchema, TransferFrame>,
  Same<typeof ProgressSchema, ProgressFrame>,
  Same<typeof EndedSchema, EndedFrame>,
  Same<typeof PingSchema, PingFrame>,
  Same<typeof WelcomeSchema, WelcomeFrame>,
  Same<typeof StateSchema, StateFrame>,
  Same<typeof PlaybackSchema, PlaybackFrame>,
  Same<typeof PrefetchSchema, PrefetchFrame>,
  Same<typeof WarningSchema, WarningFrame>,
  Same<typeof AckSchema, AckFrame>,
  Same<typeof ErrorSchema, ErrorFrame>,
  Same<typeof PongSchema, PongFrame>,
];
// Any `false` in Proof turns the expected type into `never` and this line fails to compile.
const proof: Proof extends true[] ? true : never = true;
void proof;
