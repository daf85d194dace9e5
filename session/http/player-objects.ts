/**
 * The Spotify Web API's player objects (TrackObject, DeviceObject, ContextObject,
 * CurrentlyPlayingContextObject, QueueObject, PlayHistoryObject) as TypeBox schemas for the
 * OpenAPI description, and the functions that build them from the session's view.
 *
 * Shapes follow Spotify's OpenAPI description (sonallux/spotify-web-api,
 * official-spotify-open-api.yml). Fields the catalog has no value for keep their type with
 * an empty value (README, "Spotify Web API player"): album `images`, `release_date`,
 * `available_markets`, `total_tracks`, `popularity`, `preview_url`, `external_urls`, the
 * hrefs of albums and artists (no such endpoints here).
 */
import { Type, type Static, type TSchema } from 'typebox';
import { governingRights } from '../../actors/entitlement.ts';
import type { DeviceView, Plan, RightsRow, SessionView, TrackRow } from '../../actors/types.ts';
import { trackUri } from '../../protocol/uris.ts';
import { COMPONENTS } from './schemas.ts';

const named = <T extends TSchema>(name: string, schema: T): T => {
  (schema as { title?: string }).title = name;
  COMPONENTS[name] = schema;
  return schema;
};
const Nullable = <T extends TSchema>(s: T) => Type.Union([s, Type.Null()]);
const ExternalUrls = Type.Object({ spotify: Type.Optional(Type.String()) });

const SimplifiedArtist = named(
  'SimplifiedArtistObject',
  Type.Object({
    external_urls: ExternalUrls,
    href: Type.String(),
    id: Type.String(),
    name: Type.String(),
    type: Type.Literal('artist'),
    uri: Type.String(),
  }),
);

const SimplifiedAlbum = named(
  'SimplifiedAlbumObject',
  Type.Object({
    album_type: Type.String(),
    total_tracks: Type.Integer(),
    available_markets: Type.Array(Type.String()),
    external_urls: ExternalUrls,
    href: Type.String(),
    id: Type.String(),
    images: Type.Array(
      Type.Object({ url: Type.String(), height: Nullable(Type.Integer()), width: Nullable(Type.Integer()) }),
    ),
    name: Type.String(),
    release_date: Type.String(),
    release_date_precision: Type.String(),
    type: Type.Literal('album'),
    uri: Type.String(),
    artists: Type.Array(SimplifiedArtist),
  }),
);

export const WebTrack = named(
  'TrackObject',
  Type.Object({
    album: SimplifiedAlbum,
    artists: Type.Array(SimplifiedArtist),
    available_markets: Type.Array(Type.String()),
    disc_number: Type.Integer(),
    duration_ms: Type.Integer(),
    explicit: Type.Boolean(),
    external_ids: Type.Object({ isrc: Type.Optional(Type.String()) }),
    external_urls: ExternalUrls,
    href: Type.String(),
    id: Type.String(),
    is_playable: Type.Optional(Type.Boolean()),
    restrictions: Type.Optional(Type.Object({ reason: Type.String({ description: 'market or product' }) })),
    name: Type.String(),
    popularity: Type.Integer(),
    preview_url: Nullable(Type.String()),
    track_number: Type.Integer(),
    type: Type.Literal('track'),
    uri: Type.String(),
    is_local: Type.Boolean(),
  }),
);

export const DeviceObject = named(
  'DeviceObject',
  Type.Object({
    id: Nullable(Type.String()),
    is_active: Type.Boolean(),
    is_private_session: Type.Boolean(),
    is_restricted: Type.Boolean(),
    name: Type.String(),
    type: Type.String(),
    volume_percent: Nullable(Type.Integer({ minimum: 0, maximum: 100 })),
    supports_volume: Type.Boolean(),
  }),
);

export const Devices = named('ManyDevices', Type.Object({ devices: Type.Array(DeviceObject) }));

