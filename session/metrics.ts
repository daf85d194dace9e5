/**
 * Prometheus metrics of the session server (prom-client), on a registry of its own so two
 * servers in one process (tests, the demo) never share counters.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface SessionMetrics {
  registry: Registry;
  connections: Gauge;
  sessions: Gauge;
  /** Live sessions whose actor is hibernated (hibernation.ts). */
  hibernatedSessions: Gauge;
  framesIn: Counter<'type'>;
  framesOut: Counter<'type'>;
  errors: Counter<'code'>;
  closes: Counter<'code'>;
  /** Session actors that failed (a bug) and were dropped unsaved. */
  sessionFailures: Counter;
  /** Frame in to playback + prefetch out, seconds. */
  playLatency: Histogram;
  /** `framesIn` / `framesOut` by type through label-bound children (hot path: no label hashing). */
  frameIn(type: string): void;
  frameOut(type: string): void;
}

/** `counter.labels(x)` once per label value, then a plain `inc()` per call. */
function boundBy(counter: Counter<'type'>): (type: string) => void {
  const children = new Map<string, { inc(): void }>();
  return (type) => {
    let child = children.get(type);
    if (!child) children.set(type, (child = counter.labels(type)));
    child.inc();
  };
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): SessionMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const framesIn = new Counter({
    name: 'session_frames_in_total',
    help: 'Inbound frames by type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const framesOut = new Counter({
    name: 'session_frames_out_total',
    help: 'Outbound frames by type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  return {
    registry,
    framesIn,
    framesOut,
    frameIn: boundBy(framesIn),
    frameOut: boundBy(framesOut),
    connections: new Gauge({
      name: 'session_connections',
      help: 'Open device WebSocket connections',
      registers: [registry],
    }),
    sessions: new Gauge({
      name: 'session_actors',
      help: 'Live session actors (one per listener)',
      registers: [registry],
    }),
    hibernatedSessions: new Gauge({
      name: 'session_hibernated',
      help: 'Live sessions whose actor is hibernated (stopped, kept as its encoded snapshot)',
      registers: [registry],
    }),
    errors: new Counter({
      name: 'session_errors_total',
      help: 'Error frames sent, by code',
      labelNames: ['code'],
      registers: [registry],
    }),
    closes: new Counter({
      name: 'session_closes_total',
      help: 'Sockets closed by the server, by close code',
      labelNames: ['code'],
      registers: [registry],
    }),
    sessionFailures: new Counter({
      name: 'session_actor_failures_total',
      help: 'Session actors that failed and were dropped without saving (their devices reconnect)',
      registers: [registry],
    }),
    playLatency: new Histogram({
      name: 'session_play_latency_seconds',
      help: 'Server-side play latency: command frame in to playback + prefetch out',
      buckets: [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
  };
}
