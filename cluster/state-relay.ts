/**
 * Cluster mode: the player event stream (`GET /v1/me/player/events`, player-events.ts) on any
 * node, whichever owns the listener's session.
 *
 * - **Owner side.** A node serving a stream of a listener it does not own asks the owner to
 *   `watch` the listener (a node `call`, renewed every `RENEW_MS`). While the watch lives
 *   (`INTEREST_TTL_MS` after the last renewal) the owner publishes each of the listener's
 *   states on `<name>.state.<listener>`, once for every remote stream; a listener nobody
 *   streams from elsewhere costs nothing. The watch's answer is the backlog after the
 *   stream's resume point, from the owner's ring (the door's, kept while the watch lives).
 * - **Stream side.** Every stream subscribes to the local door (the session may be here, or
 *   come here) and, while another node owns the listener, to the subject. Before the first
 *   answer of a new owner arrives, live states wait, so the backlog goes out first. A state
 *   goes to the client only when newer than the last it got (epoch, then version): each once,
 *   in order, whichever path brought it first.
 * - **Owner change** (failover, drain): the next renewal finds the new owner (or the old one
 *   refuses) and watches there from the last state sent; the new owner answers with the states
 *   missed, or with its current one when they are from another epoch (states are whole). The
 *   stream stays open: its client sees the new owner's states within a renewal period of
 *   the lease moving, and needs no reconnect.
 */
import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { PlayerDoor, StateEvent, StateListener } from '../session/http/player-door.ts';
import { OwnedElsewhere } from '../session/placement.ts';
import type { ClusterNode } from './cluster-node.ts';

/** How often a stream on a non-owner renews its watch (and looks for a new owner). */
export const RENEW_MS = 2_000;
/** A watch nobody renewed stops publishing after this. */
export const INTEREST_TTL_MS = 3 * RENEW_MS;

export const stateSubject = (name: string, userId: string): string =>
  `${name}.state.${Buffer.from(userId).toString('base64url')}`;

type ResumePoint = { epoch: number; version: number };

/** The node call a stream sends the owner. */
export interface StateWatchCall {
  t: 'state-watch';
  resumeFrom?: ResumePoint;
}

export const isStateWatch = (call: unknown): call is StateWatchCall =>
  typeof call === 'object' && call !== null && (call as { t?: unknown }).t === 'state-watch';

const newer = (e: ResumePoint, last: ResumePoint | undefined): boolean =>
  last === undefined || e.epoch > last.epoch || (e.epoch === last.epoch && e.version > last.version);

export class StateRelay {
  /** Listeners watched for other nodes: when the watch lapses, and the door subscription. */
  private readonly watched = new Map<string, { until: number; unsubscribe: () => void }>();
  private readonly sweep: NodeJS.Timeout;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly door: PlayerDoor,
    private readonly cluster: Pick<ClusterNode, 'nodeId' | 'link' | 'ownerOf' | 'call'>,
    private readonly log: Logger,
  ) {
    this.sweep = setInterval(() => {
      const now = performance.now();
      for (const [userId, w] of this.watched)
        if (w.until <= now) {
          w.unsubscribe();
          this.watched.delete(userId);
        }
    }, RENEW_MS);
    this.sweep.unref();
  }

  /** Owner side: answers a `state-watch` call with the backlog after the stream's resume point. */
  watch(userId: string, call: StateWatchCall): { backlog: StateEvent[] } {
    let w = this.watched.get(userId);
    if (!w) {
      const subject = stateSubject(this.cluster.link.name, userId);
      const { unsubscribe } = this.door.subscribe(userId, (e) => {
        try {
          this.cluster.link.nc.publish(subject, this.encoder.encode(JSON.stringify(e)));
        } catch (err) {
          // The connection closed (shutting down): the other listeners of the state still get it.
          this.log.debug({ err: String(err), user: userId }, 'state watch: not published');
        }
      });
      this.watched.set(userId, (w = { until: 0, unsubscribe }));
    }
    w.until = performance.now() + INTEREST_TTL_MS;
    // The watch's own subscription keeps the ring; this one only reads the backlog from it.
    const probe = this.door.subscribe(userId, () => {}, call.resumeFrom);
    probe.unsubscribe();
    return { backlog: probe.backlog };
  }

  /** Stream side: the feed player-events.ts subscribes to (the door's shape). */
  subscribe(
    userId: string,
    listener: StateListener,
    resumeFrom?: ResumePoint,
  ): { backlog: StateEvent[]; unsubscribe: () => void } {
    let last: ResumePoint | undefined = resumeFrom;
    const deliver = (e: StateEvent): void => {
      if (!newer(e, last)) return;
      last = { epoch: e.epoch, version: e.version };
      listener(e);
    };
    const local = this.door.subscribe(userId, deliver, resumeFrom);
    const backlog = local.backlog.filter((e) => {
      if (!newer(e, last)) return false;
      last = { epoch: e.epoch, version: e.version };
      return true;
    });

    const { nc, name } = this.cluster.link;
    let closed = false;
    let sub: Subscription | undefined;
    /** The owner watched now; undefined: none elsewhere. */
    let watching: string | undefined;
    /** Live states that came before the new owner's backlog. */
    let held: StateEvent[] | undefined;
    let timer: NodeJS.Timeout | undefined;

    const onRemote = (e: StateEvent): void => {
      if (held) held.push(e);
      else deliver(e);
    };
    const step = async (): Promise<void> => {
      for (let tries = 0; tries < 3 && !closed; tries++) {
        const owner = await this.cluster.ownerOf(userId).catch(() => watching);
        if (owner === undefined || owner === this.cluster.nodeId) {
          // Here or nowhere: the local door brings the states.
          sub?.unsubscribe();
          sub = undefined;
          watching = undefined;
          return;
        }
        // Subscribed before the watch is sent on the same connection: no state falls between.
        sub ??= nc.subscribe(stateSubject(name, userId), {
          callback: (err, msg) => {
            if (err || closed) return;
            try {
              onRemote(JSON.parse(new TextDecoder().decode(msg.data)) as StateEvent);
            } catch {
              // Not a state: ignored.
            }
          },
        });
        if (owner !== watching) held ??= [];
        try {
          const answer = (await this.cluster.call(owner, userId, {
            t: 'state-watch',
            ...(last ? { resumeFrom: last } : {}),
          } satisfies StateWatchCall)) as { backlog: StateEvent[] };
          if (closed) return;
          watching = owner;
          for (const e of answer.backlog) deliver(e);
          const h = held;
          held = undefined;
          for (const e of h ?? []) deliver(e);
          return;
        } catch (err) {
          if (err instanceof OwnedElsewhere) continue;
          // Gone or silent: looked up again at the next renewal (the lease moves meanwhile).
          this.log.debug({ err: String(err), user: userId, owner }, 'state watch: the owner did not answer');
          const h = held;
          held = undefined;
          for (const e of h ?? []) deliver(e);
          watching = undefined;
          return;
        }
      }
    };
    const loop = (): void => {
      void step().finally(() => {
        if (!closed) timer = setTimeout(loop, RENEW_MS);
      });
    };
    loop();
    return {
      backlog,
      unsubscribe: () => {
        closed = true;
        clearTimeout(timer);
        sub?.unsubscribe();
        local.unsubscribe();
      },
    };
  }

  close(): void {
    clearInterval(this.sweep);
    for (const w of this.watched.values()) w.unsubscribe();
    this.watched.clear();
  }
}
