/**
 * `npm run bench -- codec`: encode + decode + validate operations per second of our
 * protocol path (msgpackr standard MessagePack + compiled TypeBox validation) for a typical
 * `progress`, `play` and `state` frame, beside JSON.stringify + JSON.parse of the same objects
 * (no validation, no UTF-8 conversion: the cheapest JSON path) measured in the same run.
 *
 * bench-results/codec.json: `ratio` is the geometric mean of the per-frame ratios
 * (protocol ops/s / JSON ops/s); `min_ratio` the worst frame; `frames` the per-frame figures.
 * Target: ratio >= 1.0.
 */
import { decodeClientFrame, decodeServerFrame, encodeFrame } from '../protocol/codec.ts';
import { exampleClientFrames, exampleServerFrames } from '../protocol/examples.ts';
import type { Frame } from '../protocol/messages.ts';
import { printTable, writeResults } from './report.ts';

export interface MeterOptions {
  /** Untimed warm-up, long enough for the optimizing tier (default 300 ms). */
  warmupMs?: number;
  /** Length of one timed round (default 400 ms). */
  roundMs?: number;
  /** Timed rounds; the median is reported (default 5). */
  rounds?: number;
}

export interface Measurement {
  ops_per_sec: number;
  /** Spread of the rounds: (max - min) / median. */
  spread: number;
  ops: number;
}

/** A value the benchmarked function returns, folded into a sink so the work is not elided. */
let sink = 0;
export function consume(value: unknown): void {
  sink = (sink + (value ? 1 : 0)) | 0;
}
export function sinkValue(): number {
  return sink;
}

/**
 * Runs `fn` in batches for `ms` of this process's CPU time (user + system), not wall time:
 * on a shared machine with a load of 10+ on 2 cores, wall time measures the neighbours.
 */
function runFor(fn: () => unknown, ms: number): { ops: number; elapsed: number } {
  const batch = 256;
  let ops = 0;
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  const start = cpuMs();
  const end = start + ms;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) consume(fn());
    ops += batch;
    now = cpuMs();
  }
  return { ops, elapsed: now - start };
}

export function measureOps(fn: () => unknown, options: MeterOptions = {}): Measurement {
  const { warmupMs = 300, roundMs = 400, rounds = 5 } = options;
  runFor(fn, warmupMs);
  const rates: number[] = [];
  let total = 0;
  for (let r = 0; r < rounds; r++) {
    const { ops, elapsed } = runFor(fn, roundMs);
    total += ops;
    rates.push((ops * 1000) / elapsed);
  }
  rates.sort((a, b) => a - b);
  const median = rates[Math.floor(rates.length / 2)]!;
  return { ops_per_sec: median, spread: (rates[rates.length - 1]! - rates[0]!) / median, ops: total };
}

export interface Comparison {
  a_ops_per_sec: number;
  b_ops_per_sec: number;
  /** Median over pairs of (a ops/s / b ops/s). */
  ratio: number;
  /** Spread of the pair ratios: (max - min) / median. */
  spread: number;
}

/**
 * Measures `a` against `b` in alternating short rounds (a, b, b, a, ...) and reports the
 * median of the per-pair ratios. On a shared, loaded machine the available CPU drifts by
 * 2x within seconds; rounds close in time see the same load, so their ratio stays honest
 * where two separate long runs would not.
 */
export function compareOps(a: () => unknown, b: () => unknown, options: MeterOptions = {}): Comparison {
  const { warmupMs = 300, roundMs = 100, rounds = 15 } = options;
  runFor(a, warmupMs);
  runFor(b, warmupMs);
  const ratios: number[] = [];
  const aRates: number[] = [];
  const bRates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const first = r % 2 === 0 ? a : b;
    const second = r % 2 === 0 ? b : a;
    const x = runFor(first, roundMs);
    const y = runFor(second, roundMs);
    const rateX = (x.ops * 1000) / x.elapsed;
    const rateY = (y.ops * 1000) / y.elapsed;
    const [rateA, rateB] = r % 2 === 0 ? [rateX, rateY] : [rateY, rateX];
    aRates.push(rateA);
    bRates.push(rateB);
    ratios.push(rateA / rateB);
  }
  const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
  const ratio = median(ratios);
  return {
    a_ops_per_sec: median(aRates),
    b_ops_per_sec: median(bRates),
    ratio,
    spread: (Math.max(...ratios) - Math.min(...ratios)) / ratio,
  };
}

/** Geometric mean, the fair average of ratios. */
export function geometricMean(values: readonly number[]): number {
  return Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
}
interface Case {
  name: string;
  frame: Frame;
  protocol: () => unknown;
  json: () => unknown;
}

function makeCase(name: string, frame: Frame, side: 'client' | 'server'): Case {
  const decode = side === 'client' ? decodeClientFrame : decodeServerFrame;
  // Sanity first: the path under test must accept the frame, or we would time the error path.
  const check = decode(encodeFrame(frame));
  if (!check.ok) throw new Error(`${name}: example frame refused: ${check.error.message}`);
  return {
    name,
    frame,
    protocol: () => {
      const result = decode(encodeFrame(frame));
      return result.ok;
    },
    json: () => JSON.parse(JSON.stringify(frame)),
  };
}

export default async function codecBench(args: string[]): Promise<void> {
  const quick = args.includes('--quick');
  const meter = quick
    ? { warmupMs: 100, roundMs: 50, rounds: 5 }
    : { warmupMs: 400, roundMs: 150, rounds: 17 };
  const cases = [
    makeCase('progress', exampleClientFrames.progress, 'client'),
    makeCase('play', exampleClientFrames.play, 'client'),
    makeCase('state', exampleServerFrames.state, 'server'),
  ];
  const frames: Record<string, Record<string, number>> = {};
  const rows: Record<string, string | number>[] = [];
  for (const c of cases) {
    // Paired rounds (protocol, JSON, JSON, protocol, ...) timed in CPU time; the ratio is the
    // median of the per-pair ratios, so load drift on a shared machine cancels out.
    const cmp = compareOps(c.protocol, c.json, meter);
    const json = cmp.b_ops_per_sec;
    const proto = cmp.a_ops_per_sec;
    const msgpackBytes = encodeFrame(c.frame).byteLength;
    const jsonBytes = Buffer.byteLength(JSON.stringify(c.frame));
    const ratio = cmp.ratio;
    frames[c.name] = {
      protocol_ops_per_sec: Math.round(proto),
      json_ops_per_sec: Math.round(json),
      ratio,
      ratio_spread: cmp.spread,
      msgpack_bytes: msgpackBytes,
      json_bytes: jsonBytes,
    };
    rows.push({
      frame: c.name,
      'protocol ops/s (enc+dec+validate)': Math.round(proto),
      'JSON ops/s (stringify+parse)': Math.round(json),
      ratio,
      'msgpack bytes': msgpackBytes,
      'json bytes': jsonBytes,
    });
  }
  const ratios = Object.values(frames).map((f) => f.ratio!);
  const ratio = geometricMean(ratios);
  const minRatio = Math.min(...ratios);
  rows.push({ frame: 'overall (geo mean)', ratio });
  printTable(rows);
  console.log(
    `ratio ${ratio.toFixed(3)} (geometric mean; worst frame ${minRatio.toFixed(3)}), target >= 1.0`,
  );
  writeResults('codec', {
    ratio,
    ratio_kind: 'geometric mean of per-frame ratios (protocol ops/s / JSON ops/s)',
    min_ratio: minRatio,
    target: 1.0,
    baseline: 'JSON.stringify + JSON.parse of the same object, no validation',
    frames,
  });
}
