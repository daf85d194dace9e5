/**
 * Placement: which node runs a listener's session actor, as the session server sees it. Two
 * ports, implemented by cluster/ (NATS leases and relays) and wired by app/; with neither
 * given (one node, `npm start`) every session runs here and nothing changes.
 *
 * - `SessionOwnership`: the registry claims a listener before it opens the live session and
 *   releases it after the final save. A claim refused because another live node holds the
 *   listener rejects with `OwnedElsewhere`; `holds` says, without I/O, whether this node may
 *   still speak for the listener (frames, events), so a node that lost its lease while paused
 *   sends nothing.
 * - `RemoteSessions`: a device on this node whose listener is owned elsewhere is served
 *   through the owner: its commands go there and the owner's frames come back, in order.
 *
 * `placedSessions` (remote-sessions.ts) joins both to the local registry and router for the
 * device sockets.
 */

/** Another live node holds the listener's session; devices here are relayed to it. */
export class OwnedElsewhere extends Error {
  override readonly name = 'OwnedElsewhere';
  constructor(
    readonly userId: string,
    readonly owner: string,
  ) {
    super(`the session of ${userId} runs on node ${owner}`);
  }
}

export interface SessionOwnership {
  /** Makes this node the listener's owner, or rejects with `OwnedElsewhere` (or an outage). */
  claim(userId: string): Promise<void>;
  /** The session left this node (retired after its final save, or dropped). */
  release(userId: string): void;
  /** This node still owns the listener now (a local check, no I/O). */
  holds(userId: string): boolean;
}
