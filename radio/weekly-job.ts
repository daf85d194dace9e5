/**
 * `npm run job -- discover-weekly --week YYYY-Www`: trains on the plays of the weeks before
 * `week` (TRAIN_WEEKS), writes each listener's "Discover Weekly" playlist for that week and
 * publishes the item vectors as the radio's learned index (the running radio services pick
 * it up without a restart).
 *
 * The playlist: id `dw-<listener>` (a hash for very long ids), owned by `system`, public
 * (readable through the playlist API and playable like any playlist), replaced each week; a
 * re-run of the same week trains the same model and writes nothing new. Playability is
 * judged at the week's start with the listener's stored country and plan
 * (actors/entitlement.ts over the catalog's rights).
 */
import { createHash } from 'node:crypto';
import { checkEntitlement } from '../actors/entitlement.ts';
import type { Plan, TrackBundle } from '../actors/types.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import { isStorageError } from '../storage/errors.ts';
import type { PlaylistStore } from '../storage/playlists.ts';
import type { UserStore } from '../storage/users.ts';
import {
  buildInteractions,
  DEFAULT_ALS,
  isoWeek,
  learnedIndex,
  trainAls,
  weeklyPlaylists,
  type AlsParams,
  type Play,
} from './discover-weekly.ts';
import { publishIndex } from './vector-index.ts';

export const TRAIN_WEEKS = 3;
export const SYSTEM_OWNER = 'system';
export const DISCOVER_WEEKLY_NAME = 'Discover Weekly';
const EDIT_BATCH = 100;

export function discoverWeeklyId(userId: string): string {
  return userId.length <= 120 ? `dw-${userId}` : `dw-${createHash('sha256').update(userId).digest('hex')}`;
}

export interface WeeklyJobDeps {
  /** Every play of the training weeks (more is filtered out); a play's time is its end. */
  plays: AsyncIterable<Play> | Iterable<Play>;
  catalog: Pick<CatalogStore, 'getTracks' | 'getRights' | 'getAudioFiles'>;
  users: Pick<UserStore, 'getUser'>;
  playlists: PlaylistStore;
  indexDir: string;
  python: string;
  als?: AlsParams;
  progress?: (step: string) => void;
}

export interface WeeklyReport {
  week: string;
  trainFrom: string;
  trainTo: string;
  plays: number;
  listeners: number;
  tracks: number;
  playlistsWritten: number;
  playlistsUnchanged: number;
  shortPlaylists: number;
  trainSeconds: number;
  indexVersion: string;
  indexBytes: number;
}

export async function runDiscoverWeekly(week: string, deps: WeeklyJobDeps): Promise<WeeklyReport> {
  const { start } = isoWeek(week);
  const from = start - TRAIN_WEEKS * 7 * 86_400_000;
  const plays: Play[] = [];
  for await (const p of deps.plays) if (p.ts >= from && p.ts < start) plays.push(p);
  deps.progress?.('training');
  const data = buildInteractions(plays);
  const params = deps.als ?? DEFAULT_ALS;
  const train = await trainAls(deps.python, data, params);

  deps.progress?.('rules');
  const rows = await deps.catalog.getTracks(data.items);
  const artistOf = (t: string) => rows.get(t)?.artistId;
  const listeners = await Promise.all(
    data.users.map(async (u, i) => {
      const stored = await deps.users.getUser(u);
      return { country: stored?.country ?? data.countryOf[i]!, plan: (stored?.plan ?? 'free') as Plan };
    }),
  );
  // Bundles per (track, country), read once: rights rows are per territory.
  const bundles = new Map<string, TrackBundle | null>();
  const bundle = async (t: string, country: string) => {
    const key = `${t}|${country}`;
    if (!bundles.has(key)) {
      const track = rows.get(t);
      bundles.set(
        key,
        track
          ? {
              track,
              rights: await deps.catalog.getRights(t, country),
              files: await deps.catalog.getAudioFiles(t),
            }
          : null,
      );
    }
    return bundles.get(key)!;
  };
  // The rules are synchronous: load every candidate's bundle for each country first.
  const countries = [...new Set(listeners.map((l) => l.country))];
  const candidateItems = new Set<number>();
  for (const ii of train.candidates) if (ii >= 0) candidateItems.add(ii);
  for (const [, m] of data.streams) for (const ii of m.keys()) candidateItems.add(ii);
  for (const c of countries) for (const ii of candidateItems) await bundle(data.items[ii]!, c);
  const playable = (u: number, t: string) => {
    const b = bundles.get(`${t}|${listeners[u]!.country}`);
    return !!b && checkEntitlement(b, listeners[u]!, start).ok;
  };
  const lists = weeklyPlaylists(data, train, { artistOf, playable }, params.candidates);

  deps.progress?.('playlists');
  let written = 0;
  let unchanged = 0;
  for (const [u, list] of lists.entries()) {
    if (await writePlaylist(deps.playlists, data.users[u]!, week, list)) written++;
    else unchanged++;
  }

  deps.progress?.('index');
  const index = learnedIndex(week, data, train, artistOf);
  const indexBytes = publishIndex(deps.indexDir, index);
  return {
    week,
    trainFrom: new Date(from).toISOString(),
    trainTo: new Date(start).toISOString(),
    plays: plays.length,
    listeners: data.users.length,
    tracks: data.items.length,
    playlistsWritten: written,
    playlistsUnchanged: unchanged,
    shortPlaylists: lists.filter((l) => l.length < 30).length,
    trainSeconds: train.trainSeconds,
    indexVersion: index.meta.version,
    indexBytes,
  };
}

/** Creates or replaces one listener's playlist; false when it already held exactly `trackIds`. */
async function writePlaylist(
  store: PlaylistStore,
  userId: string,
  week: string,
  trackIds: string[],
): Promise<boolean> {
  const id = discoverWeeklyId(userId);
  const description = `Made for ${userId}, week ${week}: new to you, from what listeners like you play.`;
  let current: string[];
  try {
    current = await store.listPlaylistTrackIds(id, SYSTEM_OWNER);
  } catch (err) {
    if (!isStorageError(err, 'not_found')) throw err;
    await store.createPlaylist({
      id,
      ownerId: SYSTEM_OWNER,
      name: DISCOVER_WEEKLY_NAME,
      description,
      public: true,
    });
    current = [];
  }
  if (current.length === trackIds.length && current.every((t, i) => t === trackIds[i])) return false;
  const old = [...new Set(current)];
  for (let i = 0; i < old.length; i += EDIT_BATCH)
    await store.editPlaylist(id, SYSTEM_OWNER, {
      kind: 'removeTracks',
      trackIds: old.slice(i, i + EDIT_BATCH),
    });
  for (let i = 0; i < trackIds.length; i += EDIT_BATCH)
    await store.editPlaylist(id, SYSTEM_OWNER, {
      kind: 'insert',
      trackIds: trackIds.slice(i, i + EDIT_BATCH),
    });
  await store.editPlaylist(id, SYSTEM_OWNER, { kind: 'details', description });
  return true;
}
