/**
 * The content index (radio/content-vectors.ts) as the processes that change the catalog keep
 * it: the radio service at start (app/open-radio.ts) and ingest after it adds tracks
 * (app/ingest.ts, and anything else that ingests into a running product). Both publish
 * through the same `CURRENT` rename as the weekly job's learned index, so every running radio
 * service, embedded or `npm run radio`, loads the new version on its next poll of `CURRENT`
 * and swaps it in without failing a request in flight (radio/index-holder.ts).
 */
import {
  appendFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStore } from '../origin/object-store.ts';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { measureAudio, type AudioFeatures } from '../radio/audio-features.ts';
import { buildContentIndex, type ContentFacts } from '../radio/content-vectors.ts';
import {
  currentVersion,
  IndexError,
  loadIndex,
  publishIndex,
  type VectorIndex,
} from '../radio/vector-index.ts';
import type { CatalogStore } from '../storage/catalog.ts';
import type { AppConfig, RadioConfig } from './config.ts';

/** Where the audio objects are, for measuring a track's audio; absent: metadata only. */
export interface AudioSource {
  objectDir: string;
  tools: AppConfig['tools'];
}

/** The catalog's tracks as content facts (metadata only), in id order. */
export async function catalogFacts(catalog: CatalogStore): Promise<ContentFacts[]> {
  const rows = await catalog.getTracks(await catalog.listTrackIds());
  return [...rows.values()]
    .sort((a, b) => (a.id < b.id ? -1 : 1))
    .map((t) => ({ trackId: t.id, artistId: t.artistId, albumId: t.albumId }));
}

/** Seconds of each track measured: enough for its character, cheap on a busy machine. */
const MEASURED_SECONDS = 30;

/**
 * `facts` with the audio measures of each track's lowest bitrate (init segment + chunks, the
 * first 30 s), cached by content address in <indexDir>/audio-features.json; a track that
 * cannot be measured (no audio file, chunks that are not audio) keeps metadata only, and is
 * remembered as such so it is not tried again.
 */
export async function withAudio(
  indexDir: string,
  catalog: CatalogStore,
  facts: ContentFacts[],
  audio: AudioSource,
  stopped: () => boolean = () => false,
): Promise<{ facts: ContentFacts[]; failures: number }> {
  const ffmpeg = locateTools(audio.tools as Record<string, string | undefined>).ffmpeg;
  const objects = new ObjectStore(audio.objectDir);
  mkdirSync(indexDir, { recursive: true });
  const cacheFile = join(indexDir, 'audio-features.json');
  let cache: Record<string, AudioFeatures | null> = {};
  try {
    cache = JSON.parse(readFileSync(cacheFile, 'utf8')) as Record<string, AudioFeatures | null>;
  } catch {
    // No cache yet (or an unreadable one): measure again.
  }
  const scratch = mkdtempSync(join(tmpdir(), 'radio-audio-'));
  let failures = 0;
  try {
    const out: ContentFacts[] = [];
    for (const f of facts) {
      if (stopped()) return { facts, failures };
      const file = (await catalog.getAudioFiles(f.trackId))[0];
      if (!file) {
        out.push(f);
        continue;
      }
      let measured = cache[file.contentAddress];
      if (measured === undefined) {
        // Init segment + the first chunks make a decodable stream of the track's start.
        const path = join(scratch, 'track.webm');
        writeFileSync(path, readFileSync(objects.pathOf(file.init.key)));
        let ms = 0;
        for (const c of file.chunks) {
          if (ms >= MEASURED_SECONDS * 1000) break;
          appendFileSync(path, readFileSync(objects.pathOf(c.key)));
          ms += c.durationMs;
        }
        measured = await measureAudio(ffmpeg, path, MEASURED_SECONDS).catch(() => null);
        if (measured === null) failures++;
        cache[file.contentAddress] = measured;
      }
      out.push(measured ? { ...f, audio: measured } : f);
    }
    // Renamed into place: another process (ingest beside a running server) never reads half.
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(cache));
    renameSync(tmp, cacheFile);
    return { facts: out, failures };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The content index `CURRENT` names, or undefined when there is none or it does not load. */
export function publishedContent(indexDir: string): VectorIndex | undefined {
  try {
    const version = currentVersion(indexDir, 'content');
    return version === undefined ? undefined : loadIndex(indexDir, 'content', version);
  } catch (e) {
    if (e instanceof IndexError) return undefined;
    throw e;
  }
}

export interface ContentUpdate {
  version: string;
  tracks: number;
  /** Tracks given a new vector by this update. */
  added: number;
  /** Tracks whose audio could not be measured (metadata only). */
  unmeasured: number;
}

/**
 * After ingest: gives the tracks `trackIds` (with their audio measured) and every catalog
 * track the published content index lacks (metadata only) a vector, keeps the rest as
 * published, and publishes the result. Nothing to add: nothing published.
 */
export async function publishNewTracks(
  config: Pick<RadioConfig, 'indexDir'>,
  catalog: CatalogStore,
  trackIds: readonly string[],
  audio?: AudioSource,
): Promise<ContentUpdate | undefined> {
  const base = publishedContent(config.indexDir);
  const wanted = new Set(trackIds);
  const all = await catalogFacts(catalog);
  const fresh = all.filter((f) => wanted.has(f.trackId));
  const missing = all.filter((f) => !wanted.has(f.trackId) && !base?.has(f.trackId));
  if (fresh.length + missing.length === 0) return undefined;
  const measured = audio
    ? await withAudio(config.indexDir, catalog, fresh, audio)
    : { facts: fresh, failures: 0 };
  const index = buildContentIndex([...missing, ...measured.facts], base);
  if (index.meta.version !== base?.meta.version) publishIndex(config.indexDir, index);
  return {
    version: index.meta.version,
    tracks: index.size,
    added: fresh.length + missing.length,
    unmeasured: measured.failures,
  };
}
