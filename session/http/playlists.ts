/**
 * The playlist HTTP API, shaped like the public Spotify Web API where it fits, as one pure,
 * transport-independent function: the session server authenticates the Bearer JWT, parses the
 * JSON body and mounts `handlePlaylistRequest` for `/v1/users/{id}/playlists` and `/v1/playlists/**`.
 *
 *   POST   /v1/users/{user_id}/playlists      {name, public?, collaborative?, description?} -> 201
 *   GET    /v1/users/{user_id}/playlists      ids of the caller's own playlists
 *   GET    /v1/playlists/{id}                 playlist + first page of hydrated tracks
 *   PUT    /v1/playlists/{id}                 {name?, public?, collaborative?, description?}
 *   DELETE /v1/playlists/{id}                 owner deletes (extension)
 *   PUT    /v1/playlists/{id}/collaborators   {collaborators: [user ids]} (extension)
 *   GET    /v1/playlists/{id}/tracks?offset&limit
 *   POST   /v1/playlists/{id}/tracks          {uris, position?, snapshot_id?} -> 201 {snapshot_id}
 *   DELETE /v1/playlists/{id}/tracks          {tracks: [{uri, positions?}], entry_ids?, snapshot_id?}
 *   PUT    /v1/playlists/{id}/tracks          {range_start, insert_before, range_length?, snapshot_id?}
 *
 * `snapshot_id` is the playlist version the client's edit was made on; the store rebases the
 * edit over whatever was committed since. Errors: `{error: {status, code, message}}`.
 */
import { parseUri, trackUri } from '../../protocol/uris.ts';
import type { Track } from '../../storage/catalog.ts';
import { isStorageError, type StorageErrorCode } from '../../storage/errors.ts';
import type { PlaylistViewer, PlaylistView } from '../../storage/hydration.ts';
import type { EditResult, Playlist, PlaylistEdit, PlaylistStore } from '../../storage/playlists.ts';

