/**
 * Ingest: one audio file -> the ladder of WebM/Opus files, cut into aligned chunks, stored
 * content-addressed, described in the catalog. Every failure is an outcome with a stable
 * code and a reason for that file; a batch goes on.
 *
 * Order of writes: objects, then audio files and rights, then the track row last. The track
 * row is the "done" marker: a crash half-way leaves no track, so the next run redoes it (all
 * writes are idempotent upserts, objects dedupe by content).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AudioFile, CatalogStore, Rights } from '../../storage/catalog.ts';
import type { ObjectStore } from '../object-store.ts';
import { encodeLadder, probe, type Tools } from './ffmpeg.ts';
import { CODEC, CONTAINER, MIME_TYPE, TRUE_PEAK_CEILING_DBTP, type IngestOptions } from './ladder.ts';
import { readRightsSidecar, type RightsSpec } from './rights-sidecar.ts';
import { trackFromTags, trackIdFromSource, type MetadataOverrides } from './track-metadata.ts';
import { EbmlError } from './ebml.ts';
import {
  chunkOpusWebm,
  parseOpusWebm,
  OPUS_SAMPLE_RATE,
  type ChunkedWebm,
  type ParsedOpusWebm,
} from './webm-segments.ts';

export type IngestErrorCode =
  | 'unreadable' // not a file we can read, or not media ffprobe understands
  | 'no_audio' // media without an audio stream
  | 'encode_failed' // ffmpeg failed while decoding or encoding
  | 'bad_container' // the encoded WebM did not parse as expected
  | 'misaligned' // rungs of the ladder disagree on chunk boundaries
  | 'bad_rights' // the rights sidecar is invalid
  | 'storage'; // the catalog or object store refused a write

export interface IngestSource {
  path: string;
  /** Fixed track id (demo catalog); default derived from the source bytes. */
  trackId?: string;
  metadata?: MetadataOverrides;
  /** Rights rows; default the `<path>.rights.json` sidecar, else worldwide. */
  rights?: RightsSpec[];
}

export type IngestOutcome =
  | {
      status: 'ingested';
      path: string;
      trackId: string;
      durationMs: number;
      objectsCreated: number;
      objectsReused: number;
    }
  | { status: 'unchanged'; path: string; trackId: string; rightsUpdated: boolean }
  | { status: 'failed'; path: string; code: IngestErrorCode; reason: string };

export interface IngestDeps {
  catalog: CatalogStore;
  objects: ObjectStore;
  tools: Tools;
  options: IngestOptions;
  /** Where per-file scratch folders go (default the OS temp dir). */
  scratchDir?: string;
}

const fail = (path: string, code: IngestErrorCode, reason: string): IngestOutcome => ({
  status: 'failed',
  path,
  code,
  reason,
});

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Replay gain to reach the target, capped so the true peak stays under the ceiling. */
export function replayGainDb(integratedLufs: number, truePeakDbtp: number, targetLufs: number): number {
  // -70 LUFS is the absolute gate: silence (or nearly) gets no gain rather than +56 dB.
  if (!Number.isFinite(integratedLufs) || integratedLufs <= -70) return 0;
  let gain = targetLufs - integratedLufs;
  if (gain > 0 && Number.isFinite(truePeakDbtp))
    gain = Math.min(gain, Math.max(0, TRUE_PEAK_CEILING_DBTP - truePeakDbtp));
  return Math.round(gain * 100) / 100;
}

/** Every rung must have the same chunk starts and lengths (same index = same time). */
export function checkAlignment(rungs: readonly ChunkedWebm[]): string | undefined {
  const [first, ...rest] = rungs;
  if (!first) return 'no rungs';
  for (const r of rest) {
    if (r.chunks.length !== first.chunks.length)
      return `chunk counts differ (${first.chunks.length} vs ${r.chunks.length})`;
    for (let i = 0; i < r.chunks.length; i++) {
      const a = first.chunks[i]!;
      const b = r.chunks[i]!;
      if (a.startMs !== b.startMs || a.samples !== b.samples)
        return `chunk ${i} differs (${a.startMs} ms/${a.samples} vs ${b.startMs} ms/${b.samples})`;
    }
  }
  return undefined;
}

