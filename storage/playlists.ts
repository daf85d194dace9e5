/**
 * Playlists port: ordered lists of track ids with collaborative editing.
 * The storage issue owns the full operation set (create/rename/delete, insert/remove/move,
 * versions + rebase); this file is its contract. Readers outside storage/ need only
 * `getPlaylist` and `listPlaylistTrackIds`.
 */

export interface Playlist {
  id: string;
  ownerId: string;
  name: string;
  description?: string;
  public: boolean;
  collaborative: boolean;
  collaborators: string[];
  version: number;
  length: number;
}

export interface PlaylistEntry {
  entryId: string;
  trackId: string;
  addedBy: string;
  addedAt: number;
}

export interface PlaylistStore {
  /** `forbidden` when `requesterId` may not read a private playlist; `not_found` when unknown. */
  getPlaylist(playlistId: string, requesterId: string): Promise<Playlist>;
  /** Track ids in list order (a play context); same authorization as getPlaylist. */
  listPlaylistTrackIds(playlistId: string, requesterId: string): Promise<string[]>;
}
