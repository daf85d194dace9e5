/**
 * The Spotify Web API player endpoints (`/v1/me/player...`), answered by the listener's
 * session actor through the player door (player-door.ts): a command is answered once the
 * actor has applied it, in order with the devices' own commands, and every answer carries
 * the state version it produced (`Player-State-Version`).
 *
 * Errors are Spotify's body, `{"error": {"status", "message", "reason"}}` with its player
 * reasons (NO_ACTIVE_DEVICE, PREMIUM_REQUIRED, NO_NEXT_TRACK, ALREADY_PAUSED, NOT_PAUSED,
 * NOT_PLAYING_TRACK, UNKNOWN...), plus our stable `code`. Commands need a premium plan, as on
 * Spotify; every player route is rate limited per listener (429 with Retry-After).
 *
 * Extensions (Spotify lacks them; its users ask, spotify/web-api #462, #1388, #492, #1127):
 * queue removal, reorder and clear (`DELETE` and `PUT /v1/me/player/queue`), `min_version` on `GET /v1/me/player` (wait, bounded, until the state
 * has reached it), and the Server-Sent Events stream (player-events.ts).
 */
import { Type } from 'typebox';
import type { ErrorOutput, SessionView } from '../../actors/types.ts';
import { CONTEXT_URI_PATTERN, TRACK_URI_PATTERN } from '../../protocol/uris.ts';
import { TokenBucket } from '../rate-limit.ts';
import { route, type ApiResponse, type ApiRoute, type RouteContext } from './api-router.ts';
import type { DoorCommand, PlayerDoor } from './player-door.ts';
import { PLAYER_EVENTS_PATH } from './player-events.ts';
import {
  Devices,
  deviceObject,
  hasNext,
  PlaybackState,
  playbackState,
  QueueObject,
  reachableDevices,
  webTrack,
  type TrackInfo,
} from './player-objects.ts';

/** The header every player answer carries: the listener's state version after the request. */
const STATE_VERSION_HEADER = 'player-state-version';

export interface PlayerApiConfig {
  /** Requests per second per listener, and the burst, over every player route. */
  rateLimit: { rate: number; burst: number };
  /** Longest wait of `GET /v1/me/player?min_version=N`. */
  maxWaitMs: number;
}

export const DEFAULT_PLAYER_API_CONFIG: PlayerApiConfig = {
  rateLimit: { rate: 20, burst: 40 },
  maxWaitMs: 5_000,
};

export interface PlayerApiDeps {
  door: PlayerDoor;
  config: PlayerApiConfig;
  /** The per-listener limit, shared with the other Web API routes (`limit.routes`). */
  limit?: ListenerRateLimit;
  /** Track rows by id (the queue's metadata). */
  getTracks(ids: readonly string[]): Promise<Map<string, TrackInfo>>;
  now?: () => number;
}

/** Spotify's player error reasons (its Web API reference, "Player Error Reasons"). */
export type PlayerReason =
  | 'NO_PREV_TRACK'
  | 'NO_NEXT_TRACK'
  | 'NO_SPECIFIC_TRACK'
  | 'ALREADY_PAUSED'
  | 'NOT_PAUSED'
  | 'NOT_PLAYING_TRACK'
  | 'NOT_PLAYING_CONTEXT'
  | 'CONTEXT_DISALLOW'
  | 'RATE_LIMITED'
  | 'DEVICE_NOT_CONTROLLABLE'
  | 'NO_ACTIVE_DEVICE'
  | 'PREMIUM_REQUIRED'
  | 'UNKNOWN';

export class PlayerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly reason?: PlayerReason,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const playerErrorBody = (status: number, code: string, message: string, reason?: string) => ({
  error: { status, code, message, ...(reason ? { reason } : {}) },
});

const noActiveDevice = () =>
  new PlayerError(404, 'not_found', 'Player command failed: No active device found', 'NO_ACTIVE_DEVICE');
