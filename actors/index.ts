/** Public API of actors/: the session machine, its ports, domain types and pure policies. */
export * from './types.ts';
export * from './config.ts';
export {
  noRadio,
  type SessionInput,
  type SessionPorts,
  type SessionClockPorts,
  type SessionEffectPorts,
} from './ports.ts';
export {
  createSessionLogic,
  desiredPlayback,
  persistSession,
  sessionState,
  type LoadedTracks,
  type SessionActor,
  type SessionEvent,
  type SessionLogic,
  type SessionLogicDeps,
  type SessionSnapshot,
} from './session-machine.ts';
export { isPersistedSession, PERSISTED_SESSION_FORMAT, type PersistedSession } from './session-snapshot.ts';
export type { SessionContext } from './session-context.ts';
export { checkEntitlement, type Entitlement } from './entitlement.ts';
export { chooseBitrate, type BitrateChoice } from './bitrate.ts';
export { smartShuffle } from './smart-shuffle.ts';
export { listeningEvent, makePlayId, eventId } from './listening-events.ts';
