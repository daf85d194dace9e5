/**
 * The ports of a session actor: every effect leaves through these. The composition root
 * (app/session-actor.ts) binds one object of them to the machine's named effects with
 * `.provide()` once per process (the machine is shared by every listener; the user id
 * travels in each call).
 *
 * Contract, per port:
 * - `now()`: server wall clock, epoch ms. Decides positions and ms_played. Tests pass a
 *   simulated clock (`() => clock.now()` with xstate's SimulatedClock).
 * - `signUrl(path, expiresAtMs)`: synchronous, deterministic for the same arguments and
 *   key (HMAC over path + expiry + key id); `path` is `/o/<chunk key>`. Determinism is what
 *   lets a prefetched URL equal the URL of the later playback.
 * - `sendToDevice(userId, deviceId, output)`: best-effort send to one device; a device that
 *   is gone is silently skipped. Must not throw.
 * - `broadcastState(userId, output)`: the same `state` to every connected device of the user
 *   but those in `output.welcomed` (their welcome of the same step carried this state).
 * - `publishEvent(event)`: hands a listening event to the event log (fire and forget; the
 *   adapter owns retries and the outbox). Must not throw.
 * - `loadTracks`: one batched read of track bundles (metadata, audio files, rights for the
 *   country + '*'); unknown ids map to null. Rejects only when the store is unavailable.
 * - `resolveContext`: a context uri (playlist/album) or an explicit id list to tracks with
 *   their artists; null when the context does not exist.
 * - `radio`: autoplay tracks to extend a context that runs out; the default returns [].
 * - `peekTracks` (optional): the same bundles as `loadTracks`, synchronously, when every
 *   one of them is in memory already; undefined otherwise (then `loadTracks` runs). With it a
 *   play, skip or queue add whose tracks are cached settles in the step of its command,
 *   with no invoked load and no extra event. A pure read of a cache, like `now()`.
 * - `peekContext` (optional): the same answer as `resolveContext`, synchronously, when it is
 *   in memory and known to be current (a playlist's cached track list whose version is the
 *   stored one); undefined otherwise (then `resolveContext` runs). With it (and the bundles
 *   at hand) a play settles in the step of its command: no invoked resolve, no second step.
 */

import type {
  DeviceOutput,
  ListeningEvent,
  LoadTracksRequest,
  LoadTracksResult,
  Plan,
  Quality,
  RadioRequest,
  ResolveContextRequest,
  ResolvedContext,
  StateOutput,
} from './types.ts';
import type { PersistedSession } from './session-snapshot.ts';

export interface SessionClockPorts {
  now(): number;
  signUrl(path: string, expiresAtMs: number): string;
  peekTracks?(request: LoadTracksRequest): LoadTracksResult | undefined;
  peekContext?(request: ResolveContextRequest): ResolvedContext | undefined;
}

export interface SessionEffectPorts {
  sendToDevice(userId: string, deviceId: string, output: DeviceOutput): void;
  broadcastState(userId: string, output: StateOutput): void;
  publishEvent(event: ListeningEvent): void;
  loadTracks(request: LoadTracksRequest): Promise<LoadTracksResult>;
  resolveContext(request: ResolveContextRequest): Promise<ResolvedContext | null>;
  radio?(request: RadioRequest): Promise<string[]>;
}

export type SessionPorts = SessionClockPorts & SessionEffectPorts;

/** `createActor(machine, { input })`: who the session belongs to, and where it resumes from. */
export interface SessionInput {
  userId: string;
  plan: Plan;
  country: string;
  /** The account's stored quality setting; a restored snapshot's setting wins. */
  quality?: Quality;
  /**
   * Epoch of a fresh session (e.g. the creation time): versions restart at 0 in a new epoch,
   * so a device resuming from another epoch is told its state is gone. A restored session
   * keeps its own epoch.
   */
  epoch: number;
  /** A snapshot from `persistSession`, loaded from the snapshot store. */
  restore?: PersistedSession;
}

/** The default radio port: no autoplay until the radio service exists. */
export const noRadio = async (_request: RadioRequest): Promise<string[]> => [];
