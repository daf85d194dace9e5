/**
 * `npm run bench -- codec`. (Bench body follows; the meter below is shared with
 * schema-candidates.bench.ts.)
 */

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

function runFor(fn: () => unknown, ms: number): { ops: number; elapsed: number } {
  const batch = 256;
  let ops = 0;
  const start = performance.now();
  const end = start + ms;
  let now = start;
  while (now < end) {
    for (let i = 0; i < batch; i++) consume(fn());
    ops += batch;
    now = performance.now();
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

/** Geometric mean, the fair average of ratios. */
export function geometricMean(values: readonly number[]): number {
  return Math.exp(values.reduce((s, v) => s + Math.log(v), 0) / values.length);
}
export default async function codecBench(): Promise<void> {}