const ContextObject = named(
  'ContextObject',
  Type.Object({ type: Type.String(), href: Type.String(), external_urls: ExternalUrls, uri: Type.String() }),
);

const Disallows = named(
  'DisallowsObject',
  Type.Object({
    interrupting_playback: Type.Optional(Type.Boolean()),
    pausing: Type.Optional(Type.Boolean()),
    resuming: Type.Optional(Type.Boolean()),
    seeking: Type.Optional(Type.Boolean()),
    skipping_next: Type.Optional(Type.Boolean()),
    skipping_prev: Type.Optional(Type.Boolean()),
    toggling_repeat_context: Type.Optional(Type.Boolean()),
    toggling_shuffle: Type.Optional(Type.Boolean()),
    toggling_repeat_track: Type.Optional(Type.Boolean()),
    transferring_playback: Type.Optional(Type.Boolean()),
  }),
);

export const PlaybackState = named(
  'CurrentlyPlayingContextObject',
  Type.Object({
    device: DeviceObject,
    repeat_state: Type.Union([Type.Literal('off'), Type.Literal('track'), Type.Literal('context')]),
    shuffle_state: Type.Boolean(),
    context: Nullable(ContextObject),
    timestamp: Type.Integer(),
    progress_ms: Nullable(Type.Integer()),
    is_playing: Type.Boolean(),
    item: Nullable(WebTrack),
    currently_playing_type: Type.String(),
    actions: Disallows,
  }),
);

export const QueueObject = named(
  'QueueObject',
  Type.Object({
    currently_playing: Nullable(WebTrack),
    queue: Type.Array(WebTrack),
    /** An extension: how many entries at the head of `queue` are the user queue. */
    user_queue_length: Type.Optional(Type.Integer({ minimum: 0 })),
  }),
);

export const RecentlyPlayed = named(
  'CursorPagingPlayHistoryObject',
  Type.Object({
    href: Type.String(),
    limit: Type.Integer(),
    next: Nullable(Type.String()),
    cursors: Nullable(Type.Object({ after: Nullable(Type.String()), before: Nullable(Type.String()) })),
    total: Type.Optional(Type.Integer()),
    items: Type.Array(
      Type.Object({
        track: WebTrack,
        played_at: Type.String({ format: 'date-time' }),
        context: Nullable(ContextObject),
      }),
    ),
  }),
);

export const ManyTracks = named('ManyTracks', Type.Object({ tracks: Type.Array(Nullable(WebTrack)) }));

export type WebTrackObject = Static<typeof WebTrack>;

/** A track as much as the catalog knows (isrc and track number when the row has them). */
export interface TrackInfo extends TrackRow {
  isrc?: string;
}

/** Whether `plan` in `country` may play a track with these rights now (Spotify's restriction reasons). */
export function playability(
  rights: readonly RightsRow[],
  country: string,
  plan: Plan,
  now: number,
): { is_playable: boolean; restrictions?: { reason: string } } {
  const row = governingRights(rights, country);
  const market =
    !row ||
    !row.allowed ||
    (row.availableFrom !== undefined && now < row.availableFrom) ||
    (row.availableUntil !== undefined && now >= row.availableUntil);
  if (market) return { is_playable: false, restrictions: { reason: 'market' } };
  if (row.premiumOnly && plan !== 'premium')
    return { is_playable: false, restrictions: { reason: 'product' } };
  return { is_playable: true };
}

