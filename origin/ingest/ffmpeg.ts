/**
 * ffmpeg and ffprobe as child processes: locating them, probing an input, and one decode
 * that feeds every rung of the ladder plus the EBU R128 meter (decode once, encode N times).
 *
 * Binaries: FFMPEG_PATH / FFPROBE_PATH if set, else the system's `ffmpeg` / `ffprobe` on
 * PATH, else the binaries shipped inside `@ffmpeg-installer/ffmpeg` and
 * `@ffprobe-installer/ffprobe` if those packages are installed (they are not dependencies:
 * every machine of ours has Debian's ffmpeg). Nothing is downloaded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { OPUS_MAX_KBPS_PER_CHANNEL } from './ladder.ts';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

export class ToolError extends Error {
  override readonly name = 'ToolError';
}

function works(bin: string): boolean {
  const r = spawnSync(bin, ['-version'], { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

function fromPackage(pkg: string): string | undefined {
  try {
    const req = createRequire(import.meta.url);
    return (req(pkg) as { path?: string }).path;
  } catch {
    return undefined;
  }
}

/** Finds working ffmpeg and ffprobe binaries; throws ToolError naming what is missing. */
export function locateTools(env: Record<string, string | undefined> = {}): Tools {
  const pick = (name: 'ffmpeg' | 'ffprobe', envVar: string, pkg: string): string => {
    const candidates = [env[envVar], name, fromPackage(pkg)].filter((c): c is string => !!c);
    const found = candidates.find(works);
    if (!found) {
      throw new ToolError(
        `${name} not found: install it (apt install ffmpeg), set ${envVar}, or npm install ${pkg}`,
      );
    }
    return found;
  };
  return {
    ffmpeg: pick('ffmpeg', 'FFMPEG_PATH', '@ffmpeg-installer/ffmpeg'),
    ffprobe: pick('ffprobe', 'FFPROBE_PATH', '@ffprobe-installer/ffprobe'),
  };
}

