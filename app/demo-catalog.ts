/**
 * `ensureDemoCatalog(stores, config)`: on a fresh store, synthesizes the demo tracks of
 * demo-tracks.ts with ffmpeg, ingests them through the real pipeline (ladder, chunks,
 * objects, catalog rows, rights), then writes the demo users and playlists. Called by the
 * session server's start-up; only what is missing is made, so a second start costs one
 * batched read. Ids are fixed (see demo-tracks.ts) and printed, for the demo client.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CatalogStore } from '../storage/catalog.ts';
import { isStorageError } from '../storage/errors.ts';
import type { PlaylistStore } from '../storage/playlists.ts';
import type { UserStore } from '../storage/users.ts';
import { describeTools, locateTools, run, stderrTail, type Tools } from '../origin/ingest/ffmpeg.ts';
import { Ingester, ingestAll, type IngestOutcome } from '../origin/ingest/ingest.ts';
import { defaultIngestOptions, type IngestOptions } from '../origin/ingest/ladder.ts';
import { ObjectStore } from '../origin/object-store.ts';
import {
  DEMO_COLLAB_PLAYLIST_ID,
  DEMO_PLAYLIST_ID,
  DEMO_PLAYLISTS,
  DEMO_TRACKS,
  DEMO_USERS,
  type DemoTrack,
} from './demo-tracks.ts';

export interface DemoCatalogConfig {
  objectDir: string;
  /** Parallel ffmpeg runs (default 2: our machines have 2 cores). */
  workers?: number;
  ingest?: Partial<IngestOptions>;
  scratchDir?: string;
  /** Where to look for ffmpeg (FFMPEG_PATH, FFPROBE_PATH, PATH); located only when tracks are missing. */
  toolsEnv: Record<string, string | undefined>;
  /** Cut every track to at most this many seconds (default: full length, 17-90 s). */
  maxTrackSeconds?: number | undefined;
  /** Progress and summary lines (default console.log). */
  log?: (line: string) => void;
}

export interface DemoCatalogInfo {
  users: { id: string; plan: 'free' | 'premium'; country: string }[];
  playlistId: string;
  playlistUri: string;
  collaborativePlaylistId: string;
  playlistIds: string[];
  trackIds: string[];
  /** Track uris of the demo playlist, in order. */
  trackUris: string[];
  blockedInSeUri: string;
  futureReleaseUri: string;
  premiumOnlyUri: string;
  /** Tracks encoded by this call (0 when the catalog was already there) and the time it took. */
  ingested: number;
  ingestMs: number;
  failures: Extract<IngestOutcome, { status: 'failed' }>[];
}

export interface DemoStores {
  catalog: CatalogStore;
  users: UserStore;
  playlists: PlaylistStore;
}

/** Synthetic tones need no top effort; this cuts the demo build's encode time by ~40 %. */
const DEMO_OPUS_COMPLEXITY = 5;

const uri = (kind: 'track' | 'playlist', id: string) => `spotify:${kind}:${id}`;

async function synthesize(tools: Tools, t: DemoTrack, path: string, maxSeconds = Infinity): Promise<void> {
  const durationS = Math.min(t.durationS, maxSeconds);
  const tags = [
    'title',
    t.title,
    'artist',
    t.artist.name,
    'album',
    t.artist.album,
    'track',
    String(t.trackNumber),
  ];
  if (t.isrc) tags.push('ISRC', t.isrc);
  // Quoted: the expression's commas would otherwise split the filtergraph.
  // Synthesized at 24 kHz (all partials are below 1.2 kHz; ingest resamples to 48 kHz):
  // the per-sample expression is the costliest step of the demo build.
  const args = [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    `aevalsrc='${t.expr}':s=24000:d=${durationS}`,
  ];
  const l = (1 - t.pan).toFixed(2);
  const r = (1 + t.pan).toFixed(2);
  const filters = [`pan=stereo|c0=${l}*c0|c1=${r}*c0`];
  if (t.fades?.in ?? true) filters.push('afade=t=in:d=0.05');
  if (t.fades?.out ?? true) filters.push(`afade=t=out:st=${durationS - 1.5}:d=1.5`);
  args.push('-af', filters.join(','));
  for (let i = 0; i < tags.length; i += 2) args.push('-metadata', `${tags[i]}=${tags[i + 1]}`);
  args.push('-c:a', 'flac', path);
  const res = await run(tools.ffmpeg, args, 120_000);
  if (res.code !== 0) throw new Error(`synthesizing ${t.id} failed: ${stderrTail(res.stderr)}`);
}

/** The binaries the demo build runs, named in the log (a system ffmpeg, or npm's 4.1). */
function locateAndLog(env: Record<string, string | undefined>, log: (line: string) => void): Tools {
  const located = locateTools(env);
  log(`demo catalog: ${describeTools(located)}`);
  return located;
}

