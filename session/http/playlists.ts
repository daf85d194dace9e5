/**
 * The playlist routes of the /v1 API, shaped like the public Spotify Web API where it fits.
 * Each route names its TypeBox query and body schemas (schemas.ts), which the router checks
 * before the handler runs and the OpenAPI description is generated from.
 *
 * `snapshot_id` is the playlist version the client's edit was made on; the store rebases the
 * edit over whatever was committed since.
 */
import { parseUri, trackUri } from '../../protocol/uris.ts';
import type { Track } from '../../storage/catalog.ts';
import type { PlaylistViewer, PlaylistView } from '../../storage/hydration.ts';
import type { EditResult, Playlist, PlaylistEdit, PlaylistStore } from '../../storage/playlists.ts';
import { badRequest, HttpError, route, type ApiRoute } from './api-router.ts';
import {
  AddTracksBody,
  AddTracksQuery,
  CollaboratorsBody,
  CreatedPlaylist,
  CreatePlaylistBody,
  DeletedPlaylist,
  EditResultBody,
  OwnedPlaylists,
  PageQuery,
  PlaylistObject,
  RemoveTracksBody,
  ReorderTracksBody,
  TracksPage,
  UpdatePlaylistBody,
} from './schemas.ts';

export interface PlaylistApiDeps {
  playlists: PlaylistStore;
  viewer: PlaylistViewer;
}

// ---- shapes -------------------------------------------------------------------------------