export class Ingester {
  /** Same source bytes in one batch: the second waits for the first, then finds it done. */
  private readonly inflight = new Map<string, Promise<IngestOutcome>>();

  constructor(private readonly deps: IngestDeps) {}

  async ingest(source: IngestSource): Promise<IngestOutcome> {
    let sourceSha: string;
    try {
      sourceSha = await hashFile(source.path);
    } catch (e) {
      return fail(source.path, 'unreadable', (e as Error).message);
    }
    const trackId = source.trackId ?? trackIdFromSource(sourceSha);
    // Get and set with no await between: a second ingest of the same bytes queues behind.
    const prior = this.inflight.get(trackId) ?? Promise.resolve(undefined);
    const run = prior.then(() => this.ingestAs(source, trackId));
    this.inflight.set(trackId, run);
    try {
      return await run;
    } finally {
      if (this.inflight.get(trackId) === run) this.inflight.delete(trackId);
    }
  }

  private async ingestAs(source: IngestSource, trackId: string): Promise<IngestOutcome> {
    const { path } = source;
    const rights = source.rights
      ? { ok: true as const, value: source.rights }
      : await readRightsSidecar(path);
    if (!rights.ok) return fail(path, 'bad_rights', rights.reason);
    try {
      if (await this.isComplete(trackId)) {
        const rightsUpdated = await this.syncRights(trackId, rights.value);
        return { status: 'unchanged', path, trackId, rightsUpdated };
      }
    } catch (e) {
      return fail(path, 'storage', (e as Error).message);
    }

    const probed = await probe(this.deps.tools, path);
    if (!probed.ok) return fail(path, 'unreadable', probed.reason);
    const audio = probed.value.audio;
    if (!audio || audio.channels < 1)
      return fail(path, 'no_audio', `no decodable audio stream (container: ${probed.value.formatName})`);

    const scratch = await mkdtemp(join(this.deps.scratchDir ?? tmpdir(), 'ingest-'));
    try {
      const { ladderKbps, chunkMs, targetLufs, opusComplexity } = this.deps.options;
      const enc = await encodeLadder(
        this.deps.tools,
        path,
        scratch,
        ladderKbps,
        audio.channels,
        opusComplexity,
      );
      if (!enc.ok) return fail(path, 'encode_failed', enc.reason);

      const parsed: ParsedOpusWebm[] = [];
      const rungs: ChunkedWebm[] = [];
      try {
        for (const out of enc.value.outputs) {
          const p = parseOpusWebm(await readFile(out.path));
          parsed.push(p);
          rungs.push(chunkOpusWebm(p, chunkMs));
        }
      } catch (e) {
        if (e instanceof EbmlError) return fail(path, 'bad_container', e.message);
        throw e;
      }
      const misaligned = checkAlignment(rungs);
      if (misaligned) return fail(path, 'misaligned', misaligned);

      const first = parsed[0]!;
      const totalSamples = rungs[0]!.chunks.reduce((n, c) => n + c.samples, 0);
      const durationMs = Math.round(
        ((totalSamples - first.preSkipSamples - first.paddingSamples) * 1000) / OPUS_SAMPLE_RATE,
      );
      const loudness = {
        integratedLufs: Number.isFinite(enc.value.integratedLufs) ? enc.value.integratedLufs : -70,
        replayGainDb: replayGainDb(enc.value.integratedLufs, enc.value.truePeakDbtp, targetLufs),
      };

      let created = 0;
      let reused = 0;
      const files: AudioFile[] = [];
      try {
        for (let r = 0; r < rungs.length; r++) {
          const rung = rungs[r]!;
          const put = async (bytes: Uint8Array) => {
            const res = await this.deps.objects.put(bytes);
            if (res.created) created++;
            else reused++;
            return res;
          };
          const init = await put(rung.init);
          const chunks = [];
          for (const [index, c] of rung.chunks.entries()) {
            const o = await put(c.bytes);
            chunks.push({
              index,
              key: o.key,
              bytes: o.bytes,
              durationMs: (c.samples * 1000) / OPUS_SAMPLE_RATE,
              sha256: o.key,
            });
          }
          // The address of the whole rung is that of the exact byte stream a player appends.
          const whole = createHash('sha256').update(rung.init);
          for (const c of rung.chunks) whole.update(c.bytes);
          files.push({
            trackId,
            bitrateKbps: ladderKbps[r]!,
            codec: CODEC,
            container: CONTAINER,
            mimeType: MIME_TYPE,
            contentAddress: whole.digest('hex'),
            init: { key: init.key, bytes: init.bytes },
            chunkDurationMs: chunkMs,
            chunks,
            encoderDelaySamples: parsed[r]!.preSkipSamples,
            paddingSamples: parsed[r]!.paddingSamples,
            sampleRate: OPUS_SAMPLE_RATE,
            loudness,
          });
        }
        for (const f of files) await this.deps.catalog.putAudioFile(f);
        await this.syncRights(trackId, rights.value);
        await this.deps.catalog.putTrack(
          trackFromTags(trackId, path, probed.value.tags, durationMs, source.metadata),
        );
      } catch (e) {
        return fail(path, 'storage', (e as Error).message);
      }
      return {
        status: 'ingested',
        path,
        trackId,
        durationMs,
        objectsCreated: created,
        objectsReused: reused,
      };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /** True when the track row, every rung at the configured chunk length and all their objects exist. */
  private async isComplete(trackId: string): Promise<boolean> {
    const { catalog, objects, options } = this.deps;
    const tracks = await catalog.getTracks([trackId]);
    if (!tracks.has(trackId)) return false;
    const files = await catalog.getAudioFiles(trackId);
    for (const kbps of options.ladderKbps) {
      const f = files.find((x) => x.bitrateKbps === kbps);
      if (!f || f.chunkDurationMs !== options.chunkMs) return false;
      for (const key of [f.init.key, ...f.chunks.map((c) => c.key)]) {
        if ((await objects.size(key)) === undefined) return false;
      }
    }
    return true;
  }

  /** Writes rights rows that differ from the stored ones; true when anything was written. */
  private async syncRights(trackId: string, specs: readonly RightsSpec[]): Promise<boolean> {
    let wrote = false;
    for (const spec of specs) {
      const want: Rights = { trackId, ...spec };
      const have = (await this.deps.catalog.getRights(trackId, spec.territory)).find(
        (r) => r.territory === spec.territory,
      );
      if (have && sameRights(have, want)) continue;
      await this.deps.catalog.putRights(want);
      wrote = true;
    }
    return wrote;
  }
}

const sameRights = (a: Rights, b: Rights): boolean =>
  a.allowed === b.allowed &&
  a.availableFrom === b.availableFrom &&
  a.availableUntil === b.availableUntil &&
  (a.premiumOnly ?? false) === (b.premiumOnly ?? false);

/** Runs sources through `workers` parallel ingests (e.g. `(s) => ingester.ingest(s)`); results in input order. */
export async function ingestAll<S extends IngestSource>(
  ingest: (source: S) => Promise<IngestOutcome>,
  sources: readonly S[],
  workers: number,
  onDone?: (outcome: IngestOutcome) => void,
): Promise<IngestOutcome[]> {
  const results: IngestOutcome[] = new Array(sources.length);
  let next = 0;
  const worker = async () => {
    while (next < sources.length) {
      const i = next++;
      const src = sources[i]!;
      let outcome: IngestOutcome;
      try {
        outcome = await ingest(src);
      } catch (e) {
        // Unexpected (a bug or the disk): still one file's failure, never the batch's.
        outcome = fail(src.path, 'storage', (e as Error).message);
      }
      results[i] = outcome;
      onDone?.(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, sources.length)) }, worker));
  return results;
}
