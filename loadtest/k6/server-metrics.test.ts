import { describe, expect, it } from 'vitest';
import { histogramBuckets, histogramQuantile } from './server-metrics.ts';

const text = `# HELP session_play_latency_seconds play latency
# TYPE session_play_latency_seconds histogram
session_play_latency_seconds_bucket{le="0.001"} 10
session_play_latency_seconds_bucket{le="0.002"} 90
session_play_latency_seconds_bucket{le="0.005"} 100
session_play_latency_seconds_bucket{le="+Inf"} 100
session_play_latency_seconds_sum 0.2
session_play_latency_seconds_count 100
other_bucket{le="1"} 5
`;

describe('server metrics - play latency histogram', () => {
  it('server metrics - buckets of one histogram, ascending', () => {
    expect(histogramBuckets(text, 'session_play_latency_seconds')).toEqual([
      { le: 0.001, count: 10 },
      { le: 0.002, count: 90 },
      { le: 0.005, count: 100 },
      { le: Infinity, count: 100 },
    ]);
  });

  it('server metrics - quantiles interpolate inside the bucket, as histogram_quantile', () => {
    const b = histogramBuckets(text, 'session_play_latency_seconds');
    expect(histogramQuantile(b, 0.5)).toBeCloseTo(0.0015, 6); // rank 50: 40 of 80 into (1 ms, 2 ms]
    expect(histogramQuantile(b, 0.99)).toBeCloseTo(0.0047, 6);
    expect(histogramQuantile(b, 0.05)).toBeCloseTo(0.0005, 6);
  });

  it('server metrics - no observations or a quantile in +Inf', () => {
    expect(histogramQuantile([], 0.5)).toBeNaN();
    expect(
      histogramQuantile(histogramBuckets('x_bucket{le="1"} 0\nx_bucket{le="+Inf"} 0', 'x'), 0.5),
    ).toBeNaN();
    expect(
      histogramQuantile(
        [
          { le: 1, count: 1 },
          { le: Infinity, count: 10 },
        ],
        0.9,
      ),
    ).toBe(1);
  });
});