export function trackJson(t: Track) {
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

function pagingJson(view: PlaylistView, baseUrl: string) {
  const { playlist, offset, limit, total } = view;
  const href = (o: number) => `${baseUrl}/v1/playlists/${playlist.id}/tracks?offset=${o}&limit=${limit}`;
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

/** Track uris are checked by the schema; this takes the id (and checks the query's uris). */
function trackIdOf(uri: string): string {
  const parsed = parseUri(uri);
  if (parsed?.kind !== 'track')
    throw badRequest(`"${uri.slice(0, 200)}" is not a track uri (spotify:track:<id>)`);
  return parsed.id;
}

const snapshot = (s: string | undefined) => (s === undefined ? undefined : Number(s));

// ---- routes -------------------------------------------------------------------------------

const PLAYLIST = '/v1/playlists/{playlist_id}';
const NOT_VISIBLE = 'the playlist is private and the caller is neither its owner nor a collaborator';
const NOT_EDITOR = 'the caller may not edit this playlist (owner, or a collaborator of a collaborative one)';

export function playlistRoutes(deps: PlaylistApiDeps): ApiRoute[] {
  const { playlists, viewer } = deps;
  return [
    route({
      method: 'POST',
      path: '/v1/users/{user_id}/playlists',
      operationId: 'createPlaylist',
      tag: 'playlists',
      summary: 'Create a playlist owned by the caller',
      body: CreatePlaylistBody,
      ok: { 201: { description: 'created (empty)', schema: CreatedPlaylist } },
      errors: { 403: 'user_id is not the caller' },
      async handle({ params, body, userId, baseUrl }) {
        if (params.user_id !== userId)
          throw new HttpError(403, 'forbidden', 'you can only create playlists for yourself');
        const p = await playlists.createPlaylist({
          ownerId: userId,
          name: body.name,
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.public !== undefined ? { public: body.public } : {}),
          ...(body.collaborative !== undefined ? { collaborative: body.collaborative } : {}),
          ...(body.collaborators ? { collaborators: body.collaborators } : {}),
        });
        return {
          status: 201,
          json: playlistJson(p, { href: `${baseUrl}/v1/playlists/${p.id}/tracks`, total: 0 }),
        };
      },
    }),
    route({
      method: 'GET',
      path: '/v1/users/{user_id}/playlists',
      operationId: 'listOwnPlaylists',
      tag: 'playlists',
      summary: "Ids of the caller's own playlists",
      ok: { 200: { description: 'the playlists the caller owns', schema: OwnedPlaylists } },
      errors: { 403: 'user_id is not the caller' },
      async handle({ params, userId }) {
        if (params.user_id !== userId)
          throw new HttpError(403, 'forbidden', 'you can only list your own playlists');
        const ids = await playlists.listOwnedPlaylistIds(userId);
        return {
          status: 200,
          json: {
            items: ids.map((id) => ({ type: 'playlist', id, uri: `spotify:playlist:${id}` })),
            total: ids.length,
          },
        };
      },
    }),
    route({
      method: 'GET',
      path: PLAYLIST,
      operationId: 'getPlaylist',
      tag: 'playlists',
      summary: 'A playlist with one page of hydrated tracks',
      query: PageQuery,
      ok: { 200: { description: 'the playlist', schema: PlaylistObject } },
      errors: { 403: NOT_VISIBLE, 404: 'no such playlist' },
      async handle({ params, query, userId, baseUrl }) {
        const v = await viewer.viewPlaylist(params.playlist_id!, query, userId);
        return { status: 200, json: playlistJson(v.playlist, pagingJson(v, baseUrl)) };
      },
    }),
    route({
      method: 'PUT',
      path: PLAYLIST,
      operationId: 'updatePlaylist',
      tag: 'playlists',
      summary: "Change a playlist's details (owner only)",
      body: UpdatePlaylistBody,
      ok: { 200: { description: 'changed', schema: EditResultBody } },
      errors: { 403: 'the caller is not the owner', 404: 'no such playlist' },
      async handle({ params, body, userId }) {
        // Picked field by field: the schema lets unknown fields through (and ignores them).
        const edit: PlaylistEdit = {
          kind: 'details',
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.description !== undefined ? { description: body.description } : {}),
          ...(body.public !== undefined ? { public: body.public } : {}),
          ...(body.collaborative !== undefined ? { collaborative: body.collaborative } : {}),
        };
        return {
          status: 200,
          json: editJson(await playlists.editPlaylist(params.playlist_id!, userId, edit)),
        };
      },
    }),
    route({
      method: 'DELETE',
      path: PLAYLIST,
      operationId: 'deletePlaylist',
      tag: 'playlists',
      summary: 'Delete a playlist (owner only; an extension of the Spotify API)',
      ok: { 200: { description: 'deleted', schema: DeletedPlaylist } },
      errors: { 403: 'the caller is not the owner', 404: 'no such playlist' },
      async handle({ params, userId }) {
        await playlists.deletePlaylist(params.playlist_id!, userId);
        return { status: 200, json: { id: params.playlist_id, deleted: true } };
      },
    }),
    route({
      method: 'PUT',
      path: `${PLAYLIST}/collaborators`,
      operationId: 'setCollaborators',
      tag: 'playlists',
      summary: "Replace a playlist's collaborators (owner only; an extension)",
      body: CollaboratorsBody,
      ok: { 200: { description: 'changed', schema: EditResultBody } },
      errors: { 403: 'the caller is not the owner', 404: 'no such playlist' },
      async handle({ params, body, userId }) {
        const r = await playlists.editPlaylist(params.playlist_id!, userId, {
          kind: 'collaborators',
          collaborators: body.collaborators,
        });
        return { status: 200, json: editJson(r) };
      },
    }),
    route({
      method: 'GET',
      path: `${PLAYLIST}/tracks`,
      operationId: 'getPlaylistTracks',
      tag: 'playlists',
      summary: "One page of a playlist's tracks, hydrated",
      query: PageQuery,
      ok: { 200: { description: 'the page', schema: TracksPage } },
      errors: { 403: NOT_VISIBLE, 404: 'no such playlist' },
      async handle({ params, query, userId, baseUrl }) {
        return {
          status: 200,
          json: pagingJson(await viewer.viewPlaylist(params.playlist_id!, query, userId), baseUrl),
        };
      },
    }),
    route({
      method: 'POST',
      path: `${PLAYLIST}/tracks`,
      operationId: 'addTracks',
      tag: 'playlists',
      summary: 'Insert tracks (uris in the body, or in the query as Spotify also accepts)',
      query: AddTracksQuery,
      body: AddTracksBody,
      bodyRequired: false,
      ok: { 201: { description: 'inserted', schema: EditResultBody } },
      errors: { 403: NOT_EDITOR, 404: 'no such playlist' },
      async handle({ params, query, body, userId }) {
        const uris = body?.uris ?? query.uris?.split(',');
        if (!uris || uris.length === 0) throw badRequest('uris must be a non-empty array of track uris');
        const position = body?.position ?? query.position;
        const edit: PlaylistEdit = {
          kind: 'insert',
          trackIds: uris.map(trackIdOf),
          ...(position !== undefined ? { index: position } : {}),
        };
        const r = await playlists.editPlaylist(
          params.playlist_id!,
          userId,
          edit,
          snapshot(body?.snapshot_id),
        );
        return { status: 201, json: editJson(r) };
      },
    }),
    route({
      method: 'DELETE',
      path: `${PLAYLIST}/tracks`,
      operationId: 'removeTracks',
      tag: 'playlists',
      summary: 'Remove tracks: by uri everywhere, by uri at positions of snapshot_id, or by entry id',
      body: RemoveTracksBody,
      ok: { 200: { description: 'removed (see skipped for targets already gone)', schema: EditResultBody } },
      errors: { 403: NOT_EDITOR, 404: 'no such playlist' },
      async handle({ params, body, userId }) {
        const id = params.playlist_id!;
        const base = snapshot(body.snapshot_id);
        const edits: PlaylistEdit[] = [];
        if (body.entry_ids) edits.push({ kind: 'remove', entryIds: body.entry_ids });
        const positions: number[] = [];
        const positionTracks: string[] = [];
        const everywhere: string[] = [];
        for (const t of body.tracks ?? []) {
          const trackId = trackIdOf(t.uri);
          if (t.positions === undefined) everywhere.push(trackId);
          else
            for (const p of t.positions) {
              positions.push(p);
              positionTracks.push(trackId);
            }
        }
        if (positions.length) edits.push({ kind: 'removeAt', positions, trackIds: positionTracks });
        if (everywhere.length) edits.push({ kind: 'removeTracks', trackIds: everywhere });
        if (edits.length === 0) throw badRequest('give tracks ([{uri, positions?}]) or entry_ids to remove');
        let result: EditResult | undefined;
        const skipped: EditResult['skipped'] = [];
        for (const e of edits) {
          // Positions name the client's snapshot; ids are stable, so later edits need no base.
          result = await playlists.editPlaylist(id, userId, e, e.kind === 'removeAt' ? base : undefined);
          skipped.push(...result.skipped);
        }
        return { status: 200, json: { ...editJson(result!), ...(skipped.length ? { skipped } : {}) } };
      },
    }),
    route({
      method: 'PUT',
      path: `${PLAYLIST}/tracks`,
      operationId: 'reorderTracks',
      tag: 'playlists',
      summary: 'Move a range of entries',
      body: ReorderTracksBody,
      ok: { 200: { description: 'moved', schema: EditResultBody } },
      errors: { 403: NOT_EDITOR, 404: 'no such playlist' },
      async handle({ params, body, userId }) {
        if ((body as { uris?: unknown }).uris !== undefined)
          throw badRequest('replacing all tracks with uris is not supported; use range_start/insert_before');
        const edit: PlaylistEdit = {
          kind: 'move',
          rangeStart: body.range_start,
          insertBefore: body.insert_before,
          rangeLength: body.range_length ?? 1,
        };
        const r = await playlists.editPlaylist(params.playlist_id!, userId, edit, snapshot(body.snapshot_id));
        return { status: 200, json: editJson(r) };
      },
    }),
  ];
}
