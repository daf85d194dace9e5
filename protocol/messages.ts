/**
 * Every frame of the wire protocol, as TypeScript types derived from the schemas of
 * schemas.ts (`Static<>`): the schemas are the one source, these names are how the rest of
 * the tree speaks of them.
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
 * protocol/README.md documents every frame with an example.
 */
import type { Static, TSchema } from 'typebox';
import {
  CLIENT_SCHEMAS,
  SERVER_SCHEMAS,
  type DEVICE_TYPES,
  type QUALITIES,
  type QUEUE_SOURCES,
  type REPEAT_MODES,
  type WARNING_CODES,
  type AckSchema,
  type ChunkTableSchema,
  type DeviceHelloSchema,
  type DeviceStateSchema,
  type EndedSchema,
  type ErrorSchema,
  type FirstChunkSchema,
  type GaplessInfoSchema,
  type HelloSchema,
  type LoudnessSchema,
  type LogoutSchema,
  type NextSchema,
  type PauseSchema,
  type PingSchema,
  type PlaybackSchema,
  type PlayOffsetSchema,
  type PlaySchema,
  type PongSchema,
  type PrefetchSchema,
  type PreviousSchema,
  type ProgressSchema,
  type QualitySchema,
  type QueueAddSchema,
  type RepeatSchema,
  type ResumePointSchema,
  type ResumeSchema,
  type SeekSchema,
  type SessionStateSchema,
  type ShuffleSchema,
  type StateSchema,
  type TrackMetaSchema,
  type TransferSchema,
  type UpcomingTrackSchema,
  type VolumeSchema,
  type WarningSchema,
  type WelcomeSchema,
} from './schemas.ts';

export { DEVICE_TYPES, QUALITIES, QUEUE_SOURCES, REPEAT_MODES, WARNING_CODES } from './schemas.ts';

// ---------------------------------------------------------------------------------------
// Shared value types
// ---------------------------------------------------------------------------------------

/** A catalog uri: `spotify:track:ID`, `spotify:album:ID`, `spotify:playlist:ID`, `spotify:artist:ID`. */
export type Uri = string;

export type DeviceType = (typeof DEVICE_TYPES)[number];
export type RepeatMode = (typeof REPEAT_MODES)[number];

/** Quality settings (nominal bitrates: low 24 kbps, normal 96, high 160, very_high 320). */
export type Quality = (typeof QUALITIES)[number];

/**
 * Where a device last was in the session's state stream. `version` is the `state.version` it
 * last applied, `epoch` the `state.epoch` it came with. The epoch changes whenever versions
 * restart (a new actor incarnation, e.g. after a restore), so a version from another epoch is
 * meaningless. The server answers a resume with `welcome`: `resumed: true` when it could
 * continue from that point, `resumed: false` (a full snapshot to replace everything) on a gap
 * or an epoch mismatch; never a silent skip.
 */
export type ResumePoint = Static<typeof ResumePointSchema>;

/** What a device says about itself in `hello`. `id` is stable per installation. */
export type DeviceHello = Static<typeof DeviceHelloSchema>;

/** Start offset inside a context: a position in its order, or the uri of one of its tracks. */
export type PlayOffset = Static<typeof PlayOffsetSchema>;

/** Track metadata carried by state, playback and queue previews. */
export type TrackMeta = Static<typeof TrackMetaSchema>;

// ---------------------------------------------------------------------------------------
// Client -> server
// ---------------------------------------------------------------------------------------

/** First frame of every connection. Answered by `welcome` or by `error` + close. */
export type HelloFrame = Static<typeof HelloSchema>;

/**
 * Start playing. Exactly one of `context` (a playlist/album/artist uri) or `uris` (a list of
 * track uris to play as an ad-hoc context). `offset` picks the first track (default: the
 * first, or a shuffled first when shuffle is on); `position_ms` where to start in it.
 */
export type PlayFrame = Static<typeof PlaySchema>;
export type PauseFrame = Static<typeof PauseSchema>;
export type ResumeFrame = Static<typeof ResumeSchema>;
/** This device logs out: its play ends (`logout`), then the socket closes with 4503 after the ack. */
export type LogoutFrame = Static<typeof LogoutSchema>;
export type SeekFrame = Static<typeof SeekSchema>;
export type NextFrame = Static<typeof NextSchema>;
/** Previous track; restarts the current one when more than 3 s have played. */
export type PreviousFrame = Static<typeof PreviousSchema>;
export type ShuffleFrame = Static<typeof ShuffleSchema>;
export type RepeatFrame = Static<typeof RepeatSchema>;
/** Adds a track to the user queue (plays before the context continues). */
export type QueueAddFrame = Static<typeof QueueAddSchema>;
export type QualityFrame = Static<typeof QualitySchema>;
/** Volume in percent (0-100) of `device_id`, or of the sending device when absent. */
export type VolumeFrame = Static<typeof VolumeSchema>;
/** Moves playback to `device_id` at the current position; `play` forces playing (true) or paused (false), default: unchanged. */
export type TransferFrame = Static<typeof TransferSchema>;
/**
 * Playback report from the active device (typically every few seconds): its position in
 * the play `play_id`, how much audio it has buffered ahead, and the bandwidth it measured.
 */