const deviceNotFound = (id: string) =>
  new PlayerError(404, 'not_found', `Device not found: ${id.slice(0, 64)}`, 'NO_ACTIVE_DEVICE');

/** Whether the listener's device `id` is connected (no list built: this runs per command). */
const connected = (view: SessionView, id: string): boolean => {
  for (const d of view.devices) if (d.id === id) return d.connected;
  return false;
};

/** The actor's refusal as Spotify's status and reason. */
export function actorError(e: Pick<ErrorOutput, 'code' | 'reason' | 'message'>): PlayerError {
  const m = `Player command failed: ${e.message}`;
  switch (e.code) {
    case 'bad_request':
      return new PlayerError(400, e.code, m);
    case 'forbidden':
      return new PlayerError(
        403,
        e.code,
        m,
        e.reason === 'premium_required' ? 'PREMIUM_REQUIRED' : 'UNKNOWN',
      );
    case 'not_found':
      if (e.reason === 'unknown_device') return new PlayerError(404, e.code, m, 'NO_ACTIVE_DEVICE');
      return new PlayerError(404, e.code, m, 'NO_SPECIFIC_TRACK');
    case 'conflict':
      if (e.reason === 'no_active_device' || e.reason === 'device_offline')
        return new PlayerError(404, 'not_found', m, 'NO_ACTIVE_DEVICE');
      if (e.reason === 'no_previous_track')
        return new PlayerError(403, 'forbidden', 'Player command failed: No previous track', 'NO_PREV_TRACK');
      if (e.reason === 'nothing_playing' || e.reason === 'stale_play')
        return new PlayerError(403, 'forbidden', m, 'NOT_PLAYING_TRACK');
      return new PlayerError(409, e.code, m, 'UNKNOWN');
    case 'rate_limited':
      return new PlayerError(429, e.code, m, 'RATE_LIMITED', { 'retry-after': '1' });
    case 'unauthorized':
      return new PlayerError(401, e.code, m);
    case 'unavailable':
      return new PlayerError(503, e.code, m, 'UNKNOWN');
  }
}

const DeviceQuery = {
  device_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 200,
      description:
        "The id of the device this command is targeting. If not supplied, the user's active device is.",
    }),
  ),
};

const Market = Type.Optional(
  Type.String({
    pattern: '^[A-Z]{2}$',
    description: 'ISO 3166-1 alpha-2; the token’s country wins, as on Spotify',
  }),
);

const ERR = {
  401: 'Bad or expired token (Spotify: re-authenticate)',
  403: 'PREMIUM_REQUIRED: a free listener; or a restriction (ALREADY_PAUSED, NOT_PAUSED, NO_NEXT_TRACK, NO_PREV_TRACK, NOT_PLAYING_TRACK)',
  404: 'NO_ACTIVE_DEVICE: no connected active device, or `device_id` names no connected device',
  429: 'Too many requests from this listener; Retry-After says when to try again',
};
const commandErrors = { 403: ERR[403], 404: ERR[404], 429: ERR[429] };
const readErrors = { 429: ERR[429] };

const NoContent = {
  204: { description: 'Command applied by the session; `Player-State-Version` is the new state version' },
};

/**
 * One token bucket per listener over every Web API route (player, recently played, tracks):
 * past it, 429 with Retry-After, as Spotify's rolling limit answers.
 */
export class ListenerRateLimit {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly limit: PlayerApiConfig['rateLimit']) {}

  /** Takes one request of the listener's budget; a PlayerError 429 when it is spent. */
  admit(userId: string): void {
    let b = this.buckets.get(userId);
    if (!b) {
      // Bounded: a flood of distinct callers must not grow this without end.
      if (this.buckets.size >= 100_000) this.buckets.clear();
      this.buckets.set(userId, (b = new TokenBucket(this.limit.rate, this.limit.burst)));
    }
    if (!b.take()) {
      const retry = String(Math.max(1, Math.ceil(1 / this.limit.rate)));
      throw new PlayerError(429, 'rate_limited', 'API rate limit exceeded', undefined, {
        'retry-after': retry,
      });
    }
  }

  /** The routes with this limit in front of their handlers (for routes built elsewhere). */
  routes(routes: readonly ApiRoute[]): ApiRoute[] {
    return routes.map((r) => ({
      ...r,
      errors: { ...r.errors, 429: ERR[429] },
      handle: async (ctx) => {
        try {
          this.admit(ctx.userId);
        } catch (e) {
          if (!(e instanceof PlayerError)) throw e;
          return { status: e.status, json: playerErrorBody(e.status, e.code, e.message), headers: e.headers };
        }
        return r.handle(ctx);
      },
    }));
  }
}

