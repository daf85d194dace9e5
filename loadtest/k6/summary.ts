/**
 * Reads k6's `--summary-export` JSON into the flat figures run.ts prints and writes to
 * bench-results/k6.json. Pure, so its reading of k6's format is tested without k6.
 *
 * The export maps metric names to their values: trends as {avg, min, med, max, "p(N)"}
 * (milliseconds), rates as {passes, fails, value}, counters as {count, rate}; a `thresholds`
 * map per metric holds `true` for a threshold that FAILED (k6's legacy export semantics).
 */

export type TrendExport = Partial<
  Record<'avg' | 'min' | 'med' | 'max' | 'p(90)' | 'p(95)' | 'p(99)', number>
>;
export interface RateExport {
  passes?: number;
  fails?: number;
  value?: number;
}
export interface CounterExport {
  count?: number;
  rate?: number;
}
type MetricExport = (TrendExport & RateExport & CounterExport) & { thresholds?: Record<string, boolean> };

export interface K6SummaryExport {
  metrics: Record<string, MetricExport | undefined>;
}

export interface K6Figures {
  sessions: number;
  sessions_per_s: number;
  session_ok_rate: number;
  checks_pass_rate: number;
  play_p50_ms: number;
  play_p95_ms: number;
  play_p99_ms: number;
  /** Plays after a VU's first (the listener's session already exists). */
  warm_play_p50_ms: number;
  warm_play_p95_ms: number;
  /** Each VU's first play (creates the session). */
  cold_play_p95_ms: number;
  skip_p50_ms: number;
  skip_p95_ms: number;
  skip_p99_ms: number;
  ack_rtt_p50_ms: number;
  ack_rtt_p95_ms: number;
  hello_p50_ms: number;
  ws_msgs_per_s: number;
  error_frames: number;
  http_req_failed_rate: number;
  /** `metric: threshold` of every failed threshold. */
  failed_thresholds: string[];
}

const round = (n: number | undefined, digits = 2): number =>
  n === undefined ? NaN : Math.round(n * 10 ** digits) / 10 ** digits;

export function k6Figures(s: K6SummaryExport): K6Figures {
  const m = (name: string): MetricExport => s.metrics[name] ?? {};
  const rate = (name: string): number => {
    const r = m(name);
    if (r.passes !== undefined && r.fails !== undefined && r.passes + r.fails > 0)
      return round(r.passes / (r.passes + r.fails), 4);
    return round(r.value, 4);
  };
  const failed = Object.entries(s.metrics).flatMap(([name, metric]) =>
    Object.entries(metric?.thresholds ?? {})
      .filter(([, didFail]) => didFail)
      .map(([expr]) => `${name}: ${expr}`),
  );
  return {
    sessions: m('iterations').count ?? 0,
    sessions_per_s: round(m('iterations').rate, 1),
    session_ok_rate: rate('session_ok'),
    checks_pass_rate: rate('checks'),
    play_p50_ms: round(m('play_latency').med),
    play_p95_ms: round(m('play_latency')['p(95)']),
    play_p99_ms: round(m('play_latency')['p(99)']),
    warm_play_p50_ms: round(m('play_latency{cold:no}').med),
    warm_play_p95_ms: round(m('play_latency{cold:no}')['p(95)']),
    cold_play_p95_ms: round(m('play_latency{cold:yes}')['p(95)']),
    skip_p50_ms: round(m('skip_latency').med),
    skip_p95_ms: round(m('skip_latency')['p(95)']),
    skip_p99_ms: round(m('skip_latency')['p(99)']),
    ack_rtt_p50_ms: round(m('ack_rtt').med),
    ack_rtt_p95_ms: round(m('ack_rtt')['p(95)']),
    hello_p50_ms: round(m('hello_latency').med),
    ws_msgs_per_s: round((m('ws_msgs_received').rate ?? 0) + (m('ws_msgs_sent').rate ?? 0), 1),
    error_frames: m('error_frames').count ?? 0,
    http_req_failed_rate: rate('http_req_failed'),
    failed_thresholds: failed,
  };
}

/** Cluster mode (sessions.js with WS_URLS): relayed against local, as the device sees it. */
export interface K6ClusterFigures {
  /** Commands sent by session devices on a node other than their listener's owner, of all. */
  k6_relayed_share: number;
  /** Command round trips (`progress` acks) through a relaying node. */
  k6_relayed_p50_ms: number;
  k6_relayed_p99_ms: number;
  /** The same, on the owner node. */
  k6_local_p50_ms: number;
  k6_local_p99_ms: number;
  /** Plays (ack + playback + prefetch), relayed and local. */
  k6_relayed_play_p99_ms: number;
  k6_local_play_p99_ms: number;
}

export function k6ClusterFigures(s: K6SummaryExport): K6ClusterFigures {
  const m = (name: string): MetricExport => s.metrics[name] ?? {};
  const relayed = m('commands_relayed').count ?? 0;
  const local = m('commands_local').count ?? 0;
  return {
    k6_relayed_share: relayed + local > 0 ? round(relayed / (relayed + local), 3) : NaN,
    k6_relayed_p50_ms: round(m('ack_rtt{relayed:yes}').med),
    k6_relayed_p99_ms: round(m('ack_rtt{relayed:yes}')['p(99)']),
    k6_local_p50_ms: round(m('ack_rtt{relayed:no}').med),
    k6_local_p99_ms: round(m('ack_rtt{relayed:no}')['p(99)']),
    k6_relayed_play_p99_ms: round(m('play_latency{relayed:yes}')['p(99)']),
    k6_local_play_p99_ms: round(m('play_latency{relayed:no}')['p(99)']),
  };
}