export interface PlaylistRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/playlists/abc/tracks`. */
  path: string;
  query?: Record<string, string | undefined>;
  /** Parsed JSON body (a string is parsed here); undefined when there is none. */
  body?: unknown;
  /** The authenticated caller (from the Bearer JWT). */
  userId: string;
}

export interface PlaylistResponse {
  status: number;
  json: unknown;
}

export interface PlaylistApiDeps {
  playlists: PlaylistStore;
  viewer: PlaylistViewer;
  /** Absolute base (PUBLIC_BASE_URL, no trailing slash) of the `href`s handed out. */
  publicBaseUrl: string;
  /** Told about unexpected failures (answered as a bare 500), for logs. */
  onError?: (e: unknown, req: PlaylistRequest) => void;
}

export const DEFAULT_TRACKS_LIMIT = 100;

const STATUS: Record<StorageErrorCode, number> = {
  bad_request: 400,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  timeout: 504,
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const badRequest = (message: string) => new HttpError(400, 'bad_request', message);
const error = (status: number, code: string, message: string): PlaylistResponse => ({
  status,
  json: { error: { status, code, message } },
});

// ---- shapes -------------------------------------------------------------------------------

function trackJson(t: Track) {
  return {
    type: 'track',
    id: t.id,
    uri: trackUri(t.id),
    name: t.title,
    duration_ms: t.durationMs,
    track_number: t.trackNumber,
    artists: [{ type: 'artist', id: t.artistId, name: t.artistName, uri: `spotify:artist:${t.artistId}` }],
    album: { type: 'album', id: t.albumId, name: t.albumName, uri: `spotify:album:${t.albumId}` },
    ...(t.isrc ? { external_ids: { isrc: t.isrc } } : {}),
  };
}

/** The absolute URL of a playlist's tracks (a page of them with `offset`). */
const tracksHref = (base: string, playlistId: string, page?: { offset: number; limit: number }) =>
  `${base}/v1/playlists/${encodeURIComponent(playlistId)}/tracks` +
  (page ? `?offset=${page.offset}&limit=${page.limit}` : '');

function pagingJson(view: PlaylistView, base: string) {
  const { playlist, offset, limit, total } = view;
  const href = (o: number) => tracksHref(base, playlist.id, { offset: o, limit });
  return {
    href: href(offset),
    limit,
    offset,
    total,
    next: offset + limit < total ? href(offset + limit) : null,
    previous: offset > 0 ? href(Math.max(0, offset - limit)) : null,
    items: view.items.map((i) => ({
      added_at: new Date(i.addedAt).toISOString(),
      added_by: { type: 'user', id: i.addedBy },
      is_local: false,
      entry_id: i.entryId,
      // null when the catalog no longer has the track, as Spotify does for unavailable items.
      track: i.track ? trackJson(i.track) : null,
    })),
  };
}

function playlistJson(p: Playlist, tracks: unknown) {
  return {
    type: 'playlist',
    id: p.id,
    uri: `spotify:playlist:${p.id}`,
    name: p.name,
    description: p.description ?? '',
    public: p.public,
    collaborative: p.collaborative,
    collaborators: p.collaborators,
    owner: { type: 'user', id: p.ownerId, uri: `spotify:user:${p.ownerId}` },
    snapshot_id: String(p.version),
    tracks,
  };
}

const editJson = (r: EditResult) => ({
  snapshot_id: String(r.version),
  status: r.status,
  rebased_over: r.rebasedOver,
  ...(r.inserted.length ? { entry_ids: r.inserted.map((e) => e.entryId) } : {}),
  ...(r.skipped.length ? { skipped: r.skipped } : {}),
});

// ---- input parsing ------------------------------------------------------------------------

function object(body: unknown, required: boolean): Record<string, unknown> {
  let b = body;
  if (typeof b === 'string') {
    try {
      b = b.length ? JSON.parse(b) : undefined;
    } catch {
      throw badRequest('body is not valid JSON');
    }
  }
  if (b === undefined || b === null) {
    if (required) throw badRequest('a JSON body is required');
    return {};
  }
  if (typeof b !== 'object' || Array.isArray(b)) throw badRequest('body must be a JSON object');
  return b as Record<string, unknown>;
}

function trackIdOf(uri: unknown): string {
  if (typeof uri !== 'string') throw badRequest('track uris must be strings');
  const parsed = parseUri(uri);
  if (parsed?.kind !== 'track')
    throw badRequest(`"${uri.slice(0, 200)}" is not a track uri (spotify:track:<id>)`);
  return parsed.id;
}

function int(
  value: unknown,
  name: string,
  opts: { min?: number; optional?: boolean } = {},
): number | undefined {
  if (value === undefined || value === null || value === '') {
    if (opts.optional) return undefined;
    throw badRequest(`${name} is required`);
  }
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < (opts.min ?? 0))
    throw badRequest(`${name} must be an integer >= ${opts.min ?? 0}`);
  return n;
}

const snapshotOf = (b: Record<string, unknown>): number | undefined => {
  const s = b.snapshot_id;
  if (s === undefined || s === null) return undefined;
  if (typeof s !== 'string' || !/^\d{1,15}$/.test(s))
    throw badRequest('snapshot_id must be a snapshot id returned by this API');
  return Number(s);
};

const bool = (v: unknown, name: string): boolean | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${name} must be a boolean`);
  return v;
};

