/**
 * Session actor configuration: `DEFAULT_*` constants, `defaultSessionConfig()` and one
 * `parseSessionConfig()` that rejects bad values with a message naming the field.
 * session/ maps its env variables onto these fields.
 */

import type { Plan, Quality } from './types.ts';

export interface SessionConfig {
  /** Bitrate of the first chunk of a play, so audio starts at once. */
  startBitrateKbps: number;
  /** Lifetime of signed chunk URLs. */
  urlTtlMs: number;
  /**
   * Expiries are rounded down to this bucket so a URL signed for a prefetch and the same
   * URL signed again for the play are identical.
   */
  urlExpiryBucketMs: number;
  /** A playing track's URLs are renewed this long before they expire. */
  urlRenewLeadMs: number;
  /** The active device disconnecting pauses playback after this long. */
  activeDeviceGraceMs: number;
  /** `previous` restarts the track when more than this has played. */
  previousRestartMs: number;
  /** ms_played at which `play.progress` is published (royalty threshold). */
  progressThresholdMs: number;
  /** Fraction of the current track after which the next track's first chunks are prefetched. */
  prefetchFullAt: number;
  /** Chunks of the next track prefetched at `prefetchFullAt`. */
  prefetchFullChunks: number;
  /** Tracks ahead named by a prefetch (never more than 2). */
  prefetchAhead: number;
  /** Measured bandwidth must exceed the bitrate by this factor to sustain it. */
  bandwidthHeadroom: number;
  /** Request ids remembered per session, so a retried frame is acked, not replayed. */
  recentRequestsKept: number;
  /**
   * Devices a session remembers. Past it, a new device's hello forgets the disconnected
   * device seen least recently (never the active one): every new install or browser tab
   * brings a new id, and the list goes into every state frame and snapshot.
   */
  maxKnownDevices: number;
  /** Ask the radio port for autoplay tracks when this few context tracks remain. */
  autoplayWhenRemaining: number;
  autoplayCount: number;
  /**
   * A playing track whose end passed this long ago with no `ended` from its device is ended
   * by the server (reason trackdone) and the next one starts: a device that crashed or lost
   * its `ended` frame must not freeze the session or stop the listening events.
   */
  endWatchdogMs: number;
}

export const DEFAULT_START_BITRATE_KBPS = 96;
export const DEFAULT_URL_TTL_MS = 3_600_000;
export const DEFAULT_URL_EXPIRY_BUCKET_MS = 60_000;
export const DEFAULT_URL_RENEW_LEAD_MS = 300_000;
export const DEFAULT_ACTIVE_DEVICE_GRACE_MS = 10_000;
export const DEFAULT_PREVIOUS_RESTART_MS = 3_000;
export const DEFAULT_PROGRESS_THRESHOLD_MS = 30_000;
export const DEFAULT_PREFETCH_FULL_AT = 0.75;
export const DEFAULT_PREFETCH_FULL_CHUNKS = 3;
export const DEFAULT_PREFETCH_AHEAD = 2;
export const DEFAULT_BANDWIDTH_HEADROOM = 1.5;
export const DEFAULT_RECENT_REQUESTS_KEPT = 16;
export const DEFAULT_MAX_KNOWN_DEVICES = 16;
export const DEFAULT_AUTOPLAY_WHEN_REMAINING = 2;
export const DEFAULT_AUTOPLAY_COUNT = 10;
export const DEFAULT_END_WATCHDOG_MS = 10_000;

export const QUALITY_KBPS: Readonly<Record<Quality, number>> = {
  low: 24,
  normal: 96,
  high: 160,
  very_high: 320,
};

export const PLAN_CAP_KBPS: Readonly<Record<Plan, number>> = {
  free: 160,
  premium: 320,
};

export function defaultSessionConfig(): SessionConfig {
  return {
    startBitrateKbps: DEFAULT_START_BITRATE_KBPS,
    urlTtlMs: DEFAULT_URL_TTL_MS,
    urlExpiryBucketMs: DEFAULT_URL_EXPIRY_BUCKET_MS,
    urlRenewLeadMs: DEFAULT_URL_RENEW_LEAD_MS,
    activeDeviceGraceMs: DEFAULT_ACTIVE_DEVICE_GRACE_MS,
    previousRestartMs: DEFAULT_PREVIOUS_RESTART_MS,
    progressThresholdMs: DEFAULT_PROGRESS_THRESHOLD_MS,
    prefetchFullAt: DEFAULT_PREFETCH_FULL_AT,
    prefetchFullChunks: DEFAULT_PREFETCH_FULL_CHUNKS,
    prefetchAhead: DEFAULT_PREFETCH_AHEAD,
    bandwidthHeadroom: DEFAULT_BANDWIDTH_HEADROOM,
    recentRequestsKept: DEFAULT_RECENT_REQUESTS_KEPT,
    maxKnownDevices: DEFAULT_MAX_KNOWN_DEVICES,
    autoplayWhenRemaining: DEFAULT_AUTOPLAY_WHEN_REMAINING,
    autoplayCount: DEFAULT_AUTOPLAY_COUNT,
    endWatchdogMs: DEFAULT_END_WATCHDOG_MS,
  };
}

export class SessionConfigError extends Error {
  override readonly name = 'SessionConfigError';
  constructor(
    readonly field: keyof SessionConfig,
    message: string,
  ) {
    super(`session config ${field}: ${message}`);
  }
}

const positiveInt = (f: keyof SessionConfig, v: number) => {
  if (!Number.isInteger(v) || v <= 0) throw new SessionConfigError(f, `must be a positive integer, got ${v}`);
};

/** Fills defaults and validates; throws SessionConfigError naming the bad field. */
export function parseSessionConfig(partial: Partial<SessionConfig> = {}): SessionConfig {
  const c: SessionConfig = { ...defaultSessionConfig(), ...partial };
  for (const f of [
    'startBitrateKbps',
    'urlTtlMs',
    'urlExpiryBucketMs',
    'urlRenewLeadMs',
    'activeDeviceGraceMs',
    'previousRestartMs',
    'progressThresholdMs',
    'prefetchFullChunks',
    'recentRequestsKept',
    'maxKnownDevices',
    'autoplayCount',
    'endWatchdogMs',
  ] as const) {
    positiveInt(f, c[f]);
  }
  if (!Number.isInteger(c.autoplayWhenRemaining) || c.autoplayWhenRemaining < 0) {
    throw new SessionConfigError(
      'autoplayWhenRemaining',
      `must be a non-negative integer, got ${c.autoplayWhenRemaining}`,
    );
  }
  if (!(c.prefetchFullAt > 0 && c.prefetchFullAt < 1)) {
    throw new SessionConfigError('prefetchFullAt', `must be in (0, 1), got ${c.prefetchFullAt}`);
  }
  if (!Number.isInteger(c.prefetchAhead) || c.prefetchAhead < 1 || c.prefetchAhead > 2) {
    throw new SessionConfigError('prefetchAhead', `must be 1 or 2, got ${c.prefetchAhead}`);
  }
  if (!(c.bandwidthHeadroom >= 1)) {
    throw new SessionConfigError('bandwidthHeadroom', `must be >= 1, got ${c.bandwidthHeadroom}`);
  }
  if (c.urlRenewLeadMs * 2 + c.urlExpiryBucketMs >= c.urlTtlMs) {
    throw new SessionConfigError(
      'urlRenewLeadMs',
      'twice the renew lead plus the expiry bucket must be below urlTtlMs',
    );
  }
  return c;
}
