/** Playlist authorization and input validation: pure, shared by every adapter. */
import { checkId } from './catalog-validate.ts';
import { StorageError } from './errors.ts';
import {
  MAX_COLLABORATORS,
  MAX_DESCRIPTION_LENGTH,
  MAX_PLAYLIST_NAME_LENGTH,
  MAX_TRACKS_PER_EDIT,
  type NewPlaylist,
  type Playlist,
  type PlaylistEdit,
} from './playlists.ts';

const bad = (msg: string): never => {
  throw new StorageError('bad_request', msg);
};

export const canRead = (p: Playlist, who: string): boolean =>
  p.public || p.ownerId === who || (p.collaborative && p.collaborators.includes(who));

export const canEditEntries = (p: Playlist, who: string): boolean =>
  p.ownerId === who || (p.collaborative && p.collaborators.includes(who));

export function authorizeRead(p: Playlist, who: string): void {
  if (!canRead(p, who)) throw new StorageError('forbidden', `playlist ${p.id} is private`);
}

export function authorizeEdit(p: Playlist, who: string, edit: PlaylistEdit): void {
  const ownerOnly = edit.kind === 'details' || edit.kind === 'collaborators';
  if (ownerOnly ? p.ownerId !== who : !canEditEntries(p, who)) {
    // A stranger must not learn that a private playlist exists beyond "forbidden".
    throw new StorageError(
      'forbidden',
      ownerOnly
        ? `only the owner may change playlist ${p.id}'s ${edit.kind}`
        : `user ${who} may not edit playlist ${p.id} (not the owner${p.collaborative ? ' or a collaborator' : '; it is not collaborative'})`,
    );
  }
}

export function validateName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.trim().length === 0) bad('playlist name must be a non-empty string');
  if ((name as string).length > MAX_PLAYLIST_NAME_LENGTH)
    bad(`playlist name is longer than ${MAX_PLAYLIST_NAME_LENGTH} characters`);
}

function validateDescription(d: unknown): void {
  if (d === undefined) return;
  if (typeof d !== 'string') bad('description must be a string');
  if ((d as string).length > MAX_DESCRIPTION_LENGTH)
    bad(`description is longer than ${MAX_DESCRIPTION_LENGTH} characters`);
}

function validateCollaborators(c: unknown): void {
  if (!Array.isArray(c)) bad('collaborators must be an array of user ids');
  if ((c as unknown[]).length > MAX_COLLABORATORS) bad(`at most ${MAX_COLLABORATORS} collaborators`);
  (c as unknown[]).forEach((id) => checkId('collaborator id', id));
}

const isIndex = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;

function validateIndexList(what: string, xs: unknown, max = MAX_TRACKS_PER_EDIT): void {
  if (!Array.isArray(xs) || xs.length === 0) bad(`${what} must be a non-empty array`);
  if ((xs as unknown[]).length > max) bad(`at most ${max} ${what} per edit`);
}

export function validateNewPlaylist(p: NewPlaylist): void {
  checkId('owner id', p?.ownerId);
  if (p.id !== undefined) checkId('playlist id', p.id);
  validateName(p.name);
  validateDescription(p.description);
  if (p.public !== undefined && typeof p.public !== 'boolean') bad('public must be a boolean');
  if (p.collaborative !== undefined && typeof p.collaborative !== 'boolean')
    bad('collaborative must be a boolean');
  if (p.collaborators !== undefined) validateCollaborators(p.collaborators);
}

export function validateEdit(edit: PlaylistEdit): void {
  switch (edit?.kind) {
    case 'insert':
      validateIndexList('tracks', edit.trackIds);
      edit.trackIds.forEach((t) => checkId('track id', t));
      if (edit.index !== undefined && !isIndex(edit.index)) bad('position must be a non-negative integer');
      return;
    case 'remove':
      validateIndexList('entry ids', edit.entryIds);
      edit.entryIds.forEach((t) => checkId('entry id', t));
      return;
    case 'removeAt':
      validateIndexList('positions', edit.positions);
      if (!edit.positions.every(isIndex)) bad('positions must be non-negative integers');
      if (edit.trackIds !== undefined) {
        if (!Array.isArray(edit.trackIds) || edit.trackIds.length !== edit.positions.length)
          bad('trackIds must pair one to one with positions');
        edit.trackIds.forEach((t) => checkId('track id', t));
      }
      return;
    case 'removeTracks':
      validateIndexList('tracks', edit.trackIds);
      edit.trackIds.forEach((t) => checkId('track id', t));
      return;
    case 'move':
      if (!isIndex(edit.rangeStart)) bad('range_start must be a non-negative integer');
      if (!isIndex(edit.insertBefore)) bad('insert_before must be a non-negative integer');
      if (!isIndex(edit.rangeLength) || edit.rangeLength < 1) bad('range_length must be a positive integer');
      return;
    case 'details':
      if (edit.name !== undefined) validateName(edit.name);
      validateDescription(edit.description);
      if (edit.public !== undefined && typeof edit.public !== 'boolean') bad('public must be a boolean');
      if (edit.collaborative !== undefined && typeof edit.collaborative !== 'boolean')
        bad('collaborative must be a boolean');
      return;
    case 'collaborators':
      validateCollaborators(edit.collaborators);
      return;
    default:
      bad(`unknown playlist edit kind ${JSON.stringify((edit as { kind?: unknown })?.kind)}`);
  }
}