export interface RunResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs a tool to completion, killing it after `timeoutMs`. Never throws for exit codes. */
export function run(bin: string, args: readonly string[], timeoutMs = 10 * 60_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let errBytes = 0;
    child.stdout.on('data', (d: Buffer) => out.push(d));
    // Keep only the tail of stderr: ffmpeg can be chatty and we need the last lines.
    child.stderr.on('data', (d: Buffer) => {
      err.push(d);
      errBytes += d.length;
      while (errBytes > 256 * 1024 && err.length > 1) errBytes -= err.shift()!.length;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new ToolError(`cannot run ${bin}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** Last meaningful stderr lines, for error reports. */
export const stderrTail = (stderr: string, lines = 3): string =>
  stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-lines)
    .map((l) => (l.length > 200 ? `${l.slice(0, 200)}...` : l))
    .join(' | ');

export interface ProbeResult {
  formatName: string;
  durationS: number;
  /** Format and first-audio-stream tags, keys lower-cased (format wins). */
  tags: Record<string, string>;
  audio: { codec: string; sampleRate: number; channels: number } | undefined;
}

/** ffprobe of one input; undefined + reason when it is not a readable media file. */
export async function probe(
  tools: Tools,
  path: string,
): Promise<{ ok: true; value: ProbeResult } | { ok: false; reason: string }> {
  const r = await run(
    tools.ffprobe,
    ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path],
    60_000,
  );
  if (r.code !== 0) return { ok: false, reason: stderrTail(r.stderr) || `ffprobe exited with ${r.code}` };
  let json: {
    format?: { format_name?: string; duration?: string; tags?: Record<string, string> };
    streams?: {
      codec_type?: string;
      codec_name?: string;
      sample_rate?: string;
      channels?: number;
      tags?: Record<string, string>;
    }[];
  };
  try {
    json = JSON.parse(r.stdout.toString('utf8'));
  } catch {
    return { ok: false, reason: 'ffprobe printed no JSON' };
  }
  const stream = json.streams?.find((s) => s.codec_type === 'audio');
  const tags: Record<string, string> = {};
  for (const src of [stream?.tags, json.format?.tags]) {
    for (const [k, v] of Object.entries(src ?? {})) tags[k.toLowerCase()] = v;
  }
  return {
    ok: true,
    value: {
      formatName: json.format?.format_name ?? 'unknown',
      durationS: Number(json.format?.duration ?? NaN),
      tags,
      audio: stream
        ? {
            codec: stream.codec_name ?? 'unknown',
            sampleRate: Number(stream.sample_rate ?? 0),
            channels: stream.channels ?? 0,
          }
        : undefined,
    },
  };
}

export interface LadderEncode {
  /** Encoded WebM path per rung, in ladder order. */
  outputs: { kbps: number; path: string }[];
  integratedLufs: number;
  truePeakDbtp: number;
}

/**
 * One ffmpeg run: decode the first audio stream, resample to 48 kHz float mono/stereo
 * (more channels are downmixed to stereo), re-time from sample 0 (inputs with a start
 * offset, e.g. MP3 encoder delay, get the same grid), split to every rung plus the EBU R128
 * meter. Bitexact flags make the WebM bytes a pure function of the input (no random UIDs,
 * no version strings), so a re-encode yields the same content addresses.
 */
export async function encodeLadder(
  tools: Tools,
  input: string,
  outDir: string,
  ladderKbps: readonly number[],
  channels: number,
  complexity = 10,
): Promise<{ ok: true; value: LadderEncode } | { ok: false; reason: string }> {
  const n = ladderKbps.length;
  const labels = ladderKbps.map((_, i) => `[e${i}]`).join('');
  const graph =
    `[0:a:0]aresample=48000,aformat=sample_fmts=flt:sample_rates=48000:channel_layouts=mono|stereo,` +
    `asetpts=N/SR/TB,asplit=${n + 1}${labels}[m];[m]ebur128=framelog=verbose:peak=true[mo]`;
  const outChannels = Math.min(2, Math.max(1, channels));
  const args = [
    '-hide_banner',
    '-nostdin',
    '-nostats',
    '-v',
    'info',
    '-y',
    '-i',
    input,
    '-filter_complex',
    graph,
  ];
  const outputs = ladderKbps.map((kbps, i) => {
    const path = join(outDir, `${kbps}.webm`);
    const target = Math.min(kbps, OPUS_MAX_KBPS_PER_CHANNEL * outChannels);
    args.push(
      '-map',
      `[e${i}]`,
      '-map_metadata',
      '-1',
      '-c:a',
      'libopus',
      '-b:a',
      `${target}k`,
      '-vbr',
      'on',
      '-application',
      'audio',
      '-frame_duration',
      '20',
      '-compression_level',
      String(complexity),
      '-flags:a',
      '+bitexact',
      '-fflags',
      '+bitexact',
      '-cluster_size_limit',
      '8M',
      '-cluster_time_limit',
      '30000',
      '-f',
      'webm',
      path,
    );
    return { kbps, path };
  });
  args.push('-map', '[mo]', '-f', 'null', '-');
  const r = await run(tools.ffmpeg, args);
  if (r.code !== 0) return { ok: false, reason: stderrTail(r.stderr) || `ffmpeg exited with ${r.code}` };
  const loud = parseEbur128Summary(r.stderr);
  if (!loud) return { ok: false, reason: 'ffmpeg printed no EBU R128 summary' };
  return { ok: true, value: { outputs, ...loud } };
}

/** Integrated loudness and true peak from the ebur128 filter's summary on stderr. */
export function parseEbur128Summary(
  stderr: string,
): { integratedLufs: number; truePeakDbtp: number } | undefined {
  const at = stderr.lastIndexOf('Summary:');
  if (at < 0) return undefined;
  const tail = stderr.slice(at);
  const i = /Integrated loudness:\s*\n\s*I:\s*(-?[\d.]+|-inf)\s*LUFS/.exec(tail);
  if (!i) return undefined;
  const p = /True peak:\s*\n\s*Peak:\s*(-?[\d.]+|-inf)\s*dBFS/.exec(tail);
  const num = (s: string | undefined) => (s === undefined || s === '-inf' ? -Infinity : Number(s));
  return { integratedLufs: num(i[1]), truePeakDbtp: num(p?.[1]) };
}
