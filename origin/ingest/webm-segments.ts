/**
 * Cuts one encoded WebM/Opus file into an MSE init segment and chunks of exactly
 * `chunkMs` each, and reads what gapless playback needs (Opus pre-skip, final padding).
 *
 * Why we re-cluster instead of trusting the muxer's clusters: ffmpeg's WebM muxer stores
 * block timestamps in whole milliseconds after shifting them by the rounded codec delay
 * (0, 21, 41, ... ms) and starts a cluster on the first block past a time limit, so its
 * cluster starts drift with rounding. Opus packets from our encoder are all 20 ms (960
 * samples at 48 kHz), so the raw encoded timeline is exactly k * 20 ms: we re-stamp every
 * block on that grid and start chunk i at exactly i * chunkMs. Every rung of the ladder has
 * the same packet count (same input, same frame size), so chunk i covers the same time at
 * every bitrate by construction; ingest still checks it.
 *
 * Gapless values come from the Opus stream itself, not the muxer: pre-skip from the OpusHead
 * in CodecPrivate (RFC 7845: what a decoder drops; ffmpeg's own decoder uses it and ignores
 * CodecDelay), padding from the last block's DiscardPadding. Matroska's CodecDelay says
 * the same as pre-skip for players that read it instead (MSE in browsers), and old ffmpeg
 * muxers are known to get it wrong, so the init segment's CodecDelay is rewritten from
 * pre-skip whenever the two disagree. origin/ingest/gapless.test.ts checks all of it
 * against decoded audio.
 *
 * The init segment is the EBML header, a Segment header of "unknown" size (a player
 * appends chunks one by one, so no total size can be right), and Info + Tracks. SeekHead
 * and Cues hold byte offsets into the whole file that mean nothing once it is cut up; Tags
 * duplicate the catalog. Each chunk is one Cluster whose Timestamp is absolute, so a player
 * can append another bitrate's init segment and continue with chunk i + 1 of that bitrate.
 */
import {
  EBML_ID,
  EbmlError,
  concatBytes,
  element,
  findChild,
  readChildren,
  readSint,
  readString,
  readUint,
  readVint,
  sintBody,
  uintBody,
  unknownSizeSegmentHeader,
  type EbmlElement,
} from './ebml.ts';

export const OPUS_SAMPLE_RATE = 48_000;
const SAMPLES_PER_MS = OPUS_SAMPLE_RATE / 1000;

export interface OpusPacket {
  payload: Uint8Array;
  samples: number;
}

export interface ParsedOpusWebm {
  header: Uint8Array;
  info: Uint8Array;
  /** The Tracks element, its CodecDelay made equal to the OpusHead pre-skip. */
  tracks: Uint8Array;
  /** CodecDelay (ns) as the muxer wrote it, undefined when absent; for diagnostics. */
  muxerCodecDelayNs: number | undefined;
  /** Track number bytes (EBML vint) as written in the blocks. */
  trackVint: Uint8Array;
  channels: number;
  /** Opus pre-skip from the OpusHead (samples at 48 kHz to drop at the start). */
  preSkipSamples: number;
  /** Samples the encoder added at the end (the last block's DiscardPadding), 0 if none. */
  paddingSamples: number;
  packets: OpusPacket[];
}

export interface WebmChunk {
  bytes: Uint8Array;
  startMs: number;
  /** Encoded samples (48 kHz) in the chunk, padding included. */
  samples: number;
}

export interface ChunkedWebm {
  init: Uint8Array;
  chunks: WebmChunk[];
}

/** Samples (48 kHz) in one Opus packet, from its TOC byte (RFC 6716 section 3.1). */
export function opusPacketSamples(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const config = toc >> 3;
  let frame: number;
  if (config < 12) frame = [480, 960, 1920, 2880][config % 4]!;
  else if (config < 16) frame = [480, 960][config % 2]!;
  else frame = [120, 240, 480, 960][config % 4]!;
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : (packet[1] ?? 0) & 0x3f;
  return frame * frames;
}

