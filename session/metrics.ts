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
  /** `framesIn` / `framesOut` by type, hot path: tallied, added to the counters when they are read. */
  frameIn(type: string): void;
  frameOut(type: string): void;
}

/**
 * Per-frame counting without prom-client on the hot path: a label child's `inc()` still
 * hashes its labels and looks the value up (~1-2 % of a command's server CPU), so frames are
 * tallied in a plain map and added to the counter when it is read (`collect`, run by
 * prom-client on every scrape and `get()`): the scraped values are the same.
 */
class FrameTally {
  private readonly pending = new Map<string, { n: number }>();

  count(type: string): void {
    const slot = this.pending.get(type);
    if (slot) slot.n++;
    else this.pending.set(type, { n: 1 });
  }

  /** Adds what was counted since the last read to `counter`. */
  flushInto(counter: Counter<'type'>): void {
    for (const [type, slot] of this.pending) {
      if (slot.n === 0) continue;
      counter.inc({ type }, slot.n);
      slot.n = 0;
    }
  }
}

/** A frame counter by type whose per-frame increments go through `tally`. */
function frameCounter(name: string, help: string, registry: Registry, tally: FrameTally): Counter<'type'> {
  return new Counter({
    name,
    help,
    labelNames: ['type'] as const,
    registers: [registry],
    collect() {
      tally.flushInto(this);
    },
  });
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): SessionMetrics {
  const registry = new Registry();
  if (opts.defaultMetrics) collectDefaultMetrics({ register: registry });
  const tallyIn = new FrameTally();
  const tallyOut = new FrameTally();
  return {
    registry,
    framesIn: frameCounter('session_frames_in_total', 'Inbound frames by type', registry, tallyIn),
    framesOut: frameCounter('session_frames_out_total', 'Outbound frames by type', registry, tallyOut),
    frameIn: (type) => tallyIn.count(type),
    frameOut: (type) => tallyOut.count(type),
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
