/**
 * The outputs one step of the session produces, collected while a pure handler runs
 * (`Effects`) and then turned by `finishStep` (finish-step.ts) into the emissions of the machine's one
 * named action `emit` (bound to `sendToDevice`, `broadcastState`, `publishEvent`) in a
 * fixed order: welcomes first (a device back without its player gets its playback after
 * the welcome), then playback, prefetch and warnings, then answers (so an `ack` of a play
 * arrives after the URLs it promises), then the state.
 */

import type { SessionConfig } from './config.ts';
import type { FileSigner, SignUrl } from './playback-output.ts';
import type { Requester } from './session-context.ts';
import type {
  DeviceOutput,
  ActorErrorCode as ErrorCode,
  ErrorReasonOf,
  ListeningEvent,
  LoadTracksRequest,
  LoadTracksResult,
  RequestId,
  ResolveContextRequest,
  ResolvedContext,
  StateOutput,
} from './types.ts';

/** The reason an error gets when its site names none. */
const DEFAULT_REASONS: { [C in ErrorCode]: ErrorReasonOf[C] } = {
  bad_request: 'invalid_field',
  unauthorized: 'hello_required',
  forbidden: 'not_available',
  not_found: 'unknown_track',
  conflict: 'nothing_playing',
  rate_limited: 'too_many_requests',
  unavailable: 'catalog_unavailable',
};

export interface LogicEnv {
  cfg: SessionConfig;
  sign: SignUrl;
  /** Whole files signed once per expiry (playback-output.ts `fileSigner`). */
  signFile: FileSigner;
  /** Synchronous read of cached bundles (see SessionClockPorts.peekTracks). */
  peek?: ((request: LoadTracksRequest) => LoadTracksResult | undefined) | undefined;
  /** Synchronous read of a known context (see SessionClockPorts.peekContext). */
  peekContext?: ((request: ResolveContextRequest) => ResolvedContext | undefined) | undefined;
}

export type Emission =
  | { kind: 'send'; deviceId: string; output: DeviceOutput }
  | { kind: 'broadcast'; output: StateOutput }
  | { kind: 'event'; event: ListeningEvent };

export class Effects {
  readonly media: Array<{ deviceId: string; output: DeviceOutput }> = [];
  readonly answers: Array<{ deviceId: string; output: DeviceOutput }> = [];
  readonly welcomes: Array<{ deviceId: string; requestId?: RequestId; resumed: boolean }> = [];
  readonly events: ListeningEvent[] = [];
  /** The shared state changed: bump the version and broadcast it. */
  changed = false;
  /** What plays next may have changed: plan prefetch again (sent only if it differs). */
  replan = false;
  /** Send prefetch even if unchanged (it accompanies a new playback). */
  forcePrefetch = false;

  send(deviceId: string, output: DeviceOutput): void {
    this.media.push({ deviceId, output });
  }

  ack(r: Requester | null | undefined): void {
    if (r && r.requestId !== undefined)
      this.answers.push({ deviceId: r.deviceId, output: { type: 'ack', requestId: r.requestId } });
  }

  /** An error to the requester; `reason` defaults to the usual one of the code (DEFAULT_REASONS). */
  error<C extends ErrorCode>(
    r: Requester | null | undefined,
    code: C,
    message: string,
    extra?: { reason?: ErrorReasonOf[C]; trackId?: string },
  ): void {
    if (!r) return;
    const output: DeviceOutput = {
      type: 'error',
      code,
      reason: extra?.reason ?? DEFAULT_REASONS[code],
      message,
    };
    if (r.requestId !== undefined) output.requestId = r.requestId;
    if (extra?.trackId) output.trackId = extra.trackId;
    this.answers.push({ deviceId: r.deviceId, output });
  }

  event(e: ListeningEvent): void {
    this.events.push(e);
  }
}
