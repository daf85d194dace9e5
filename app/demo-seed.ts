/**
 * Demo data for `npm start`, the demo, e2e tests and the benchmark: two users (premium SE,
 * free US), a small catalog of synthetic tracks whose chunk objects live in the object store
 * (so the origin serves them and clients verify them by content address), one track blocked
 * in SE, and a demo playlist. Idempotent: seeding twice changes nothing.
 *
 * The encoded demo catalog from real audio belongs to origin/ (ingest); this synthetic one
 * exists so the session server needs neither ffmpeg nor an ingest run to start.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { ObjectStore } from '../origin/object-store.ts';
import type { AudioFile, Track } from '../storage/catalog.ts';
import { isStorageError } from '../storage/errors.ts';
import type { Stores } from './open-stores.ts';
import { DEMO_PLAYLIST_ID } from './demo-tracks.ts';

export interface DemoInfo {
  users: { id: string; plan: 'free' | 'premium'; country: string }[];
  playlistUri: string;
  /** Track uris in playlist order. */
  trackUris: string[];
  /** A track not playable in SE (the premium demo user's country). */
  blockedInSeUri: string;
}

const ARTISTS = ['Aurora Lane', 'The Fjords', 'Kite Theory', 'Nightbus'];
const TRACK_COUNT = 8;
const LADDER = [24, 96, 160, 320];
const CHUNK_MS = 2000;
const TRACK_MS = 20_000;

/** Deterministic pseudo-audio bytes: same track, bitrate and chunk -> same content address. */
function chunkBytes(trackId: string, kbps: number, index: number, size: number): Uint8Array {
  const out = new Uint8Array(size);
  let block = createHash('sha256').update(`${trackId}/${kbps}/${index}`).digest();
  for (let o = 0; o < size; o += block.length) {
    out.set(block.subarray(0, Math.min(block.length, size - o)), o);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

export async function audioFile(objects: ObjectStore, trackId: string, kbps: number): Promise<AudioFile> {
  const chunks: AudioFile['chunks'] = [];
  const count = TRACK_MS / CHUNK_MS;
  // Small synthetic chunks (kbps / 8 bytes per ms / 16) keep the demo light on disk.
  const bytesPerChunk = Math.max(256, Math.round((kbps * CHUNK_MS) / 8 / 16));
  // In parallel: each put fsyncs, and a serial loop makes a cold start take seconds.
  const puts = await Promise.all(
    Array.from({ length: count }, (_, i) => objects.put(chunkBytes(trackId, kbps, i, bytesPerChunk))),
  );
  for (const [i, put] of puts.entries()) {
    chunks.push({ index: i, key: put.key, bytes: bytesPerChunk, durationMs: CHUNK_MS, sha256: put.key });
  }
  const init = await objects.put(chunkBytes(trackId, kbps, -1, 64));
  const whole = createHash('sha256')
    .update(chunks.map((c) => c.key).join())
    .digest('hex');
  return {
    trackId,
    bitrateKbps: kbps,
    codec: 'opus',
    container: 'webm',
    mimeType: 'audio/webm; codecs="opus"',
    contentAddress: whole,
    init: { key: init.key, bytes: 64 },
    chunkDurationMs: CHUNK_MS,
    chunks,
    encoderDelaySamples: 312,
    paddingSamples: 648,
    sampleRate: 48_000,
    loudness: { integratedLufs: -14, replayGainDb: 0 },
  };
}

export async function seedDemo(stores: Stores, objects: ObjectStore, log?: Logger): Promise<DemoInfo> {
  const users: DemoInfo['users'] = [
    { id: 'u1', plan: 'premium', country: 'SE' },
    { id: 'u2', plan: 'free', country: 'US' },
  ];
  for (const u of users) {
    if (!(await stores.users.getUser(u.id))) {
      await stores.users.putUser({
        id: u.id,
        displayName: `Demo ${u.id}`,
        plan: u.plan,
        country: u.country,
        quality: 'high',
      });
    }
  }
  const ids = Array.from({ length: TRACK_COUNT }, (_, i) => `demo${String(i + 1).padStart(2, '0')}`);
  const known = await stores.catalog.getTracks(ids);
  for (const [i, id] of ids.entries()) {
    if (known.has(id)) {
      // Nodes of a cluster share the catalog but each serves chunks from its own object
      // store: one that finds the tracks seeded by another writes the (deterministic) objects.
      const [first] = await stores.catalog.getAudioFiles(id);
      if (first?.chunks[0] && (await objects.size(first.chunks[0].key)) === undefined)
        await Promise.all(LADDER.map((kbps) => audioFile(objects, id, kbps)));
      continue;
    }
    const artist = i % ARTISTS.length;
    const track: Track = {
      id,
      title: `Demo Song ${i + 1}`,
      artistId: `artist${artist + 1}`,
      artistName: ARTISTS[artist]!,
      albumId: 'demo-album',
      albumName: 'Demo Album',
      trackNumber: i + 1,
      durationMs: TRACK_MS,
    };
    const files = await Promise.all(LADDER.map((kbps) => audioFile(objects, id, kbps)));
    for (const f of files) await stores.catalog.putAudioFile(f);
    await stores.catalog.putRights({ trackId: id, territory: '*', allowed: true });
    // The 4th track is blocked in SE: the region-blocked case of the tests and the demo.
    if (i === 3) await stores.catalog.putRights({ trackId: id, territory: 'SE', allowed: false });
    await stores.catalog.putTrack(track);
  }
  try {
    await stores.playlists.getPlaylist(DEMO_PLAYLIST_ID, 'u1');
  } catch (err) {
    if (!isStorageError(err, 'not_found')) throw err;
    try {
      await stores.playlists.createPlaylist({
        id: DEMO_PLAYLIST_ID,
        ownerId: 'u1',
        name: 'Demo Mix',
        public: true,
      });
      await stores.playlists.editPlaylist(DEMO_PLAYLIST_ID, 'u1', { kind: 'insert', trackIds: ids });
    } catch (created) {
      // Cluster nodes sharing a store seed at once: the one that created it fills it.
      if (!isStorageError(created, 'conflict')) throw created;
    }
  }
  log?.debug({ tracks: ids.length }, 'demo catalog ready');
  return {
    users,
    playlistUri: `spotify:playlist:${DEMO_PLAYLIST_ID}`,
    trackUris: ids.map((id) => `spotify:track:${id}`),
    blockedInSeUri: `spotify:track:${ids[3]}`,
  };
}
