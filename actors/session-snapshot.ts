/**
 * Persisting a session: `persistSession` turns a running session's context into a plain,
 * JSON-serialisable value for the snapshot store; `restoredContext` rebuilds a context from
 * it (via the machine's `input.restore`). Our own format, versioned, rather than xstate's
 * internal persisted snapshot, so a library upgrade cannot strand stored sessions.
 *
 * What survives: devices (all offline), the active device, the play order (context,
 * shuffle order, queue, repeat), the current play (same play id: a resume continues it) at
 * its position, and whether it was playing (`playingAt`), quality, counters (so play ids
 * never repeat), the version, and the autoplay tracks the radio already gave (bounded, as in
 * memory), so a restored session is never given one of them again.
 * What does not: loaded bundles, pending loads, timers. A restored session is paused; a play
 * that was playing goes on once its active device is back (devices.ts `playOnRestored`).
 * A `play` still loading (unanswered) is saved as the state before it (its old play kept).
 */

import type { PlayOrder } from './play-order.ts';
import { playedSince, positionAt } from './position.ts';
import { heardUntil, initialContext, type CurrentPlay, type SessionContext } from './session-context.ts';
import type { DeviceView, Plan, Quality } from './types.ts';

export const PERSISTED_SESSION_FORMAT = 1;

export interface PersistedSession {
  format: typeof PERSISTED_SESSION_FORMAT;
  userId: string;
  epoch: number;
  version: number;
  quality: Quality;
  devices: DeviceView[];
  activeDeviceId: string | null;
  order: PlayOrder;
  current: CurrentPlay | null;
  positionMs: number;
  playCounter: number;
  shuffleCounter: number;
  /** Autoplay track ids given in this session, oldest first; absent in older snapshots. */
  autoplayServed?: string[];
  /**
   * The current play was playing: the server time of `positionMs` (the save, or when its
   * active device was lost). Absent when paused, and in older snapshots (restored paused).
   */
  playingAt?: number;
  savedAt: number;
}

export function persistContext(c: SessionContext, now: number): PersistedSession {
  let current: CurrentPlay | null = null;
  let positionMs = 0;
  let playingAt: number | undefined;
  let order = c.order;
  const held = c.pendingStart?.replaced;
  if (held?.current) {
    // A `play` still loading (not answered yet) has detached the old play and holds its
    // play.end until the new track starts. Saved as it was before that play, the old one
    // playing on where it was when detached: a restore then ends it (play.end) when the next
    // play starts, instead of losing its end with the unanswered play.
    const at = held.end?.ts ?? now;
    current = held.current;
    positionMs = positionAt(held.position, at, held.current.track.durationMs);
    if (held.position.playing) playingAt = at;
    order = held.order;
  } else if (c.current && c.restoredPlaying) {
    // Restored and not resumed yet: saved again as it was restored, still to go on.
    current = c.current;
    ({ positionMs, at: playingAt } = c.restoredPlaying);
  } else if (c.current) {
    const d = c.current.track.durationMs;
    const until = heardUntil(c, now);
    current = { ...c.current, msPlayed: c.current.msPlayed + playedSince(c.position, until, d) };
    positionMs = positionAt(c.position, until, d);
    if (c.position.playing) playingAt = until;
  }
  return {
    format: PERSISTED_SESSION_FORMAT,
    userId: c.userId,
    epoch: c.epoch,
    version: c.version,
    quality: c.quality,
    devices: c.devices.map((d) => (d.connected ? { ...d, connected: false } : d)),
    activeDeviceId: c.activeDeviceId,
    order,
    current,
    positionMs,
    playCounter: c.playCounter,
    shuffleCounter: c.shuffleCounter,
    ...(c.autoplayServed.length ? { autoplayServed: c.autoplayServed } : {}),
    ...(playingAt !== undefined ? { playingAt } : {}),
    savedAt: now,
  };
}

/** Checks the shape enough to refuse a foreign or corrupt value (caller then starts fresh). */
export function isPersistedSession(v: unknown): v is PersistedSession {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Partial<PersistedSession>;
  return (
    p.format === PERSISTED_SESSION_FORMAT &&
    typeof p.userId === 'string' &&
    typeof p.epoch === 'number' &&
    typeof p.version === 'number' &&
    Array.isArray(p.devices) &&
    typeof p.order === 'object' &&
    p.order !== null &&
    Array.isArray(p.order.tracks)
  );
}

export function restoredContext(
  p: PersistedSession,
  input: { plan: Plan; country: string },
  now: number,
): SessionContext {
  const c = initialContext({
    userId: p.userId,
    plan: input.plan,
    country: input.country,
    quality: p.quality,
    epoch: p.epoch,
    now,
  });
  c.version = p.version;
  c.devices = p.devices.map((d) => (d.connected ? { ...d, connected: false } : d));
  c.activeDeviceId = p.activeDeviceId;
  c.activeLostAt = p.activeDeviceId ? p.savedAt : null;
  c.order = p.order;
  // Snapshots from before plays named their devices: the one it ran on.
  c.current = p.current && { ...p.current, devices: p.current.devices ?? [p.current.deviceId] };
  c.position = c.ceiling = { positionMs: p.positionMs, at: now, playing: false };
  // Paused until its active device is back (a malformed time: paused for good, as before).
  if (c.current && c.activeDeviceId && typeof p.playingAt === 'number' && Number.isFinite(p.playingAt))
    c.restoredPlaying = { positionMs: p.positionMs, at: p.playingAt };
  c.playCounter = p.playCounter;
  c.shuffleCounter = p.shuffleCounter;
  // A malformed list is dropped, not trusted: it only widens what the radio may repeat.
  if (Array.isArray(p.autoplayServed))
    c.autoplayServed = p.autoplayServed.filter((x): x is string => typeof x === 'string');
  return c;
}
