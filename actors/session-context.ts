/**
 * The context of a session actor: small, serialisable, one per listener. Only data valid
 * across states lives here; what a state needs (the pending start, the pending context
 * resolution) is null outside it.
 */

import { targetKbps } from './bitrate.ts';
import { checkEntitlement } from './entitlement.ts';
import { emptyPlayOrder, upcoming, type PlayOrder, type TrackRef } from './play-order.ts';
import { positionAt, stoppedAnchor } from './position.ts';
import type {
  DeviceView,
  ForbiddenReason,
  ListeningEvent,
  Plan,
  PositionAnchor,
  Quality,
  RequestId,
  SessionCommand,
  SessionView,
  TrackBundle,
  TrackRow,
} from './types.ts';

export interface CurrentPlay {
  playId: string;
  ref: TrackRef;
  track: TrackRow;
  contextUri: string | null;
  /** Device the play runs on (events carry it). */
  deviceId: string;
  /** Every device the play ran on, each once, in first-played order (a transfer continues the play). */
  devices: string[];
  bitrateKbps: number;
  /** Expiry of the URLs the device holds. */
  expiresAt: number;
  /** ms played up to `position.at`, by the server clock. */
  msPlayed: number;
  progressSent: boolean;
  /** The 75 % point was reached (the next track's first chunks went out). */
  fullPhase: boolean;
}

/** Whom to answer when a pending operation settles. */
export interface Requester {
  deviceId: string;
  requestId?: RequestId;
}

export interface PendingStart {
  ref: TrackRef;
  positionMs: number;
  play: boolean;
  requester: Requester | null;
  /** Blocked tracks skipped on the way (bounded, so an all-blocked context ends). */
  skips: number;
  /** Resume the current play (restored session) instead of starting a new one. */
  continuePlay: boolean;
  /** A `play`'s start: what it replaces, put back if it is refused (see ReplacedPlay). */
  replaced?: ReplacedPlay;
}

/**
 * The active device before a `play` claimed it (`claimActive`): put back when the play is
 * refused, unless another command moved the play since.
 */
export interface ActiveBefore {
  activeDeviceId: string | null;
  activeLostAt: number | null;
  /** The device that claimed it (the play's requester). */
  claimedBy: string;
}

/**
 * What a resolved `play` replaces until its first track starts: an `error` answer means
 * nothing changed, so a play whose every track is refused puts all of it back and the play
 * before it goes on (same play id, position, order, active device; no new version). The
 * old play is folded and detached when the context loads; its `play.end` (built then, as
 * it ends there) is published only when the new track starts.
 */
export interface ReplacedPlay {
  current: CurrentPlay | null;
  position: PositionAnchor;
  ceiling: PositionAnchor;
  order: PlayOrder;
  /** Asked and answered for the old context (a radio call in flight is dropped with it). */
  autoplayRequested: boolean;
  fetchFailed: string[];
  /** The old play's `play.end`, to publish when the new track starts. */
  end: ListeningEvent | null;
  active: ActiveBefore | null;
}

export interface PendingResolve {
  contextUri: string | null;
  trackIds: string[];
  startTrackId: string | null;
  startIndex: number | null;
  positionMs: number;
  play: boolean;
  requester: Requester;
  /** The active device before this play claimed it; null when it claimed nothing. */
  active: ActiveBefore | null;
  /**
   * Commands that act on what plays (next, previous, seek, transfer, and pause/resume
   * behind them) sent while the context resolves: applied in order once it has, so a
   * skip right after a play skips the play's first track instead of being refused.
   */
  deferred: DeferredCommand[];
}

/** Who to answer for a command: its device, and its request id when it wants an answer. */
export const requesterOf = (c: SessionCommand): Requester =>
  c.requestId === undefined ? { deviceId: c.deviceId } : { deviceId: c.deviceId, requestId: c.requestId };

/**
 * Ids that would read or set an inherited member of the plain records keyed by track id
 * (bundles, URL expiries): refused like malformed ids. protocol/ refuses them on the wire
 * too; this keeps the actor safe whoever calls it.
 */
const RESERVED: ReadonlySet<string> = new Set(Object.getOwnPropertyNames(Object.prototype));

/** `track:<id>` or a bare id of a command; '' when not a track uri. */
export function trackIdOf(uri: unknown): string {
  if (typeof uri !== 'string') return '';
  const id = uri.startsWith('track:') ? uri.slice(6) : uri.includes(':') ? '' : uri;
  return id.length > 0 && id.length <= 200 && !RESERVED.has(id) ? id : '';
}

/** A position field of a command: a finite number >= 0. */
export const validPosition = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A command held until the pending play's context resolves. */
export type DeferredCommand = Extract<
  SessionCommand,
  { type: 'next' | 'previous' | 'seek' | 'transfer' | 'pause' | 'resume' }
>;

