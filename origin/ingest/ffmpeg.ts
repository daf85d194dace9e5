/**
 * ffmpeg and ffprobe as child processes: locating them, probing an input, and one decode
 * that feeds every rung of the ladder plus the EBU R128 meter (decode once, encode N times).
 *
 * Binaries, first that runs wins: FFMPEG_PATH / FFPROBE_PATH (an explicit choice: set but
 * not runnable is an error, never a silent fallback), then `ffmpeg` / `ffprobe` on PATH
 * (the system's, e.g. Debian's), then the static builds shipped inside the dependencies
 * `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`, so a machine with no ffmpeg
 * installed still ingests. The npm ffmpeg is 4.1 (2018): a system build is preferred, and
 * `describeTools` names the one that runs so the log says which. Nothing is downloaded.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import { OPUS_MAX_KBPS_PER_CHANNEL } from './ladder.ts';

export interface Tools {
  ffmpeg: string;
  ffprobe: string;
}

/** Where a binary came from, in order of preference. */
type ToolSource = 'env' | 'path' | 'npm';

interface FoundTool {
  path: string;
  source: ToolSource;
  /** The token after "version" on the first line of `-version`, e.g. `5.1.6-0+deb12u1`. */
  version: string;
  /** e.g. `libavformat 58.24.101` (the muxer's version: gapless fields depend on it). */
  libavformat: string | undefined;
  /** npm package and its build tag, for source `npm`. */
  npmPackage?: string;
}

export interface LocatedTools extends Tools {
  found: { ffmpeg: FoundTool; ffprobe: FoundTool };
}

export class ToolError extends Error {
  override readonly name = 'ToolError';
}

/** `-version` output of a runnable binary, undefined when it does not run. */
function versionOf(bin: string): { version: string; libavformat: string | undefined } | undefined {
  const r = spawnSync(bin, ['-version'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) return undefined;
  const version = /version\s+(\S+)/.exec(r.stdout)?.[1] ?? 'unknown';
  const av = /libavformat\s+(\d+)\.\s*(\d+)\.\s*(\d+)/.exec(r.stdout);
  return { version, libavformat: av ? `libavformat ${av[1]}.${av[2]}.${av[3]}` : undefined };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** First executable `name` in the PATH of `env` (resolved here so the log can name it). */
function onPath(name: string, env: Record<string, string | undefined>): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function fromPackage(pkg: string): { path: string; npmPackage: string } | undefined {
  try {
    const req = createRequire(import.meta.url);
    const { path, version } = req(pkg) as { path?: string; version?: string };
    return path ? { path, npmPackage: `${pkg} build ${version ?? 'unknown'}` } : undefined;
  } catch {
    // Unsupported platform, or the package was pruned: not a candidate.
    return undefined;
  }
}

/** Finds working ffmpeg and ffprobe binaries; throws ToolError naming what is missing. */
export function locateTools(env: Record<string, string | undefined>): LocatedTools {
  const pick = (name: 'ffmpeg' | 'ffprobe', envVar: string, pkg: string, beside?: string): FoundTool => {
    const explicit = env[envVar];
    if (explicit) {
      const v = versionOf(explicit);
      if (!v) throw new ToolError(`${envVar}=${explicit} does not run (\`${explicit} -version\` failed)`);
      return { path: explicit, source: 'env', ...v };
    }
    // FFMPEG_PATH alone: its ffprobe sibling belongs to the same build.
    const sibling = beside ? join(dirname(beside), name) : undefined;
    const candidates: { path: string; source: ToolSource; npmPackage?: string }[] = [];
    if (sibling) candidates.push({ path: sibling, source: 'env' });
    const system = onPath(name, env);
    if (system) candidates.push({ path: system, source: 'path' });
    const shipped = fromPackage(pkg);
    if (shipped) candidates.push({ ...shipped, source: 'npm' });
    const tried: string[] = [];
    for (const c of candidates) {
      const v = versionOf(c.path);
      if (v) return { ...c, ...v };
      tried.push(`${c.path}${isExecutable(c.path) ? '' : ' (not executable)'}`);
    }
    // npm skips a package's chmod postinstall unless package.json allowScripts approves it.
    const hint =
      shipped && !isExecutable(shipped.path)
        ? `; ${shipped.path} lacks its execute bit: approve its package's install script in allowScripts, then npm rebuild`
        : '';
    throw new ToolError(
      `${name} not found: install it (apt install ffmpeg), set ${envVar}, or npm install ${pkg} ` +
        `(tried ${tried.join(', ') || 'nothing'})${hint}`,
    );
  };
  const ffmpeg = pick('ffmpeg', 'FFMPEG_PATH', '@ffmpeg-installer/ffmpeg');
  const ffprobe = pick(
    'ffprobe',
    'FFPROBE_PATH',
    '@ffprobe-installer/ffprobe',
    ffmpeg.source === 'env' ? ffmpeg.path : undefined,
  );
  return { ffmpeg: ffmpeg.path, ffprobe: ffprobe.path, found: { ffmpeg, ffprobe } };
}

const SOURCE_WORDS: Record<ToolSource, string> = {
  env: 'from FFMPEG_PATH/FFPROBE_PATH',
  path: 'system, on PATH',
  npm: 'npm',
};

/** One line for the log: which binaries run, from where, which versions. */
export function describeTools(t: LocatedTools): string {
  const one = (name: string, f: FoundTool) =>
    `${name} ${f.version} at ${f.path} (${SOURCE_WORDS[f.source]}${f.npmPackage ? ` ${f.npmPackage}` : ''}` +
    `${f.libavformat ? `, ${f.libavformat}` : ''})`;
  return `${one('ffmpeg', t.found.ffmpeg)}; ${one('ffprobe', t.found.ffprobe)}`;
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