export type ProgressFrame = Static<typeof ProgressSchema>;
/** The active device finished playing `play_id` to its end. */
export type EndedFrame = Static<typeof EndedSchema>;
/** Keep-alive and clock probe; answered by `pong` with the same id. */
export type PingFrame = Static<typeof PingSchema>;

/** The frames of a schema table, as one union. */
type FramesOf<M extends Record<string, TSchema>> = { [K in keyof M]: Static<M[K]> }[keyof M];

/** Every client frame: one member per entry of schemas.ts CLIENT_SCHEMAS. */
export type ClientFrame = FramesOf<typeof CLIENT_SCHEMAS>;
export type ClientFrameType = ClientFrame['t'];
/** Every client frame type, in the order of CLIENT_SCHEMAS. */
export const CLIENT_FRAME_TYPES = Object.keys(CLIENT_SCHEMAS) as readonly ClientFrameType[];

// ---------------------------------------------------------------------------------------
// Server -> client
// ---------------------------------------------------------------------------------------

export type DeviceState = Static<typeof DeviceStateSchema>;

/** Where an upcoming track comes from: the user queue, the context, or autoplay (radio). */
export type QueueSource = (typeof QUEUE_SOURCES)[number];
export type UpcomingTrack = Static<typeof UpcomingTrackSchema>;

/**
 * The whole session state, as every device of the user sees it. `version` increases by one
 * with every change inside one `epoch`; a device applies a snapshot only if its version is
 * newer than the one it holds (same epoch) or its epoch differs.
 */
export type SessionState = Static<typeof SessionStateSchema>;

/** Answer to `hello`: the full state. `resumed` says whether the resume point was honoured. */
export type WelcomeFrame = Static<typeof WelcomeSchema>;
/** Sent to every device of the user after every change. */
export type StateFrame = Static<typeof StateSchema>;

export type ChunkTable = Static<typeof ChunkTableSchema>;
export type FirstChunk = Static<typeof FirstChunkSchema>;
/** Sample counts to trim for gapless playback (encoder priming and tail padding). */
export type GaplessInfo = Static<typeof GaplessInfoSchema>;
export type Loudness = Static<typeof LoudnessSchema>;

/**
 * What the active device needs to play a track: metadata, encoding, chunk table, signed URLs.
 * A second `playback` with the same `play_id` renews the URLs of a track still playing (the
 * device swaps URLs and keeps playing; it does not restart).
 */
export type PlaybackFrame = Static<typeof PlaybackSchema>;

/**
 * Tells the active device what to fetch ahead. Replaces any earlier prefetch list; `after_play_id`
 * is the play it follows, so a device drops a prefetch that arrives for a play already left.
 */
export type PrefetchFrame = Static<typeof PrefetchSchema>;

/** See schemas.ts WARNING_CODES for what each means. */
export type WarningCode = (typeof WARNING_CODES)[number];
export type WarningFrame = Static<typeof WarningSchema>;

export type AckFrame = Static<typeof AckSchema>;

/**
 * A refused request (with its `id`) or a problem with a frame whose id could not be read
 * (no `id`). `code` is one of errors.ts ERROR_CODES; `reason` narrows it (e.g. forbidden /
 * region_blocked); `message` is for humans. `retry_after_ms` comes with `rate_limited`.
 */
export type ErrorFrame = Static<typeof ErrorSchema>;

export type PongFrame = Static<typeof PongSchema>;

/** Every server frame: one member per entry of schemas.ts SERVER_SCHEMAS. */
export type ServerFrame = FramesOf<typeof SERVER_SCHEMAS>;
export type ServerFrameType = ServerFrame['t'];
/** Every server frame type, in the order of SERVER_SCHEMAS. */
export const SERVER_FRAME_TYPES = Object.keys(SERVER_SCHEMAS) as readonly ServerFrameType[];

export type Frame = ClientFrame | ServerFrame;

/** The frame of type `T` of a union. */
export type FrameOf<U extends { t: string }, T extends U['t']> = Extract<U, { t: T }>;
