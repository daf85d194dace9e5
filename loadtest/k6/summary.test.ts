import { describe, expect, it } from 'vitest';
import { k6ClusterFigures, k6Figures, type K6SummaryExport } from './summary.ts';

// The shape k6 v1.8.1 writes with --summary-export (trimmed from a real run).
const exported: K6SummaryExport = {
  metrics: {
    iterations: { count: 1200, rate: 59.87 },
    session_ok: { passes: 1199, fails: 1, value: 0.99916 },
    checks: { passes: 8393, fails: 7, value: 0.99916, thresholds: { 'rate>0.99': false } },
    play_latency: {
      avg: 12,
      min: 3,
      med: 9.5,
      max: 80,
      'p(90)': 20,
      'p(95)': 31.25,
      'p(99)': 60.123,
      thresholds: { 'p(95)<500': false },
    },
    'play_latency{cold:no}': { avg: 8, min: 3, med: 7, max: 40, 'p(90)': 15, 'p(95)': 20, 'p(99)': 35 },
    'play_latency{cold:yes}': { avg: 60, min: 20, med: 50, max: 80, 'p(90)': 70, 'p(95)': 75, 'p(99)': 79 },
    skip_latency: { avg: 7, min: 2, med: 6, max: 50, 'p(90)': 12, 'p(95)': 15, 'p(99)': 40 },
    ack_rtt: { avg: 2, min: 0, med: 1, max: 30, 'p(90)': 3, 'p(95)': 4, 'p(99)': 9 },
    hello_latency: { avg: 5, min: 1, med: 4, max: 20, 'p(90)': 8, 'p(95)': 9, 'p(99)': 15 },
    ws_msgs_received: { count: 20000, rate: 1000.04 },
    ws_msgs_sent: { count: 9000, rate: 450.02 },
    error_frames: { count: 3, rate: 0.1 },
    http_req_failed: { passes: 2, fails: 1198, value: 0.00167 },
    session_ok_extra: { passes: 0, fails: 0, value: 0, thresholds: { 'rate>0.5': true } },
  },
};

describe('k6 summary - figures from the summary export', () => {
  it('k6 summary - rates, latencies, counters and failed thresholds', () => {
    const f = k6Figures(exported);
    expect(f).toMatchObject({
      sessions: 1200,
      sessions_per_s: 59.9,
      session_ok_rate: 0.9992,
      checks_pass_rate: 0.9992,
      play_p50_ms: 9.5,
      play_p95_ms: 31.25,
      play_p99_ms: 60.12,
      warm_play_p50_ms: 7,
      warm_play_p95_ms: 20,
      cold_play_p95_ms: 75,
      skip_p95_ms: 15,
      ack_rtt_p50_ms: 1,
      hello_p50_ms: 4,
      ws_msgs_per_s: 1450.1,
      error_frames: 3,
      http_req_failed_rate: 0.0017,
    });
    // k6 marks a FAILED threshold with true.
    expect(f.failed_thresholds).toEqual(['session_ok_extra: rate>0.5']);
  });

  it('k6 summary - metrics a run did not produce read as zero or NaN, never a throw', () => {
    const f = k6Figures({ metrics: {} });
    expect(f.sessions).toBe(0);
    expect(f.error_frames).toBe(0);
    expect(f.play_p95_ms).toBeNaN();
    expect(f.failed_thresholds).toEqual([]);
  });

  it('k6 summary - cluster mode: the relayed share from the command counters, relayed and local trends apart', () => {
    const f = k6ClusterFigures({
      metrics: {
        commands_relayed: { count: 60, rate: 3 },
        commands_local: { count: 40, rate: 2 },
        'ack_rtt{relayed:yes}': { med: 3.25, 'p(99)': 12.5 },
        'ack_rtt{relayed:no}': { med: 2, 'p(99)': 8 },
        'play_latency{relayed:yes}': { 'p(99)': 40 },
        'play_latency{relayed:no}': { 'p(99)': 30 },
      },
    });
    expect(f).toEqual({
      k6_relayed_share: 0.6,
      k6_relayed_p50_ms: 3.25,
      k6_relayed_p99_ms: 12.5,
      k6_local_p50_ms: 2,
      k6_local_p99_ms: 8,
      k6_relayed_play_p99_ms: 40,
      k6_local_play_p99_ms: 30,
    });
    expect(k6ClusterFigures({ metrics: {} }).k6_relayed_share).toBeNaN();
  });
});
