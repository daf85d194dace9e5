/**
 * The HTTP API's request and response shapes as TypeBox schemas: the router validates every
 * query and body with them (api-router.ts) and the OpenAPI description is generated from them
 * (openapi.ts), so the document cannot say what the server does not check.
 */
import { Type, type TSchema } from 'typebox';
import { TRACK_URI_PATTERN } from '../../protocol/uris.ts';
import {
  MAX_COLLABORATORS,
  MAX_DESCRIPTION_LENGTH,
  MAX_ID_LENGTH,
  MAX_PLAYLIST_NAME_LENGTH,
  MAX_TRACKS_PER_EDIT,
} from '../../storage/playlists.ts';
import { MAX_PAGE_LIMIT } from '../../storage/playlist-commit.ts';

/**
 * Every named schema by its component name (`#/components/schemas/<name>` in the document).
 * The name goes in the schema's `title`, which TypeBox keeps wherever the schema is nested, so
 * the document generator can refer to it instead of repeating it.
 */
export const COMPONENTS: Record<string, TSchema> = {};
const named = <T extends TSchema>(name: string, schema: T): T => {
  (schema as { title?: string }).title = name;
  COMPONENTS[name] = schema;
  return schema;
};

const UserId = Type.String({ minLength: 1, maxLength: MAX_ID_LENGTH });
const SnapshotId = Type.String({
  pattern: '^\\d{1,15}$',
  description: 'a playlist version returned by this API (`snapshot_id`); edits made on it are rebased',
});
const TrackUri = Type.String({ pattern: TRACK_URI_PATTERN.source, description: '`spotify:track:<id>`' });

export const ErrorBody = named(
  'Error',
  Type.Object({
    error: Type.Object({
      status: Type.Integer({ description: 'the HTTP status again' }),
      code: Type.String({
        description:
          'stable, for programs: bad_request, unauthorized, forbidden, not_found, conflict, unavailable, timeout, internal',
      }),
      reason: Type.Optional(
        Type.String({ description: 'narrows the code (401: token_missing, token_invalid, token_expired)' }),
      ),
      message: Type.String({ description: 'for people; names the field at fault' }),
    }),
  }),
);

// ---- playlists --------------------------------------------------------------------------------

const Artist = Type.Object({
  type: Type.Literal('artist'),
  id: Type.String(),
  name: Type.String(),
  uri: Type.String(),
});
const Album = Type.Object({
  type: Type.Literal('album'),
  id: Type.String(),
  name: Type.String(),
  uri: Type.String(),
});

export const TrackObject = named(
  'Track',
  Type.Object({
    type: Type.Literal('track'),
    id: Type.String(),
    uri: Type.String(),
    name: Type.String(),
    duration_ms: Type.Integer(),
    track_number: Type.Integer(),
    artists: Type.Array(Artist),
    album: Album,
    external_ids: Type.Optional(Type.Object({ isrc: Type.String() })),
  }),
);

const TrackItem = Type.Object({
  added_at: Type.String({ format: 'date-time' }),
  added_by: Type.Object({ type: Type.Literal('user'), id: Type.String() }),
  is_local: Type.Boolean(),
  entry_id: Type.String({ description: 'stable id of this entry, for removal by id' }),
  track: Type.Union([TrackObject, Type.Null()], {
    description: 'null when the catalog no longer has the track',
  }),
});

