/**
 * What ffmpeg can measure of a track's decoded audio, for its content vector: integrated
 * loudness and loudness range (`ebur128`), RMS, crest factor and zero-crossing rate
 * (`astats`), and the energy of four frequency bands (`asplit` into band filters, an `astats`
 * each), a coarse spectral envelope. ffmpeg 4.1 (the npm build) has no spectral-statistics
 * filter, hence the bands.
 */
import { spawn } from 'node:child_process';

export interface AudioFeatures {
  loudnessLufs: number;
  loudnessRangeLu: number;
  rmsDb: number;
  crestDb: number;
  zeroCrossingRate: number;
  /** RMS dB of: < 250 Hz, 250-2000 Hz, 2-6 kHz, > 6 kHz. */
  bandsDb: number[];
}

const GRAPH =
  'aformat=channel_layouts=mono,asplit=6[f][s][b0][b1][b2][b3];' +
  '[f]ebur128=framelog=verbose,anullsink;[s]astats=metadata=0,anullsink;' +
  '[b0]lowpass=f=250,astats,anullsink;[b1]highpass=f=250,lowpass=f=2000,astats,anullsink;' +
  '[b2]highpass=f=2000,lowpass=f=6000,astats,anullsink;[b3]highpass=f=6000,astats,anullsink';

export class AudioFeaturesError extends Error {
  readonly code = 'audio_unmeasurable';
}

/** Measures `input` (any file ffmpeg decodes), at most `maxSeconds` of it. */
export function measureAudio(ffmpeg: string, input: string, maxSeconds = 60): Promise<AudioFeatures> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      ffmpeg,
      [
        '-hide_banner',
        '-nostats',
        '-t',
        String(maxSeconds),
        '-i',
        input,
        '-filter_complex',
        GRAPH,
        '-f',
        'null',
        '-',
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    p.on('error', (e) => reject(new AudioFeaturesError(`ffmpeg did not start: ${e.message}`)));
    p.on('close', (code) => {
      if (code !== 0) return reject(new AudioFeaturesError(`ffmpeg exited ${code}: ${err.slice(-300)}`));
      try {
        resolve(parseMeasures(err));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Reads the filters' summaries from ffmpeg's log. */
export function parseMeasures(log: string): AudioFeatures {
  const num = (re: RegExp, text: string) => {
    const m = re.exec(text);
    if (!m) throw new AudioFeaturesError(`ffmpeg's log lacks ${re.source}`);
    return m[1] === '-inf' ? -120 : Number(m[1]);
  };
  const summary = log.slice(log.lastIndexOf('Summary:'));
  // Each astats instance prints its own block; the last value of each block is its "Overall".
  const blocks = new Map<string, string>();
  for (const line of log.split('\n')) {
    const m = /\[Parsed_astats_(\d+) @/.exec(line);
    if (m) blocks.set(m[1]!, (blocks.get(m[1]!) ?? '') + line + '\n');
  }
  const stats = [...blocks.entries()].sort((a, b) => Number(a[0]) - Number(b[0])).map(([, t]) => t);
  if (stats.length !== 5) throw new AudioFeaturesError(`expected 5 astats summaries, found ${stats.length}`);
  const last = (re: RegExp, text: string) => {
    const all = [...text.matchAll(new RegExp(re.source, 'g'))];
    if (all.length === 0) throw new AudioFeaturesError(`ffmpeg's log lacks ${re.source}`);
    const v = all[all.length - 1]![1]!;
    return v === '-inf' ? -120 : Number(v);
  };
  const whole = stats[0]!;
  return {
    loudnessLufs: num(/I:\s+(-?[\d.]+|-inf) LUFS/, summary),
    loudnessRangeLu: num(/LRA:\s+(-?[\d.]+) LU/, summary),
    rmsDb: last(/RMS level dB: (-?[\d.]+|-inf)/, whole),
    crestDb: 20 * Math.log10(Math.max(1, last(/Crest factor: ([\d.]+)/, whole))),
    zeroCrossingRate: last(/Zero crossings rate: ([\d.]+)/, whole),
    bandsDb: stats.slice(1).map((t) => last(/RMS level dB: (-?[\d.]+|-inf)/, t)),
  };
}