const samplesToNs = (samples: number) => Math.round((samples * 1e9) / OPUS_SAMPLE_RATE);

/**
 * The Tracks element with its one TrackEntry's CodecDelay set to `delayNs`: the original
 * bytes when the muxer already wrote that value (so content addresses stay put), else the
 * entry rebuilt with CodecDelay replaced, or added after CodecPrivate.
 */
function tracksWithCodecDelay(
  buf: Uint8Array,
  tracks: EbmlElement,
  entry: EbmlElement,
  delayNs: number,
): Uint8Array {
  const children = readChildren(buf, entry.dataStart, entry.end);
  const current = children.find((c) => c.id === EBML_ID.CodecDelay);
  if (current && readUint(buf, current) === delayNs) return buf.subarray(tracks.start, tracks.end);
  const delay = element(EBML_ID.CodecDelay, uintBody(delayNs));
  const parts: Uint8Array[] = [];
  for (const c of children) {
    if (c.id === EBML_ID.CodecDelay) continue;
    parts.push(buf.subarray(c.start, c.end));
    if (c.id === EBML_ID.CodecPrivate) parts.push(delay);
  }
  return element(EBML_ID.Tracks, element(EBML_ID.TrackEntry, ...parts));
}

/** Track vint and payload of a SimpleBlock or Block (skips timestamp and flags). */
function blockParts(buf: Uint8Array, el: EbmlElement): { track: Uint8Array; payload: Uint8Array } {
  const track = readVint(buf, el.dataStart);
  const flagsAt = el.dataStart + track.width + 2;
  if ((buf[flagsAt]! & 0x06) !== 0) throw new EbmlError('laced blocks are not expected in an Opus WebM');
  return {
    track: buf.subarray(el.dataStart, el.dataStart + track.width),
    payload: buf.subarray(flagsAt + 1, el.end),
  };
}

/** Reads an ffmpeg-written WebM with one Opus track. Throws EbmlError on anything else. */
export function parseOpusWebm(buf: Uint8Array): ParsedOpusWebm {
  const top = readChildren(buf, 0, buf.length);
  const header = top.find((e) => e.id === EBML_ID.EBML);
  const segment = top.find((e) => e.id === EBML_ID.Segment);
  if (!header || !segment) throw new EbmlError('not a WebM file (no EBML header or Segment)');
  const children = readChildren(buf, segment.dataStart, segment.end);
  const info = children.find((e) => e.id === EBML_ID.Info);
  const tracks = children.find((e) => e.id === EBML_ID.Tracks);
  if (!info || !tracks) throw new EbmlError('WebM without Info or Tracks');
  const scale = findChild(buf, info, EBML_ID.TimestampScale);
  if (scale && readUint(buf, scale) !== 1_000_000) throw new EbmlError('expected a TimestampScale of 1 ms');

  const entries = readChildren(buf, tracks.dataStart, tracks.end).filter((e) => e.id === EBML_ID.TrackEntry);
  if (entries.length !== 1) throw new EbmlError(`expected one track, found ${entries.length}`);
  const entry = entries[0]!;
  const codecEl = findChild(buf, entry, EBML_ID.CodecID);
  const codecId = codecEl ? readString(buf, codecEl) : '';
  if (codecId !== 'A_OPUS') throw new EbmlError(`expected A_OPUS, found '${codecId}'`);
  const priv = findChild(buf, entry, EBML_ID.CodecPrivate);
  // OpusHead (RFC 7845 5.1): magic(8) version(1) channels(1) pre-skip(2, LE) rate(4, LE) ...
  if (!priv || priv.end - priv.dataStart < 19) throw new EbmlError('Opus track without an OpusHead');
  const head = buf.subarray(priv.dataStart, priv.end);
  if (Buffer.from(head.subarray(0, 8)).toString('latin1') !== 'OpusHead')
    throw new EbmlError('bad OpusHead magic');

  const preSkipSamples = head[10]! | (head[11]! << 8);
  const delayEl = findChild(buf, entry, EBML_ID.CodecDelay);
  const muxerCodecDelayNs = delayEl ? readUint(buf, delayEl) : undefined;

  const packets: OpusPacket[] = [];
  let trackVint: Uint8Array | undefined;
  let discardNs = 0;
  const take = (el: EbmlElement) => {
    const { track, payload } = blockParts(buf, el);
    trackVint ??= track;
    packets.push({ payload, samples: opusPacketSamples(payload) });
  };
  for (const cluster of children) {
    if (cluster.id !== EBML_ID.Cluster) continue;
    for (const child of readChildren(buf, cluster.dataStart, cluster.end)) {
      if (child.id === EBML_ID.SimpleBlock) take(child);
      else if (child.id === EBML_ID.BlockGroup) {
        for (const g of readChildren(buf, child.dataStart, child.end)) {
          if (g.id === EBML_ID.Block) take(g);
          else if (g.id === EBML_ID.DiscardPadding) discardNs = readSint(buf, g);
        }
      }
    }
  }
  if (packets.length === 0 || !trackVint) throw new EbmlError('WebM without audio packets');
  return {
    header: buf.subarray(header.start, header.end),
    info: buf.subarray(info.start, info.end),
    tracks: tracksWithCodecDelay(buf, tracks, entry, samplesToNs(preSkipSamples)),
    muxerCodecDelayNs,
    trackVint,
    channels: head[9]!,
    preSkipSamples,
    paddingSamples: Math.max(0, Math.round((discardNs * OPUS_SAMPLE_RATE) / 1e9)),
    packets,
  };
}