const str = (v: unknown, name: string): string | undefined => {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be a string`);
  return v;
};

// ---- routes -------------------------------------------------------------------------------

async function view(deps: PlaylistApiDeps, id: string, req: PlaylistRequest) {
  const offset = int(req.query?.offset, 'offset', { optional: true }) ?? 0;
  const limit = int(req.query?.limit, 'limit', { min: 1, optional: true }) ?? DEFAULT_TRACKS_LIMIT;
  return deps.viewer.viewPlaylist(id, { offset, limit }, req.userId);
}

/** A path segment decoded; a malformed %-escape is the client's error, not a fault. */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`malformed %-escape in the path segment '${segment.slice(0, 100)}'`);
  }
}

async function route(req: PlaylistRequest, deps: PlaylistApiDeps): Promise<PlaylistResponse> {
  const parts = req.path.split('/').filter(Boolean).map(decodeSegment);
  const base = deps.publicBaseUrl;
  const method = req.method.toUpperCase();
  const { playlists } = deps;
  const who = req.userId;

  if (
    parts[0] === 'v1' &&
    parts[1] === 'users' &&
    parts[2] &&
    parts[3] === 'playlists' &&
    parts.length === 4
  ) {
    const owner = parts[2];
    if (method === 'POST') {
      if (owner !== who) throw new HttpError(403, 'forbidden', 'you can only create playlists for yourself');
      const b = object(req.body, true);
      const collaborators = b.collaborators;
      if (collaborators !== undefined && !Array.isArray(collaborators))
        throw badRequest('collaborators must be an array');
      const p = await playlists.createPlaylist({
        ownerId: who,
        name: str(b.name, 'name') ?? '',
        ...(b.description !== undefined ? { description: str(b.description, 'description')! } : {}),
        ...(b.public !== undefined ? { public: bool(b.public, 'public')! } : {}),
        ...(b.collaborative !== undefined ? { collaborative: bool(b.collaborative, 'collaborative')! } : {}),
        ...(collaborators ? { collaborators: collaborators as string[] } : {}),
      });
      return { status: 201, json: playlistJson(p, { href: tracksHref(base, p.id), total: 0 }) };
    }
    if (method === 'GET') {
      if (owner !== who) throw new HttpError(403, 'forbidden', 'you can only list your own playlists');
      const ids = await playlists.listOwnedPlaylistIds(who);
      return {
        status: 200,
        json: {
          items: ids.map((id) => ({ type: 'playlist', id, uri: `spotify:playlist:${id}` })),
          total: ids.length,
        },
      };
    }
    throw new HttpError(405, 'bad_request', `${method} not allowed on ${req.path}`);
  }

  if (parts[0] !== 'v1' || parts[1] !== 'playlists' || !parts[2] || parts.length > 4)
    throw new HttpError(404, 'not_found', `no route for ${method} ${req.path}`);
  const id = parts[2];
  const sub = parts[3];

  if (sub === undefined) {
    if (method === 'GET') {
      const v = await view(deps, id, req);
      return { status: 200, json: playlistJson(v.playlist, pagingJson(v, base)) };
    }
    if (method === 'PUT') {
      const b = object(req.body, true);
      const edit: PlaylistEdit = {
        kind: 'details',
        ...(b.name !== undefined ? { name: str(b.name, 'name')! } : {}),
        ...(b.description !== undefined ? { description: str(b.description, 'description')! } : {}),
        ...(b.public !== undefined ? { public: bool(b.public, 'public')! } : {}),
        ...(b.collaborative !== undefined ? { collaborative: bool(b.collaborative, 'collaborative')! } : {}),
      };
      return { status: 200, json: editJson(await playlists.editPlaylist(id, who, edit)) };
    }
    if (method === 'DELETE') {
      await playlists.deletePlaylist(id, who);
      return { status: 200, json: { id, deleted: true } };
    }
  } else if (sub === 'collaborators' && method === 'PUT') {
    const b = object(req.body, true);
    if (!Array.isArray(b.collaborators)) throw badRequest('collaborators must be an array of user ids');
    const r = await playlists.editPlaylist(id, who, {
      kind: 'collaborators',
      collaborators: b.collaborators as string[],
    });
    return { status: 200, json: editJson(r) };
  } else if (sub === 'tracks') {
    if (method === 'GET') return { status: 200, json: pagingJson(await view(deps, id, req), base) };
    if (method === 'POST') {
      const b = object(req.body, false);
      // Spotify also accepts `uris` and `position` in the query string.
      const uris = b.uris ?? req.query?.uris?.split(',');
      if (!Array.isArray(uris) || uris.length === 0)
        throw badRequest('uris must be a non-empty array of track uris');
      const position = int(b.position ?? req.query?.position, 'position', { optional: true });
      const edit: PlaylistEdit = {
        kind: 'insert',
        trackIds: uris.map(trackIdOf),
        ...(position !== undefined ? { index: position } : {}),
      };
      return { status: 201, json: editJson(await playlists.editPlaylist(id, who, edit, snapshotOf(b))) };
    }
    if (method === 'DELETE') {
      const b = object(req.body, true);
      const base = snapshotOf(b);
      const edits: PlaylistEdit[] = [];
      if (b.entry_ids !== undefined) {
        if (!Array.isArray(b.entry_ids)) throw badRequest('entry_ids must be an array');
        edits.push({ kind: 'remove', entryIds: b.entry_ids as string[] });
      }
      if (b.tracks !== undefined) {
        if (!Array.isArray(b.tracks) || b.tracks.length === 0)
          throw badRequest('tracks must be a non-empty array of {uri, positions?}');
        const positions: number[] = [];
        const positionTracks: string[] = [];
        const everywhere: string[] = [];
        for (const t of b.tracks as unknown[]) {
          const o = object(t, true);
          const trackId = trackIdOf(o.uri);
          if (o.positions === undefined) everywhere.push(trackId);
          else {
            if (!Array.isArray(o.positions) || o.positions.length === 0)
              throw badRequest('positions must be a non-empty array');
            for (const p of o.positions) {
              positions.push(int(p, 'positions[]')!);
              positionTracks.push(trackId);
            }
          }
        }
        if (positions.length) edits.push({ kind: 'removeAt', positions, trackIds: positionTracks });
        if (everywhere.length) edits.push({ kind: 'removeTracks', trackIds: everywhere });
      }
      if (edits.length === 0) throw badRequest('give tracks ([{uri, positions?}]) or entry_ids to remove');
      let result: EditResult | undefined;
      const skipped: EditResult['skipped'] = [];
      for (const e of edits) {
        // Positions name the client's snapshot; ids are stable, so later edits need no base.
        result = await playlists.editPlaylist(id, who, e, e.kind === 'removeAt' ? base : undefined);
        skipped.push(...result.skipped);
      }
      return { status: 200, json: { ...editJson(result!), ...(skipped.length ? { skipped } : {}) } };
    }
    if (method === 'PUT') {
      const b = object(req.body, true);
      if (b.uris !== undefined)
        throw badRequest('replacing all tracks with uris is not supported; use range_start/insert_before');
      const edit: PlaylistEdit = {
        kind: 'move',
        rangeStart: int(b.range_start, 'range_start')!,
        insertBefore: int(b.insert_before, 'insert_before')!,
        rangeLength: int(b.range_length, 'range_length', { min: 1, optional: true }) ?? 1,
      };
      return { status: 200, json: editJson(await playlists.editPlaylist(id, who, edit, snapshotOf(b))) };
    }
  } else {
    throw new HttpError(404, 'not_found', `no route for ${method} ${req.path}`);
  }
  throw new HttpError(405, 'bad_request', `${method} not allowed on ${req.path}`);
}

/** Answers one playlist API request; never throws (errors become `{error: {status, code, message}}`). */
export async function handlePlaylistRequest(
  req: PlaylistRequest,
  deps: PlaylistApiDeps,
): Promise<PlaylistResponse> {
  try {
    return await route(req, deps);
  } catch (e) {
    if (e instanceof HttpError) return error(e.status, e.code, e.message);
    if (isStorageError(e)) return error(STATUS[e.code], e.code, e.message);
    // Unknown failures: no internals on the wire, the details go to the log.
    deps.onError?.(e, req);
    return error(500, 'internal', 'internal error');
  }
}

/** Whether a path belongs to this API, for the server's router. */
export const isPlaylistPath = (path: string): boolean =>
  /^\/v1\/playlists\//.test(path) || /^\/v1\/users\/[^/]+\/playlists\/?$/.test(path);