/**
 * A skip (`next`, `previous`) whose landing depends on a track not loaded yet: nothing
 * changes until it is (a refusal must change nothing), then the commands are applied in
 * order. `commands[0]` is the skip; the commands that act on what plays, sent after it,
 * wait behind it.
 */
export interface HeldSkip {
  trackId: string;
  /** The tracks passed over on the way: kept loaded, so the walk again passes them. */
  passed: string[];
  commands: DeferredCommand[];
}

export interface PendingAdd {
  trackId: string;
  requester: Requester;
}

export interface SessionContext {
  userId: string;
  plan: Plan;
  country: string;
  epoch: number;
  version: number;
  quality: Quality;
  devices: DeviceView[];
  activeDeviceId: string | null;
  /** When the active device's socket closed (null while connected). */
  activeLostAt: number | null;
  order: PlayOrder;
  current: CurrentPlay | null;
  position: PositionAnchor;
  /**
   * The last position the server decided (start, seek, resume, transfer, restore), paused
   * with the play: device reports never set the position past where it has moved by now.
   */
  ceiling: PositionAnchor;
  pendingStart: PendingStart | null;
  pendingResolve: PendingResolve | null;
  pendingAdds: PendingAdd[];
  heldSkip: HeldSkip | null;
  /** Loaded bundles of the current, pending and upcoming tracks; null = does not exist. */
  bundles: Record<string, TrackBundle | null>;
  /** Expiry each track's URLs were last signed with (prefetch and playback share it). */
  urlExpiry: Record<string, number>;
  /** Track whose first chunks went out at its play bitrate (75 % prefetch). */
  fullPrefetched: string | null;
  lastPrefetchKey: string;
  playCounter: number;
  shuffleCounter: number;
  bandwidthKbps: number | null;
  networkLimited: boolean;
  autoplayRequested: boolean;
  /** Counts the contexts loaded: a radio answer asked for an earlier one is dropped. */
  contextGen: number;
  /** `${deviceId}:${requestId}` of recent requests, newest last. */
  recentRequests: string[];
  /** Ids whose background load failed; not retried until the next play. */
  fetchFailed: string[];
  /** Machine bookkeeping, not persisted: the background load, the radio call, the grace timer are running. */
  aheadLoading: boolean;
  /** The `contextGen` the radio call in flight was asked for; null when none is. */
  radioFor: number | null;
  /** Autoplay tracks given to this session (newest last, bounded): never given twice. */
  autoplayServed: string[];
  graceArmed: boolean;
  /**
   * A play restored from a snapshot that was playing when saved: where it was then (the
   * position at `at`, by the server clock). It stays paused until its active device is back
   * (its hello), then goes on from here moved on by wall time (see devices.ts
   * `playOnRestored`); a command that steers the play first drops it. Null otherwise.
   */
  restoredPlaying: RestoredPlaying | null;
}

/** See `SessionContext.restoredPlaying`. */
export interface RestoredPlaying {
  positionMs: number;
  at: number;
}

export function initialContext(input: {
  userId: string;
  plan: Plan;
  country: string;
  quality?: Quality;
  epoch: number;
  now: number;
}): SessionContext {
  return {
    userId: input.userId,
    plan: input.plan,
    country: input.country,
    epoch: input.epoch,
    version: 0,
    quality: input.quality ?? 'normal',
    devices: [],
    activeDeviceId: null,
    activeLostAt: null,
    order: emptyPlayOrder(),
    current: null,
    position: stoppedAnchor(input.now),
    ceiling: stoppedAnchor(input.now),
    pendingStart: null,
    pendingResolve: null,
    pendingAdds: [],
    heldSkip: null,
    bundles: {},
    urlExpiry: {},
    fullPrefetched: null,
    lastPrefetchKey: '',
    playCounter: 0,
    shuffleCounter: 0,
    bandwidthKbps: null,
    networkLimited: false,
    autoplayRequested: false,
    contextGen: 0,
    recentRequests: [],
    fetchFailed: [],
    aheadLoading: false,
    radioFor: null,
    autoplayServed: [],
    graceArmed: false,
    restoredPlaying: null,
  };
}

export const findDevice = (c: SessionContext, id: string): DeviceView | undefined =>
  c.devices.find((d) => d.id === id);

export const isConnected = (c: SessionContext, id: string | null): boolean =>
  id !== null && c.devices.some((d) => d.id === id && d.connected);

/** The active device is gone while something plays or is about to: the grace period runs. */
export const activeLost = (c: SessionContext): boolean =>
  c.activeDeviceId !== null &&
  !isConnected(c, c.activeDeviceId) &&
  ((c.current !== null && c.position.playing) || c.pendingStart?.play === true);

/**
 * Until when the current play is heard: `now`, but while the active device is lost, where
 * it was lost (or the anchor, when set since): audio no one hears is not played.
 */
