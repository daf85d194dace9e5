/**
 * Reads the session server's own play-latency histogram from its Prometheus text (/metrics),
 * so a k6 run reports server-side time (frame in to playback + prefetch out) beside the
 * latency k6 measures end to end, which also holds k6's and the machine's scheduling delays.
 */

export interface HistogramBucket {
  le: number;
  count: number;
}

/** The cumulative buckets of histogram `name` (label-free), ascending; [] when absent. */
export function histogramBuckets(text: string, name: string): HistogramBucket[] {
  const re = new RegExp(`^${name}_bucket\\{le="([^"]+)"\\}\\s+(\\S+)$`, 'gm');
  const out: HistogramBucket[] = [];
  for (const m of text.matchAll(re))
    out.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) });
  return out.sort((a, b) => a.le - b.le);
}

/**
 * The q-quantile (0..1) by linear interpolation inside the bucket that holds it, as
 * Prometheus' histogram_quantile does; the highest finite bound when it falls in +Inf; NaN
 * with no observations.
 */
export function histogramQuantile(buckets: readonly HistogramBucket[], q: number): number {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return prevLe;
      const inBucket = b.count - prevCount;
      return inBucket === 0 ? b.le : prevLe + ((b.le - prevLe) * (rank - prevCount)) / inBucket;
    }
    prevLe = b.le;
    prevCount = b.count;
  }
  return prevLe;
}