export const TracksPage = named(
  'PlaylistTracksPage',
  Type.Object({
    href: Type.String(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    total: Type.Integer(),
    next: Type.Union([Type.String(), Type.Null()]),
    previous: Type.Union([Type.String(), Type.Null()]),
    items: Type.Array(TrackItem),
  }),
);

const PlaylistFields = {
  type: Type.Literal('playlist'),
  id: Type.String(),
  uri: Type.String(),
  name: Type.String(),
  description: Type.String(),
  public: Type.Boolean(),
  collaborative: Type.Boolean(),
  collaborators: Type.Array(Type.String()),
  owner: Type.Object({ type: Type.Literal('user'), id: Type.String(), uri: Type.String() }),
  snapshot_id: Type.String({ description: 'the playlist version; send it with an edit made on it' }),
};

export const PlaylistObject = named('Playlist', Type.Object({ ...PlaylistFields, tracks: TracksPage }));
export const CreatedPlaylist = named(
  'CreatedPlaylist',
  Type.Object({ ...PlaylistFields, tracks: Type.Object({ href: Type.String(), total: Type.Integer() }) }),
);

export const OwnedPlaylists = named(
  'OwnedPlaylists',
  Type.Object({
    items: Type.Array(Type.Object({ type: Type.Literal('playlist'), id: Type.String(), uri: Type.String() })),
    total: Type.Integer(),
  }),
);

export const EditResultBody = named(
  'EditResult',
  Type.Object({
    snapshot_id: Type.String({ description: 'the version after the edit' }),
    status: Type.Union([Type.Literal('applied'), Type.Literal('noop')]),
    rebased_over: Type.Integer({ description: 'edits by others committed since the given snapshot_id' }),
    entry_ids: Type.Optional(Type.Array(Type.String(), { description: 'entries inserted, in list order' })),
    skipped: Type.Optional(
      Type.Array(
        Type.Object({
          target: Type.String(),
          reason: Type.Union([
            Type.Literal('already_removed'),
            Type.Literal('track_mismatch'),
            Type.Literal('out_of_range'),
          ]),
        }),
        { description: 'targets gone or changed by commit time (the rest was applied)' },
      ),
    ),
  }),
);

export const DeletedPlaylist = named(
  'DeletedPlaylist',
  Type.Object({ id: Type.String(), deleted: Type.Literal(true) }),
);

export const CreatePlaylistBody = named(
  'CreatePlaylistRequest',
  Type.Object({
    name: Type.String({ minLength: 1, maxLength: MAX_PLAYLIST_NAME_LENGTH }),
    description: Type.Optional(Type.String({ maxLength: MAX_DESCRIPTION_LENGTH })),
    public: Type.Optional(Type.Boolean({ default: true })),
    collaborative: Type.Optional(Type.Boolean({ default: false })),
    collaborators: Type.Optional(Type.Array(UserId, { maxItems: MAX_COLLABORATORS })),
  }),
);

export const UpdatePlaylistBody = named(
  'UpdatePlaylistRequest',
  Type.Object({
    name: Type.Optional(Type.String({ minLength: 1, maxLength: MAX_PLAYLIST_NAME_LENGTH })),
    description: Type.Optional(Type.String({ maxLength: MAX_DESCRIPTION_LENGTH })),
    public: Type.Optional(Type.Boolean()),
    collaborative: Type.Optional(Type.Boolean()),
  }),
);

export const CollaboratorsBody = named(
  'SetCollaboratorsRequest',
  Type.Object({ collaborators: Type.Array(UserId, { maxItems: MAX_COLLABORATORS }) }),
);

export const AddTracksBody = named(
  'AddTracksRequest',
  Type.Object({
    uris: Type.Optional(
      Type.Array(TrackUri, {
        minItems: 1,
        maxItems: MAX_TRACKS_PER_EDIT,
        description: 'required here or in the query (`?uris=a,b`)',
      }),
    ),
    position: Type.Optional(
      Type.Integer({ minimum: 0, description: 'insert before this index (default: at the end)' }),
    ),
    snapshot_id: Type.Optional(SnapshotId),
  }),
);

export const RemoveTracksBody = named(
  'RemoveTracksRequest',
  Type.Object(
    {
      tracks: Type.Optional(
        Type.Array(
          Type.Object({
            uri: TrackUri,
            positions: Type.Optional(
              Type.Array(Type.Integer({ minimum: 0 }), {
                minItems: 1,
                description: 'only at these indexes of snapshot_id (default: every occurrence)',
              }),
            ),
          }),
          { minItems: 1 },
        ),
      ),
      entry_ids: Type.Optional(Type.Array(Type.String(), { minItems: 1 })),
      snapshot_id: Type.Optional(SnapshotId),
    },
    { description: 'give `tracks`, `entry_ids` or both' },
  ),
);

export const ReorderTracksBody = named(
  'ReorderTracksRequest',
  Type.Object(
    {
      range_start: Type.Integer({ minimum: 0 }),
      insert_before: Type.Integer({ minimum: 0 }),
      range_length: Type.Optional(Type.Integer({ minimum: 1, default: 1 })),
      snapshot_id: Type.Optional(SnapshotId),
    },
    {
      description:
        'moves range_length entries from range_start to before insert_before; replacing with `uris` is refused',
    },
  ),
);

export const PageQuery = Type.Object({
  offset: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_LIMIT, default: MAX_PAGE_LIMIT })),
});

export const AddTracksQuery = Type.Object({
  uris: Type.Optional(Type.String({ description: 'comma-separated track uris (instead of the body)' })),
  position: Type.Optional(Type.Integer({ minimum: 0 })),
});