export function playerRoutes(deps: PlayerApiDeps): ApiRoute[] {
  const { door, config } = deps;
  const now = deps.now ?? Date.now;
  const limit = deps.limit ?? new ListenerRateLimit(config.rateLimit);
  const admit = (userId: string) => limit.admit(userId);

  const versionHeader = (userId: string) => ({ [STATE_VERSION_HEADER]: String(door.version(userId)) });

  /** Runs a handler with the rate limit, and answers a PlayerError with Spotify's body. */
  const guarded =
    <C extends RouteContext<any, any>>(fn: (ctx: C) => Promise<ApiResponse>) =>
    async (ctx: C): Promise<ApiResponse> => {
      try {
        admit(ctx.userId);
        return await fn(ctx);
      } catch (e) {
        if (!(e instanceof PlayerError)) throw e;
        return {
          status: e.status,
          json: playerErrorBody(e.status, e.code, e.message, e.reason),
          headers: { ...versionHeader(ctx.userId), ...e.headers },
        };
      }
    };

  /** The live state, the device the command goes through, and the premium check. */
  function target(ctx: RouteContext<{ device_id?: string }, unknown>): {
    view: SessionView;
    deviceId: string;
  } {
    if (ctx.plan !== 'premium')
      throw new PlayerError(403, 'forbidden', 'Player command failed: Premium required', 'PREMIUM_REQUIRED');
    const view = door.view(ctx.userId);
    if (!view) throw noActiveDevice();
    const wanted = ctx.query.device_id;
    if (wanted !== undefined) {
      if (!connected(view, wanted)) throw deviceNotFound(wanted);
      return { view, deviceId: wanted };
    }
    const active = view.activeDeviceId;
    if (!active || !connected(view, active)) throw noActiveDevice();
    return { view, deviceId: active };
  }

  async function run(userId: string, command: DoorCommand): Promise<ApiResponse> {
    const answer = await door.send(userId, command);
    if (!answer.ok) throw actorError(answer.error);
    return { status: 204, json: undefined, headers: { [STATE_VERSION_HEADER]: String(answer.version) } };
  }

  const command = (
    spec: Omit<Parameters<typeof route>[0], 'handle' | 'ok' | 'errors' | 'tag'> & {
      /** Request checks the schema cannot say: a 400 comes before any device or plan check. */
      check?: (ctx: RouteContext<any, any>) => void;
      act: (ctx: RouteContext<any, any>, t: { view: SessionView; deviceId: string }) => Promise<ApiResponse>;
    },
  ): ApiRoute =>
    route({
      ...spec,
      tag: 'player',
      ok: NoContent,
      errors: commandErrors,
      handle: guarded(async (ctx) => {
        spec.check?.(ctx);
        return spec.act(ctx, target(ctx as never));
      }),
    });

  return [
    route({
      method: 'GET',
      path: '/v1/me/player',
      operationId: 'getPlaybackState',
      tag: 'player',
      summary: 'Playback state: track, progress, active device (204 when nothing is live)',
      description:
        'Spotify\'s "Get Playback State". Extension: `min_version=N` waits (at most ' +
        `${config.maxWaitMs} ms) until the state version reaches N, so a client that sent a ` +
        'command reads the state it made instead of polling. `Player-State-Version` carries the version.',
      query: Type.Object({
        market: Market,
        additional_types: Type.Optional(Type.String({ description: 'ignored: only tracks exist here' })),
        min_version: Type.Optional(
          Type.Integer({ minimum: 0, description: 'wait until the state version reaches this' }),
        ),
      }),
      ok: {
        200: { description: 'the playback state', schema: PlaybackState },
        204: { description: 'no session live, or no active device and nothing loaded' },
      },
      errors: readErrors,
      handle: guarded(async ({ query, userId, baseUrl }) => {
        const view =
          query.min_version !== undefined
            ? await door.waitForVersion(userId, query.min_version, config.maxWaitMs)
            : door.view(userId);
        const headers = versionHeader(userId);
        if (!view || (view.activeDeviceId === null && view.track === null))
          return { status: 204, json: undefined, headers };
        return { status: 200, json: playbackState(view, baseUrl, now()), headers };
      }),
    }),
    route({
      method: 'GET',
      path: PLAYER_EVENTS_PATH,
      operationId: 'playerEvents',
      tag: 'player',
      summary: 'The player state as Server-Sent Events (an extension): each state once, resumable',
      description:
        '`text/event-stream`: `event: state`, `id: <epoch>.<version>`, `data:` the object of ' +
        '`GET /v1/me/player`. The current state first; reconnect with `Last-Event-ID` to get the ' +
        'states missed (or the current one when they are no longer kept). A comment line every 5 s. ' +
        "Auth: the Bearer header, or `?ticket=` from `POST /v1/me/player/events/ticket` (a browser's " +
        'EventSource cannot set headers; the ticket is single-use and short-lived, never the token).',
      ok: { 200: { description: 'the event stream (text/event-stream)' } },
      errors: {},
      // The stream itself is a raw uWS route (player-events.ts), which takes every GET first.
      handle: async () => {
        throw new PlayerError(
          400,
          'bad_request',
          'the event stream answers GET with a Bearer token or a ticket',
        );
      },
    }),
    route({
      method: 'GET',
      path: '/v1/me/player/currently-playing',
      operationId: 'getCurrentlyPlaying',
      tag: 'player',
      summary: 'The track playing now (204 when none)',
      query: Type.Object({
        market: Market,
        additional_types: Type.Optional(Type.String()),
      }),
      ok: {
        200: { description: 'the playback state with its item', schema: PlaybackState },
        204: { description: 'nothing is loaded' },
      },
      errors: readErrors,
      handle: guarded(async ({ userId, baseUrl }) => {
        const view = door.view(userId);
        const headers = versionHeader(userId);
        if (!view?.track) return { status: 204, json: undefined, headers };
        return { status: 200, json: playbackState(view, baseUrl, now()), headers };
      }),
    }),
    route({
      method: 'GET',
      path: '/v1/me/player/devices',
      operationId: 'getDevices',
      tag: 'player',
      summary: "The listener's connected devices, idle ones included (a transfer wakes them)",
      ok: { 200: { description: 'the devices', schema: Devices } },
      errors: readErrors,
      handle: guarded(async ({ userId }) => {
        const view = door.view(userId);
        const devices = view ? reachableDevices(view).map((d) => deviceObject(d, view.activeDeviceId)) : [];
        return { status: 200, json: { devices }, headers: versionHeader(userId) };
      }),
    }),
    route({
      method: 'PUT',
      path: '/v1/me/player',
      operationId: 'transferPlayback',
      tag: 'player',
      summary: 'Transfer playback to another connected device (an idle one wakes)',
      body: Type.Object({
        device_ids: Type.Array(Type.String({ minLength: 1, maxLength: 200 }), {
          minItems: 1,
          maxItems: 1,
          description: 'exactly one device id (Spotify: more than one is a 400)',
        }),
        play: Type.Optional(
          Type.Boolean({ description: 'true: play there; false or absent: keep the play state' }),
        ),
      }),
      ok: NoContent,
      errors: commandErrors,
      handle: guarded(async (ctx) => {
        const to = ctx.body.device_ids[0]!;
        // The device taking over is the sender: no active device is needed for a transfer.
        target({ ...ctx, query: { device_id: to } } as never);
        return run(ctx.userId, {
          type: 'transfer',
          deviceId: to,
          toDeviceId: to,
          ...(ctx.body.play !== undefined ? { play: ctx.body.play } : {}),
        });
      }),
    }),
    route({
      method: 'PUT',
      path: '/v1/me/player/play',
      operationId: 'startPlayback',
      tag: 'player',
      summary: 'Start a context or track list, or resume',
      query: Type.Object(DeviceQuery),
      body: Type.Object({
        context_uri: Type.Optional(
          Type.String({
            pattern: CONTEXT_URI_PATTERN.source,
            description: 'spotify:playlist|album|artist:<id>',
          }),
        ),
        uris: Type.Optional(
          Type.Array(Type.String({ pattern: TRACK_URI_PATTERN.source }), {
            maxItems: 500,
            description: 'track uris',
          }),
        ),
        offset: Type.Optional(
          Type.Object({
            position: Type.Optional(Type.Integer({ minimum: 0 })),
            uri: Type.Optional(Type.String({ pattern: TRACK_URI_PATTERN.source })),
          }),
        ),
        position_ms: Type.Optional(Type.Integer({ minimum: 0 })),
      }),
      bodyRequired: false,
      ok: NoContent,
      errors: commandErrors,
      handle: guarded(async (ctx) => {
        const b = ctx.body;
        if (b.context_uri !== undefined && b.uris !== undefined)
          throw new PlayerError(400, 'bad_request', 'give context_uri or uris, not both');
        const { view, deviceId } = target(ctx);
        const moving = deviceId !== view.activeDeviceId;
        if (b.context_uri === undefined && b.uris === undefined) {
          // Resume, where the play is or on the device named.
          if (moving)
            return run(ctx.userId, { type: 'transfer', deviceId, toDeviceId: deviceId, play: true });
          if (view.position.playing && view.track)
            throw new PlayerError(
              403,
              'forbidden',
              'Player command failed: Restriction violated',
              'NOT_PAUSED',
            );
          if (b.position_ms !== undefined) {
            const seek = await door.send(ctx.userId, { type: 'seek', deviceId, positionMs: b.position_ms });
            if (!seek.ok) throw actorError(seek.error);
          }
          return run(ctx.userId, { type: 'resume', deviceId });
        }
        if (moving) {
          // The device named becomes the active one first (paused), then plays what is asked.
          const moved = await door.send(ctx.userId, {
            type: 'transfer',
            deviceId,
            toDeviceId: deviceId,
            play: false,
          });
          if (!moved.ok) throw actorError(moved.error);
        }
        return run(ctx.userId, {
          type: 'play',
          deviceId,
          ...(b.context_uri !== undefined ? { contextUri: b.context_uri.slice('spotify:'.length) } : {}),
          ...(b.uris !== undefined ? { uris: b.uris.map((u) => u.slice('spotify:'.length)) } : {}),
          ...(b.offset?.position !== undefined
            ? { offset: { index: b.offset.position } }
            : b.offset?.uri !== undefined
              ? { offset: { uri: b.offset.uri.slice('spotify:'.length) } }
              : {}),
          ...(b.position_ms !== undefined ? { positionMs: b.position_ms } : {}),
        });
      }),
    }),
    command({
      method: 'PUT',
      path: '/v1/me/player/pause',
      operationId: 'pausePlayback',
      summary: 'Pause',
      query: Type.Object(DeviceQuery),
      act: async (ctx, { view, deviceId }) => {
        if (!view.position.playing)
          throw new PlayerError(
            403,
            'forbidden',
            'Player command failed: Restriction violated',
            'ALREADY_PAUSED',
          );
        return run(ctx.userId, { type: 'pause', deviceId });
      },
    }),
    command({
      method: 'POST',
      path: '/v1/me/player/next',
      operationId: 'skipToNext',
      summary: 'Skip to the next track',
      query: Type.Object(DeviceQuery),
      act: async (ctx, { view, deviceId }) => {
        if (view.track && !hasNext(view))
          throw new PlayerError(403, 'forbidden', 'Player command failed: No next track', 'NO_NEXT_TRACK');
        return run(ctx.userId, { type: 'next', deviceId });
      },
    }),
    command({
      method: 'POST',
      path: '/v1/me/player/previous',
      operationId: 'skipToPrevious',
      summary: 'Skip to the previous track (or restart this one past its first seconds)',
      description:
        'Past its first 3 s the track restarts, as a device does; ' +
        'before that, with no track before it in the context, 403 `NO_PREV_TRACK` and nothing changes.',
      query: Type.Object(DeviceQuery),
      // Spotify's Web API refuses at the first track where a device's button restarts it.
      act: async (ctx, { deviceId }) => run(ctx.userId, { type: 'previous', deviceId, atFirst: 'refuse' }),
    }),
    command({
      method: 'PUT',
      path: '/v1/me/player/seek',
      operationId: 'seekToPosition',
      summary: 'Seek in the current track',
      query: Type.Object({
        position_ms: Type.Integer({ minimum: 0, description: 'where to go, ms' }),
        ...DeviceQuery,
      }),
      act: async (ctx, { deviceId }) =>
        run(ctx.userId, { type: 'seek', deviceId, positionMs: ctx.query.position_ms as number }),
    }),
    command({
      method: 'PUT',
      path: '/v1/me/player/repeat',
      operationId: 'setRepeatMode',
      summary: 'Set the repeat mode: track, context or off',
      query: Type.Object({
        state: Type.Union([Type.Literal('track'), Type.Literal('context'), Type.Literal('off')]),
        ...DeviceQuery,
      }),
      act: async (ctx, { deviceId }) => run(ctx.userId, { type: 'repeat', deviceId, mode: ctx.query.state }),
    }),
    command({
      method: 'PUT',
      path: '/v1/me/player/shuffle',
      operationId: 'toggleShuffle',
      summary: 'Turn shuffle on or off',
      query: Type.Object({
        state: Type.Union([Type.Literal('true'), Type.Literal('false')]),
        ...DeviceQuery,
      }),
      act: async (ctx, { deviceId }) =>
        run(ctx.userId, { type: 'shuffle', deviceId, on: ctx.query.state === 'true' }),
    }),
    command({
      method: 'PUT',
      path: '/v1/me/player/volume',
      operationId: 'setVolume',
      summary: "Set a device's volume (the active one unless device_id names another)",
      query: Type.Object({ volume_percent: Type.Integer({ minimum: 0, maximum: 100 }), ...DeviceQuery }),
      act: async (ctx, { deviceId }) =>
        run(ctx.userId, {
          type: 'volume',
          deviceId,
          volume: ctx.query.volume_percent as number,
          targetDeviceId: deviceId,
        }),
    }),
    route({
      method: 'GET',
      path: '/v1/me/player/queue',
      operationId: 'getQueue',
      tag: 'player',
      summary: 'The track playing and what plays next: the queue, then the context',
      ok: { 200: { description: 'the queue', schema: QueueObject } },
      errors: readErrors,
      handle: guarded(async ({ userId, baseUrl }) => {
        const view = door.view(userId);
        const headers = versionHeader(userId);
        if (!view)
          return { status: 200, json: { currently_playing: null, queue: [], user_queue_length: 0 }, headers };
        const ids = [...view.queue, ...view.next.filter((id) => !view.queue.includes(id))];
        const rows = await deps.getTracks(ids);
        const known = ids.filter((id) => rows.has(id));
        const queue = known.map((id) => webTrack(rows.get(id)!, baseUrl));
        // An extension: how many of `queue` are the user queue (the rest, what the context
        // plays next), so a client can edit it by index.
        const userQueue = view.queue.filter((id) => rows.has(id)).length;
        return {
          status: 200,
          json: {
            currently_playing: view.track ? webTrack(view.track, baseUrl) : null,
            queue,
            user_queue_length: userQueue,
          },
          headers,
        };
      }),
    }),
    command({
      method: 'POST',
      path: '/v1/me/player/queue',
      operationId: 'addToQueue',
      summary: 'Add a track to the end of the queue',
      query: Type.Object({
        uri: Type.String({ pattern: TRACK_URI_PATTERN.source, description: 'a track uri' }),
        ...DeviceQuery,
      }),
      act: async (ctx, { deviceId }) =>
        run(ctx.userId, {
          type: 'queue.add',
          deviceId,
          uri: (ctx.query.uri as string).slice('spotify:'.length),
        }),
    }),
    command({
      method: 'DELETE',
      path: '/v1/me/player/queue',
      operationId: 'removeFromQueue',
      summary: 'Remove from the queue: one entry by index, every entry of a uri, or all (an extension)',
      description:
        'Exactly one of `index` (0 is the next to play), `uri` (every entry of that track) or ' +
        '`all=true` (clear). With `index`, `expect` (the track the caller saw there) refuses ' +
        'the edit with 409 when the queue changed meanwhile. Spotify has no such call ' +
        '(spotify/web-api #462, #1388).',
      query: Type.Object({
        index: Type.Optional(Type.Integer({ minimum: 0, description: 'the entry, 0-based' })),
        expect: Type.Optional(
          Type.String({ pattern: TRACK_URI_PATTERN.source, description: 'the track at index' }),
        ),
        uri: Type.Optional(Type.String({ pattern: TRACK_URI_PATTERN.source, description: 'a track uri' })),
        all: Type.Optional(Type.Literal('true', { description: 'clear the queue' })),
        ...DeviceQuery,
      }),
      check: (ctx) => {
        const q = ctx.query as { index?: number; uri?: string; all?: 'true'; expect?: string };
        const given = [q.index !== undefined, q.uri !== undefined, q.all !== undefined].filter(
          Boolean,
        ).length;
        if (given !== 1)
          throw new PlayerError(400, 'bad_request', 'query: give exactly one of index, uri, all');
        if (q.expect !== undefined && q.index === undefined)
          throw new PlayerError(400, 'bad_request', 'query: expect goes with index');
      },
      act: async (ctx, { deviceId }) => {
        const q = ctx.query as { index?: number; uri?: string; all?: 'true'; expect?: string };
        const edit =
          q.index !== undefined
            ? {
                op: 'remove' as const,
                index: q.index,
                ...(q.expect ? { expect: q.expect.slice('spotify:'.length) } : {}),
              }
            : q.uri !== undefined
              ? { op: 'remove' as const, uri: q.uri.slice('spotify:'.length) }
              : { op: 'clear' as const };
        return run(ctx.userId, { type: 'queue.edit', deviceId, edit });
      },
    }),
    command({
      method: 'PUT',
      path: '/v1/me/player/queue',
      operationId: 'reorderQueue',
      summary: 'Move one queue entry to another place (an extension)',
      query: Type.Object(DeviceQuery),
      body: Type.Object({
        from: Type.Integer({ minimum: 0, description: 'the entry to move, 0-based' }),
        to: Type.Integer({ minimum: 0, description: 'its index once moved' }),
        expect: Type.Optional(
          Type.String({
            pattern: TRACK_URI_PATTERN.source,
            description: 'the track the caller saw at from: another there now is a 409',
          }),
        ),
      }),
      act: async (ctx, { deviceId }) =>
        run(ctx.userId, {
          type: 'queue.edit',
          deviceId,
          edit: {
            op: 'move',
            from: ctx.body.from,
            to: ctx.body.to,
            ...(ctx.body.expect ? { expect: ctx.body.expect.slice('spotify:'.length) } : {}),
          },
        }),
    }),
  ];
}
