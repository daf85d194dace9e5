/**
 * The catalog and listeners of a generated month (pipeline/jobs/generate-month.ts), written
 * into the stores by `npm run job -- generate`, so that what the jobs make of the month
 * (Discover Weekly playlists, radio answers) is playable through the server: track rows,
 * rights (blocked everywhere or in one country), synthetic audio files and the listeners'
 * plans and countries. Idempotent: writing twice changes nothing.
 */
import type { ObjectStore } from '../origin/object-store.ts';
import type { GeneratedMonth } from '../pipeline/jobs/generate-month.ts';
import { audioFile } from './demo-seed.ts';
import type { Stores } from './open-stores.ts';

/**
 * Distinct synthetic recordings shared by the generated tracks: the audio of a generated
 * track says nothing, and writing objects per track would make `generate` slow for no gain.
 */
const RECORDINGS = 4;
const KBPS = 96;
const BATCH = 64;

export async function writeGeneratedCatalog(
  stores: Pick<Stores, 'catalog' | 'users'>,
  objects: ObjectStore,
  gen: Pick<GeneratedMonth, 'tracks' | 'users' | 'blockedTracks'>,
): Promise<void> {
  const recordings = await Promise.all(
    Array.from({ length: RECORDINGS }, (_, r) => audioFile(objects, `generated-recording${r}`, KBPS)),
  );
  for (let i = 0; i < gen.tracks.length; i += BATCH) {
    await Promise.all(
      gen.tracks.slice(i, i + BATCH).map(async (t, k) => {
        const n = i + k;
        await stores.catalog.putAudioFile({ ...recordings[n % RECORDINGS]!, trackId: t.id });
        const everywhere = gen.blockedTracks.has(t.id);
        await stores.catalog.putRights({ trackId: t.id, territory: '*', allowed: !everywhere });
        if (!everywhere)
          for (const c of t.blockedIn)
            await stores.catalog.putRights({ trackId: t.id, territory: c, allowed: false });
        // The track row last: a reader that sees the track sees its files and rights.
        await stores.catalog.putTrack({
          id: t.id,
          title: `Generated ${t.id}`,
          artistId: t.artistId,
          artistName: `Artist ${t.artistId}`,
          albumId: t.albumId,
          albumName: `Album ${t.albumId}`,
          trackNumber: 1 + (n % 10),
          durationMs: recordings[0]!.chunks.reduce((s, c) => s + c.durationMs, 0),
        });
      }),
    );
  }
  for (const u of gen.users)
    await stores.users.putUser({
      id: u.id,
      displayName: `Listener ${u.id}`,
      plan: u.plan,
      country: u.country,
      quality: 'normal',
    });
}