// ---- the catalog, as the caller may play it -------------------------------------------------

export const CatalogTracksPage = named(
  'CatalogTracksPage',
  Type.Object({
    href: Type.String(),
    limit: Type.Integer(),
    offset: Type.Integer(),
    total: Type.Integer(),
    next: Type.Union([Type.String(), Type.Null()]),
    items: Type.Array(
      Type.Object({
        track: TrackObject,
        is_playable: Type.Boolean({
          description: "whether the caller (the token's country and plan) may play it now",
        }),
        restrictions: Type.Optional(
          Type.Object({
            reason: Type.Union([
              Type.Literal('region_blocked'),
              Type.Literal('not_available'),
              Type.Literal('premium_required'),
            ]),
            message: Type.String(),
          }),
        ),
      }),
    ),
  }),
);

// ---- the listener's history and royalties ---------------------------------------------------

export const MAX_HISTORY_LIMIT = 50;

export const HistoryQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_HISTORY_LIMIT, default: 20 })),
  before: Type.Optional(
    Type.String({ minLength: 1, maxLength: 512, description: 'the `cursors.before` of the previous page' }),
  ),
});

export const HistoryPage = named(
  'HistoryPage',
  Type.Object({
    items: Type.Array(
      Type.Object({
        play_id: Type.String(),
        played_at: Type.String({ format: 'date-time', description: 'when the play started (server clock)' }),
        ms_played: Type.Integer({ description: 'audio heard in this play' }),
        track: Type.Object({
          id: Type.String(),
          uri: Type.String(),
          name: Type.Optional(Type.String()),
          artist: Type.Optional(Type.String()),
          duration_ms: Type.Optional(Type.Integer()),
        }),
        context_uri: Type.Optional(Type.String()),
        device_id: Type.Optional(Type.String()),
        end_reason: Type.Optional(Type.String({ description: 'trackdone, skip, transfer, logout, ...' })),
        royalty_counted: Type.Boolean({
          description: 'whether the royalty ledger counted this play as a stream (30 s or more heard)',
        }),
      }),
      { description: 'newest first' },
    ),
    limit: Type.Integer(),
    next: Type.Union([Type.String(), Type.Null()], {
      description: 'the next (older) page; null on the last',
    }),
    cursors: Type.Object({ before: Type.Union([Type.String(), Type.Null()]) }),
  }),
);

export const RoyaltiesQuery = Type.Object({
  month: Type.Optional(
    Type.String({
      pattern: '^\\d{4}-(0[1-9]|1[0-2])$',
      description: 'YYYY-MM, UTC (default: the current month)',
    }),
  ),
});

export const RoyaltiesPage = named(
  'Royalties',
  Type.Object({
    month: Type.String(),
    threshold_ms: Type.Integer({ description: 'a play counts once this much of it was heard' }),
    streams: Type.Integer({ description: 'counted streams of this listener in the month' }),
    items: Type.Array(
      Type.Object({
        play_id: Type.String(),
        track_id: Type.String(),
        artist_id: Type.String(),
        territory: Type.String(),
        product: Type.Union([Type.Literal('free'), Type.Literal('premium')]),
        counted_at: Type.String({ format: 'date-time', description: 'the qualifying event' }),
        ms_played: Type.Integer(),
        event_id: Type.String(),
      }),
      { description: 'the ledger rows of this listener, newest first' },
    ),
  }),
);

// ---- server routes ----------------------------------------------------------------------------

export const HealthBody = named(
  'Health',
  Type.Object({
    status: Type.Literal('ok'),
    uptime_s: Type.Integer(),
    connections: Type.Integer(),
    sessions: Type.Integer(),
  }),
);

export const ReadinessBody = named(
  'Readiness',
  Type.Object({
    status: Type.Union([Type.Literal('ready'), Type.Literal('not_ready')]),
    /** One line per failing check: `<check>: <why>`. */
    reasons: Type.Array(Type.String()),
    checks: Type.Record(
      Type.String(),
      Type.Object({
        ok: Type.Boolean(),
        reason: Type.Optional(Type.String()),
        detail: Type.Optional(Type.Unknown()),
      }),
    ),
  }),
);

export const OriginError = named(
  'OriginError',
  Type.Object({
    error: Type.String({ description: 'forbidden or not_found' }),
    reason: Type.String({
      description: 'missing, malformed, expired, unknown_key, bad_signature (403); unknown_object (404)',
    }),
  }),
);