export function webTrack(
  t: TrackInfo,
  baseUrl: string,
  playable?: { is_playable: boolean; restrictions?: { reason: string } },
): WebTrackObject {
  const artist = {
    external_urls: {},
    href: '',
    id: t.artistId,
    name: t.artistName,
    type: 'artist' as const,
    uri: `spotify:artist:${t.artistId}`,
  };
  return {
    album: {
      album_type: 'album',
      total_tracks: 0,
      available_markets: [],
      external_urls: {},
      href: '',
      id: t.albumId,
      images: [],
      name: t.albumName,
      release_date: '',
      release_date_precision: '',
      type: 'album',
      uri: `spotify:album:${t.albumId}`,
      artists: [artist],
    },
    artists: [artist],
    available_markets: [],
    disc_number: 1,
    duration_ms: Math.round(t.durationMs),
    explicit: false,
    external_ids: t.isrc ? { isrc: t.isrc } : {},
    external_urls: {},
    href: `${baseUrl}/v1/tracks/${encodeURIComponent(t.id)}`,
    id: t.id,
    ...(playable ?? {}),
    name: t.title,
    popularity: 0,
    preview_url: null,
    track_number: t.trackNumber ?? 0,
    type: 'track',
    uri: trackUri(t.id),
    is_local: false,
  };
}

/** Our device types as Spotify names them (its `type` is capitalised: "Computer", "Smartphone"). */
const DEVICE_TYPE_NAMES: Record<string, string> = {
  computer: 'Computer',
  smartphone: 'Smartphone',
  tablet: 'Tablet',
  speaker: 'Speaker',
  tv: 'TV',
  car: 'Automobile',
  web: 'Computer',
};

export function deviceObject(d: DeviceView, activeId: string | null): Static<typeof DeviceObject> {
  return {
    id: d.id,
    is_active: d.id === activeId,
    is_private_session: false,
    is_restricted: false,
    name: d.name,
    type: DEVICE_TYPE_NAMES[d.type] ?? 'Unknown',
    volume_percent: d.volume,
    supports_volume: true,
  };
}

/** The devices a command can reach now: the connected ones (idle ones included). */
export const reachableDevices = (v: SessionView): DeviceView[] => v.devices.filter((d) => d.connected);

export function contextObject(uri: string | null, baseUrl: string): Static<typeof ContextObject> | null {
  if (!uri) return null;
  const wire = uri.startsWith('spotify:') ? uri : `spotify:${uri}`;
  const [, type = '', id = ''] = wire.split(':');
  return {
    type,
    // Only playlists have an endpoint here.
    href: type === 'playlist' ? `${baseUrl}/v1/playlists/${encodeURIComponent(id)}` : '',
    external_urls: {},
    uri: wire,
  };
}

/** The position now: moves with wall time while playing, never past the track's end. */
export function progressNow(v: SessionView, now: number): number {
  const p = v.position;
  const at = p.positionMs + (p.playing ? Math.max(0, now - p.at) : 0);
  const end = v.track?.durationMs ?? Infinity;
  return Math.max(0, Math.round(Math.min(at, end)));
}

/** Whether `next` has somewhere to go: a next track, or a repeat that loops. */
export const hasNext = (v: SessionView): boolean => v.next.length > 0 || v.repeat !== 'off';

export function playbackState(v: SessionView, baseUrl: string, now: number): Static<typeof PlaybackState> {
  const active = v.devices.find((d) => d.id === v.activeDeviceId);
  const device = active
    ? deviceObject(active, v.activeDeviceId)
    : {
        id: null,
        is_active: false,
        is_private_session: false,
        is_restricted: false,
        name: '',
        type: 'Unknown',
        volume_percent: null,
        supports_volume: false,
      };
  const playing = v.position.playing && v.track !== null;
  return {
    device,
    repeat_state: v.repeat,
    shuffle_state: v.shuffle,
    context: contextObject(v.contextUri, baseUrl),
    timestamp: Math.round(v.position.at),
    progress_ms: v.track ? progressNow(v, now) : null,
    is_playing: playing,
    item: v.track ? webTrack(v.track, baseUrl) : null,
    currently_playing_type: v.track ? 'track' : 'unknown',
    actions: {
      pausing: !playing,
      resuming: playing || v.track === null,
      seeking: v.track === null,
      skipping_next: v.track === null || !hasNext(v),
      skipping_prev: v.track === null,
      toggling_repeat_context: false,
      toggling_repeat_track: false,
      toggling_shuffle: false,
      transferring_playback: false,
      interrupting_playback: false,
    },
  };
}