export async function ensureDemoCatalog(
  stores: DemoStores,
  config: DemoCatalogConfig,
): Promise<DemoCatalogInfo> {
  const log = config.log ?? ((l: string) => console.log(l));
  const workers = config.workers ?? 2;
  const known = await stores.catalog.getTracks(DEMO_TRACKS.map((t) => t.id));
  const missing = DEMO_TRACKS.filter((t) => !known.has(t.id));
  const started = Date.now();
  let outcomes: IngestOutcome[] = [];

  if (missing.length > 0) {
    const tools = locateAndLog(config.toolsEnv, log);
    log(
      `demo catalog: synthesizing and ingesting ${missing.length} tracks with ${workers} ffmpeg workers...`,
    );
    const scratch = await mkdtemp(join(config.scratchDir ?? tmpdir(), 'demo-catalog-'));
    try {
      const ingester = new Ingester({
        catalog: stores.catalog,
        objects: new ObjectStore(config.objectDir),
        tools,
        options: {
          ...defaultIngestOptions(),
          opusComplexity: DEMO_OPUS_COMPLEXITY,
          ...config.ingest,
          workers,
        },
        scratchDir: scratch,
      });
      // Synthesis is part of each worker's job, so generation and encoding overlap.
      const pending = missing.map((t) => ({
        t,
        path: join(scratch, `${t.id}.flac`),
        trackId: t.id,
        rights: t.rights,
        metadata: { artistId: t.artist.id, albumId: t.artist.albumId },
      }));
      const synthesizeThenIngest = async (src: (typeof pending)[number]): Promise<IngestOutcome> => {
        try {
          await synthesize(tools, src.t, src.path, config.maxTrackSeconds);
        } catch (e) {
          return { status: 'failed', path: src.path, code: 'encode_failed', reason: (e as Error).message };
        }
        return ingester.ingest(src);
      };
      let done = 0;
      outcomes = await ingestAll(synthesizeThenIngest, pending, workers, (o) => {
        done++;
        if (o.status === 'failed') log(`demo catalog: ${o.path}: ${o.code}: ${o.reason}`);
        else if (done % 10 === 0 || done === pending.length)
          log(`demo catalog: ${done}/${pending.length} tracks`);
      });
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
  const ingestMs = Date.now() - started;

  for (const u of DEMO_USERS) {
    if (!(await stores.users.getUser(u.id))) await stores.users.putUser({ ...u });
  }
  for (const p of DEMO_PLAYLISTS) await ensurePlaylist(stores.playlists, p);

  const failures = outcomes.filter(
    (o): o is Extract<IngestOutcome, { status: 'failed' }> => o.status === 'failed',
  );
  const ingested = outcomes.filter((o) => o.status === 'ingested').length;
  const mix = DEMO_PLAYLISTS[0];
  const info: DemoCatalogInfo = {
    users: DEMO_USERS.map((u) => ({ id: u.id, plan: u.plan, country: u.country })),
    playlistId: DEMO_PLAYLIST_ID,
    playlistUri: uri('playlist', DEMO_PLAYLIST_ID),
    collaborativePlaylistId: DEMO_COLLAB_PLAYLIST_ID,
    playlistIds: DEMO_PLAYLISTS.map((p) => p.id),
    trackIds: DEMO_TRACKS.map((t) => t.id),
    trackUris: mix.trackIds.map((id) => uri('track', id)),
    blockedInSeUri: uri(
      'track',
      DEMO_TRACKS.find((t) => t.rights.some((r) => r.territory === 'SE' && !r.allowed))!.id,
    ),
    futureReleaseUri: uri(
      'track',
      DEMO_TRACKS.find((t) => t.rights.some((r) => r.availableFrom !== undefined))!.id,
    ),
    premiumOnlyUri: uri('track', DEMO_TRACKS.find((t) => t.rights.some((r) => r.premiumOnly))!.id),
    ingested,
    ingestMs,
    failures,
  };
  log(
    `demo catalog: ${DEMO_TRACKS.length - failures.length} tracks (${ingested} encoded now in ${(ingestMs / 1000).toFixed(1)} s), ` +
      `users ${info.users.map((u) => `${u.id} (${u.plan}, ${u.country})`).join(', ')}; ` +
      `playlists ${info.playlistIds.join(', ')} (demo: ${info.playlistUri}, collaborative: ${DEMO_COLLAB_PLAYLIST_ID})`,
  );
  return info;
}

async function ensurePlaylist(store: PlaylistStore, p: (typeof DEMO_PLAYLISTS)[number]): Promise<void> {
  let length: number;
  try {
    length = (await store.getPlaylist(p.id, p.ownerId)).length;
  } catch (err) {
    if (!isStorageError(err, 'not_found')) throw err;
    await store.createPlaylist({
      id: p.id,
      ownerId: p.ownerId,
      name: p.name,
      public: p.public,
      collaborative: p.collaborative,
      collaborators: [...p.collaborators],
    });
    length = 0;
  }
  // Empty means "created, but a crash came before the entries": fill it now.
  if (length > 0) return;
  await store.editPlaylist(p.id, p.ownerId, { kind: 'insert', trackIds: [...p.trackIds] });
  if ('addedByCollaborators' in p) {
    for (const [user, trackIds] of Object.entries(p.addedByCollaborators)) {
      await store.editPlaylist(p.id, user, { kind: 'insert', trackIds: [...trackIds] });
    }
  }
}