export const heardUntil = (c: SessionContext, now: number): number =>
  c.activeLostAt === null ? now : Math.min(now, Math.max(c.position.at, c.activeLostAt));

/** The ref that "now" is: the pending start if any, else the current play. */
export const nowRef = (c: SessionContext): TrackRef | null => c.pendingStart?.ref ?? c.current?.ref ?? null;

/**
 * What the listener may play now, as far as the session knows: a track whose bundle is
 * loaded is playable or not by its rights (entitlement.ts, at `now`) and its audio; a
 * track that does not exist is not; a track not loaded yet is unknown.
 */
export type Playability = 'ok' | 'unknown' | 'not_found' | ForbiddenReason;

export function playability(c: SessionContext, trackId: string, now: number): Playability {
  const bundle = c.bundles[trackId];
  if (bundle === undefined) return 'unknown';
  if (bundle === null) return 'not_found';
  const verdict = checkEntitlement(bundle, c, now);
  return verdict.ok ? 'ok' : verdict.reason;
}

/**
 * The predicate of the walks over the play order (the preview, the prefetch, the
 * background loads, a skip): true for a track known not to be playable now. They pass
 * over it, so nothing names it and no URL is ever signed for it.
 */
export const knownUnplayable =
  (c: SessionContext, now: number) =>
  (trackId: string): boolean => {
    const p = playability(c, trackId, now);
    return p !== 'ok' && p !== 'unknown';
  };

/**
 * The last walk and what it was asked: one step asks the same question up to 8 times (the
 * preview, the prefetch, the background loads, the bundle prune). The answer depends only
 * on these values, and nested values of the context are replaced, never mutated, so the
 * same identities mean the same answer. One entry: steps run one at a time.
 */
let lastWalk: {
  order: PlayOrder;
  ref: TrackRef;
  bundles: SessionContext['bundles'];
  country: string;
  plan: Plan;
  now: number;
  count: number;
  refs: TrackRef[];
  passed: TrackRef[];
} | null = null;

/**
 * The refs that will really play after what plays now, past the tracks known unplayable
 * (appended to `passed`). The array returned may be the one an earlier call got: read it,
 * never change it.
 */
export function upcomingRefs(c: SessionContext, count: number, now: number, passed?: TrackRef[]): TrackRef[] {
  const ref = nowRef(c);
  if (!ref) return [];
  const w = lastWalk;
  if (
    w !== null &&
    w.ref === ref &&
    w.order === c.order &&
    w.bundles === c.bundles &&
    w.now === now &&
    w.count === count &&
    w.country === c.country &&
    w.plan === c.plan
  ) {
    if (passed) passed.push(...w.passed);
    return w.refs;
  }
  const walked: TrackRef[] = [];
  const refs = upcoming(c.order, ref, count, knownUnplayable(c, now), walked);
  lastWalk = {
    order: c.order,
    ref,
    bundles: c.bundles,
    country: c.country,
    plan: c.plan,
    now,
    count,
    refs,
    passed: walked,
  };
  if (passed) passed.push(...walked);
  return refs;
}

export function upcomingIds(c: SessionContext, count: number, now: number): string[] {
  return upcomingRefs(c, count, now).map((r) => r.trackId);
}

/**
 * The preview of the state (`next_tracks`): the next two plays, as far as they are known to
 * be playable: it stops at a track whose rights are not loaded yet, so it never names a
 * track the listener may not play; the load that follows completes it (a new state).
 */
export function previewIds(c: SessionContext, now: number): string[] {
  return previewRefs(c, now).map((r) => r.trackId);
}

function previewRefs(c: SessionContext, now: number): TrackRef[] {
  const out: TrackRef[] = [];
  for (const r of upcomingRefs(c, 2, now)) {
    if (playability(c, r.trackId, now) !== 'ok') break;
    out.push(r);
  }
  return out;
}

export function stateView(c: SessionContext, now: number): SessionView {
  const track = c.current?.track ?? null;
  const preview = previewRefs(c, now);
  return {
    version: c.version,
    epoch: c.epoch,
    devices: c.devices,
    activeDeviceId: c.activeDeviceId,
    track,
    playId: c.current?.playId ?? null,
    loading: c.pendingStart !== null || c.pendingResolve !== null || c.heldSkip !== null,
    position: c.current
      ? {
          positionMs: positionAt(c.position, now, c.current.track.durationMs),
          at: now,
          playing: c.position.playing,
        }
      : c.position,
    contextUri: c.order.contextUri,
    shuffle: c.order.shuffle,
    repeat: c.order.repeat,
    quality: c.quality,
    // What is true: the current play's bitrate; with none, the setting capped by the plan.
    bitrateKbps: c.current?.bitrateKbps ?? targetKbps(c.quality, c.plan),
    queue: c.order.queue,
    next: preview.map((r) => r.trackId),
    nextFromRadio: preview.filter((r) => r.source === 'autoplay').map((r) => r.trackId),
  };
}