/**
 * Re-clusters the packets into chunks of exactly `chunkMs` (the last one shorter), block
 * timestamps on the exact sample grid. The last packet carries the DiscardPadding again.
 */
export function chunkOpusWebm(parsed: ParsedOpusWebm, chunkMs: number): ChunkedWebm {
  const chunkSamples = chunkMs * SAMPLES_PER_MS;
  const chunks: WebmChunk[] = [];
  let blocks: Uint8Array[] = [];
  let chunkStart = 0;
  let pos = 0;
  const flush = () => {
    if (blocks.length === 0) return;
    const startMs = chunkStart / SAMPLES_PER_MS;
    const bytes = element(EBML_ID.Cluster, element(EBML_ID.Timestamp, uintBody(startMs)), ...blocks);
    chunks.push({ bytes, startMs, samples: pos - chunkStart });
    blocks = [];
    chunkStart = pos;
  };
  parsed.packets.forEach((p, i) => {
    if (pos - chunkStart >= chunkSamples) flush();
    const relMs = (pos - chunkStart) / SAMPLES_PER_MS;
    if (!Number.isInteger(relMs) || p.samples % SAMPLES_PER_MS !== 0 || chunkSamples % p.samples !== 0) {
      throw new EbmlError(`packet ${i} of ${p.samples} samples does not tile ${chunkMs} ms chunks`);
    }
    const ts = Uint8Array.of((relMs >> 8) & 0xff, relMs & 0xff);
    const last = i === parsed.packets.length - 1;
    if (last && parsed.paddingSamples > 0) {
      const block = element(EBML_ID.Block, parsed.trackVint, ts, Uint8Array.of(0x00), p.payload);
      const padNs = samplesToNs(parsed.paddingSamples);
      blocks.push(element(EBML_ID.BlockGroup, block, element(EBML_ID.DiscardPadding, sintBody(padNs))));
    } else {
      // 0x80: keyframe; every Opus packet decodes on its own (after pre-roll).
      blocks.push(element(EBML_ID.SimpleBlock, parsed.trackVint, ts, Uint8Array.of(0x80), p.payload));
    }
    pos += p.samples;
  });
  flush();
  const init = concatBytes([parsed.header, unknownSizeSegmentHeader(), parsed.info, parsed.tracks]);
  return { init, chunks };
}
