/**
 * One session node of a cluster on NATS: its unique node id, the leases of the listeners whose
 * session actors it runs, and the relay of devices to and from other nodes. It implements the
 * session layer's placement ports (session/placement.ts); app/ wires it.
 *
 * Placement of a listener (`claim`, on the first hello a node sees for a listener with no
 * live session here; leases in cluster/lease-table.ts: a node lease renewed, listener leases
 * naming a node and its epoch, written once):
 *   1. create the listener's lease key: this node is the owner; its revision is the fencing
 *      token, which the snapshot store records before the snapshot is read (an old owner's
 *      writes fail);
 *   2. the key exists: read its holder's node lease.
 *      - gone, or at another epoch (expired, released, revoked, the node restarted): rewrite
 *        the key to this node with compare-and-set on the revision read;
 *      - live: probe the holder on its node subject.
 *        - it answers: the session runs there; the device is relayed (`OwnedElsewhere`);
 *        - no responders: the holder's NATS connection closed (its process died, at once on
 *          `kill -9`): revoke its node lease (delete at the revision read), which frees every
 *          listener it held, and place again;
 *        - silent (paused, partitioned) or draining: wait until the listener key changes or the
 *          holder's node lease goes (released, or expired with the bucket TTL), then place again.
 *
 * The acknowledged-command journal (storage/journal.jetstream.ts, on unless CLUSTER_JOURNAL=off):
 * a claim opens the listener's journal with the lease's fence, which fences every older owner
 * out of it (JetStream's compare-and-set on the subject's last sequence); the snapshot read
 * after the claim is the newer of the stored snapshot and the journal's last entry; appends
 * are refused locally once the lease is no longer held; a session that leaves after a final
 * snapshot that covers its journal has its entries purged.
 *
 * The node lease is the node id's lease too (`n.<id>`): a second live process with the same id
 * is refused at start; a dead one's key is revoked as above.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import type { Msg, NatsConnection } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { EventLog } from '../storage/event-log.ts';
import type { SessionSnapshot, SnapshotStore } from '../storage/snapshots.ts';
import { newerSnapshot, type SessionJournal } from '../storage/journal.ts';
import { JetStreamJournal } from '../storage/journal.jetstream.ts';
import { StorageError } from '../storage/errors.ts';
import type { CommandSink } from '../session/device-socket.ts';
import { OwnedElsewhere, type SessionOwnership } from '../session/placement.ts';
import type { SessionRegistry } from '../session/registry.ts';
import type { ClusterConfig } from './cluster-config.ts';
import { LeaseTable, listenerKey } from './lease-table.ts';
import { jsonBytes, nodeSubject, readJson, type NodeReply, type NodeRequest } from './link-messages.ts';
import { HostedLinks, probeNode, RelayLinks, type RelayContext } from './relay.ts';

/** Start-up refused: the node id is held by a live node, or NATS is unreachable or unfit. */
export class ClusterStartError extends Error {
  override readonly name = 'ClusterStartError';
}

/** How long a holder gets to answer a probe before it counts as silent. */
const PROBE_TIMEOUT_MS = 500;
/** How long an owner has to answer a call (an HTTP command waits for the actor and the journal). */
const CALL_TIMEOUT_MS = 12_000;
/** How often a silent holder's key is read while waiting for it to change. */
const WAIT_POLL_MS = 100;

export interface ClusterNode extends SessionOwnership {
  readonly nodeId: string;
  readonly relay: RelayLinks;
  /** The node's NATS connection and the cluster's name, for the cluster's other services. */
  readonly link: { nc: NatsConnection; name: string };
  /** The acknowledged-command journal, fenced by this node's leases (undefined: off). */
  readonly journal: Pick<SessionJournal, 'append'> | undefined;
  /** The local session server, once it runs: relayed devices attach to it. */
  bind(server: { registry: SessionRegistry; commands: CommandSink }): void;
  /** Snapshot writes fenced by this node's lease of the listener. */
  fenceSnapshots(store: SnapshotStore): SnapshotStore;
  /** Listening events of listeners this node no longer holds are dropped. */
  fenceEvents(log: EventLog): EventLog;
  /** The node that owns the listener now (undefined: none; this node's id when it is this one). */
  ownerOf(userId: string): Promise<string | undefined>;
  /**
   * Sends `call` to `owner`, which answers it with what `serveCalls`'s handler returns there,
   * after checking it still owns the listener; rejects with `OwnedElsewhere` (it moved on) or
   * an error (the owner is gone or silent).
   */
  call(owner: string, userId: string, call: unknown): Promise<unknown>;
  /** What this node answers to calls for listeners it owns. */
  serveCalls(handler: (userId: string, call: unknown) => Promise<unknown>): void;
  /** Graceful drain, step one: refuse new listeners and send relayed devices elsewhere. */
  drain(): void;
  /** Releases every lease and the node id, closes NATS (after the server closed). */
  close(): Promise<void>;
}

export async function startClusterNode(cfg: ClusterConfig, log: Logger): Promise<ClusterNode> {
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: cfg.natsUrl,
      name: `session-node-${cfg.nodeId}`,
      timeout: 3_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      pingInterval: 5_000,
    });
  } catch (err) {
    throw new ClusterStartError(
      `cluster mode (NODE_ID=${cfg.nodeId}) needs NATS, and NATS is unreachable at ${cfg.natsUrl}: ${String(err)}`,
      { cause: err },
    );
  }
  try {
    return await startOn(nc, cfg, log);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/** Opens (creating if missing) a lease bucket and checks its TTL: 0 is none. */
async function openBucket(nc: NatsConnection, bucket: string, ttlMs: number): Promise<KV> {
  let kv: KV;
  try {
    kv = await new Kvm(nc).create(bucket, { ...(ttlMs > 0 ? { ttl: ttlMs } : {}), history: 1 });
  } catch (err) {
    throw new ClusterStartError(
      `the lease bucket ${bucket} could not be created or opened (does the NATS server run JetStream?): ${String(err)}`,
      { cause: err },
    );
  }
  const status = await kv.status();
  if (status.ttl !== ttlMs)
    throw new ClusterStartError(
      ttlMs > 0
        ? `the lease bucket ${bucket} has a TTL of ${status.ttl} ms, this node is configured for ${ttlMs} ms ` +
            `(CLUSTER_LEASE_TTL_MS must be the same on every node of a cluster)`
        : `the lease bucket ${bucket} has a TTL of ${status.ttl} ms and must have none ` +
            `(listener leases live as long as their node's lease); delete it to have it made again`,
    );
  return kv;
}

async function startOn(nc: NatsConnection, cfg: ClusterConfig, log: Logger): Promise<ClusterNode> {
  const nodeBucket = await openBucket(nc, `${cfg.name}_leases`, cfg.leaseTtlMs);
  const listenerBucket = await openBucket(nc, `${cfg.name}_listeners`, 0);
  let journal: SessionJournal | undefined;
  try {
    journal = cfg.journal
      ? await JetStreamJournal.open(nc, {
          stream: `${cfg.name}_journal`,
          subjectPrefix: `${cfg.name}.journal`,
        })
      : undefined;
  } catch (err) {
    throw new ClusterStartError(
      `the journal stream ${cfg.name}_journal could not be opened: ${String(err)}`,
      {
        cause: err,
      },
    );
  }
  /** The journal's last entry read at a claim, until the snapshot read that follows it. */
  const journaled = new Map<string, SessionSnapshot | undefined>();
  /** The journal sequence the last saved snapshot of a listener covers. */
  const covered = new Map<string, number>();
  const ctx: RelayContext = { nc, name: cfg.name, nodeId: cfg.nodeId, log };
  let registry: SessionRegistry | undefined;
  let draining = false;
  let fatal: ((why: string) => void) | undefined;

  const userOf = new Map<string, string>();
  const leases = new LeaseTable(nodeBucket, listenerBucket, cfg.nodeId, cfg.leaseTtlMs, log, (keys) => {
    for (const key of keys) {
      const userId = userOf.get(key);
      userOf.delete(key);
      // Lost without knowing (paused past the lease, NATS away): drop the session unsaved and
      // silent; the devices reconnect to the new owner.
      if (userId !== undefined) registry?.evict(userId, CLOSE_CODES.moved.code, CLOSE_CODES.moved.reason);
    }
    void reclaimId();
  });
  /** The node lease's revision now (0: none), to wait for a silent holder's to change. */
  const nodeRevision = async () => (await leases.nodeLease(cfg.nodeId))?.revision ?? 0;

  // The node lease is the node id's: a live holder is a clash.
  for (let i = 0; ; i++) {
    const r = await leases.join();
    if (r.ok) break;
    const probe = r.holder ? await probeNode(ctx, cfg.nodeId, PROBE_TIMEOUT_MS) : 'gone';
    if (probe === 'alive' || probe === 'draining' || i >= 3)
      throw new ClusterStartError(
        `node id ${cfg.nodeId} is already in use by a running node of cluster ${cfg.name}; give every node its own NODE_ID`,
      );
    if (probe === 'gone') await leases.revokeNode(cfg.nodeId, r.revision);
    else await waitForChange(nodeRevision, r.revision, cfg.leaseTtlMs * 2);
  }

  const relay = new RelayLinks(ctx, 500);
  const hosted = new HostedLinks(ctx);
  const control = nc.subscribe(nodeSubject(cfg.name, cfg.nodeId), {
    callback: (err, msg) => {
      if (!err) void answer(msg);
    },
  });
  const answer = async (msg: Msg) => {
    let req: NodeRequest;
    try {
      req = readJson<NodeRequest>(msg.data);
    } catch {
      return;
    }
    let reply: NodeReply;
    if (req.t === 'ping') reply = { t: 'pong', draining };
    else if (req.t === 'call') reply = await answerCall(req.userId, req.call);
    else if (draining) reply = { t: 'refused', owner: '', why: 'draining' };
    else reply = await hosted.attach(req);
    msg.respond(jsonBytes(reply));
  };
  leases.start();

  let callHandler: ((userId: string, call: unknown) => Promise<unknown>) | undefined;
  const answerCall = async (userId: string, call: unknown): Promise<NodeReply> => {
    // Only the owner answers: the caller looks the owner up again.
    if (!callHandler || !leases.holds(listenerKey(userId)))
      return {
        t: 'refused',
        owner: (await leases.holderOf(listenerKey(userId)).catch(() => '')) ?? '',
        why: 'not the owner',
      };
    try {
      return { t: 'called', answer: await callHandler(userId, call) };
    } catch (err) {
      return { t: 'refused', owner: '', why: String(err) };
    }
  };

  /** The listener's lease is this node's (fence: its revision): fence the stores with it. */
  const placed = async (userId: string, key: string, fence: number): Promise<void> => {
    userOf.set(key, userId);
    try {
      await fencedStore?.claimFence(userId, fence);
      if (journal) journaled.set(userId, await journal.open(userId, fence));
    } catch (err) {
      userOf.delete(key);
      await leases.release(key);
      throw err;
    }
  };

  const claim = async (userId: string): Promise<void> => {
    if (draining) throw new Error('this node is draining');
    const key = listenerKey(userId);
    const deadline = performance.now() + cfg.leaseTtlMs * 3;
    while (performance.now() < deadline) {
      const epoch = leases.epoch();
      if (epoch === undefined)
        throw new StorageError('unavailable', `node ${cfg.nodeId} holds no node lease now; try another node`);
      const r = await leases.acquire(key);
      if (r.ok) return placed(userId, key, r.fence);
      if (!r.holder) continue; // released between create and read
      // Ours at this epoch but not held here (a release in flight or failed): take it again.
      const holderNode =
        r.holder === cfg.nodeId && r.epoch === epoch ? undefined : await leases.nodeLease(r.holder);
      if (holderNode === undefined || holderNode.epoch !== r.epoch) {
        const t = await leases.takeOver(key, r.revision);
        if (t && t.ok) {
          if (r.holder !== cfg.nodeId)
            log.info({ user: userId, from: r.holder }, 'took over a session whose node lease is gone');
          return placed(userId, key, t.fence);
        }
        continue; // taken by another node meanwhile, or released
      }
      const probe = await probeNode(ctx, r.holder, PROBE_TIMEOUT_MS);
      if (probe === 'alive') throw new OwnedElsewhere(userId, r.holder);
      if (probe === 'gone') {
        // Its NATS connection closed: the node is dead; every listener it held is free.
        if (await leases.revokeNode(r.holder, holderNode.revision))
          log.info({ node: r.holder }, 'revoked the node lease of a node whose NATS connection closed');
      } else
        await waitForChange(
          async () => {
            const n = await leases.nodeLease(r.holder);
            return n?.epoch === r.epoch ? await leases.revisionOf(key) : 0;
          },
          r.revision,
          deadline - performance.now(),
        );
    }
    throw new StorageError('unavailable', `the session of ${userId} could not be placed in time`);
  };

  let fencedStore: SnapshotStore | undefined;
  let closed = false;
  const node: ClusterNode = {
    nodeId: cfg.nodeId,
    relay,
    link: { nc, name: cfg.name },
    journal: journal && {
      append: (snapshot) =>
        node.holds(snapshot.userId)
          ? journal.append(snapshot)
          : Promise.reject(
              new StorageError('conflict', `not journaled: this node no longer holds ${snapshot.userId}`),
            ),
    },
    claim,
    release(userId) {
      const key = listenerKey(userId);
      userOf.delete(key);
      journaled.delete(userId);
      const seq = covered.get(userId);
      covered.delete(userId);
      // Purged while the lease is still ours, then let go.
      const dropped =
        journal && seq !== undefined && leases.holds(key) ? journal.drop(userId, seq) : Promise.resolve();
      void dropped
        .catch((err: unknown) => log.warn({ err: String(err), user: userId }, 'journal purge failed'))
        .then(() => leases.release(key));
    },
    holds: (userId) => leases.holds(listenerKey(userId)),
    async ownerOf(userId) {
      return leases.holds(listenerKey(userId)) ? cfg.nodeId : await leases.holderOf(listenerKey(userId));
    },
    async call(owner, userId, call) {
      const m = await nc.request(
        nodeSubject(cfg.name, owner),
        jsonBytes({ t: 'call', userId, call } satisfies NodeRequest),
        { timeout: CALL_TIMEOUT_MS },
      );
      const reply = readJson<NodeReply>(m.data);
      if (reply.t === 'called') return reply.answer;
      if (reply.t === 'refused' && reply.owner && reply.owner !== owner)
        throw new OwnedElsewhere(userId, reply.owner);
      throw new Error(
        `node ${owner} did not answer the call: ${reply.t === 'refused' ? reply.why : reply.t}`,
      );
    },
    serveCalls(handler) {
      callHandler = handler;
    },
    bind(server) {
      registry = server.registry;
      hosted.bind({ registry: server.registry, commands: server.commands, holds: node.holds });
    },
    fenceSnapshots(store) {
      fencedStore = store;
      return {
        async getSnapshot(userId) {
          const stored = await store.getSnapshot(userId);
          if (!journaled.has(userId)) return stored;
          const entry = journaled.get(userId);
          journaled.delete(userId);
          // What the last owner acknowledged after its last snapshot.
          return newerSnapshot(stored, entry);
        },
        deleteSnapshot: (userId) => store.deleteSnapshot(userId),
        claimFence: (userId, fence) => store.claimFence(userId, fence),
        async putSnapshot(snapshot) {
          const fence = leases.fenceOf(listenerKey(snapshot.userId));
          if (fence === undefined)
            throw new StorageError(
              'conflict',
              `not saved: this node no longer holds the lease of ${snapshot.userId}`,
            );
          const seq = journal?.lastSeq(snapshot.userId) ?? 0;
          await store.putSnapshot(snapshot, fence);
          covered.set(snapshot.userId, seq);
        },
      };
    },
    fenceEvents(eventLog) {
      return {
        publish: (event) =>
          node.holds(event.user)
            ? eventLog.publish(event)
            : Promise.reject(new StorageError('conflict', `event of ${event.user} dropped: lease lost`)),
        close: () => eventLog.close(),
      };
    },
    drain() {
      draining = true;
      relay.close(CLOSE_CODES.moved);
      hosted.closeAll(CLOSE_CODES.moved);
    },
    async close() {
      if (closed) return;
      closed = true;
      draining = true;
      leases.stop();
      hosted.stop();
      control.unsubscribe();
      await leases.releaseAll();
      await journal?.close();
      await nc.drain().catch(() => nc.close());
    },
  };
  fatal = (why) => {
    // No owner any more: sessions dropped unsaved, no new claims; devices are still relayed.
    log.fatal({ node: cfg.nodeId, why }, 'cluster node can no longer own sessions');
    draining = true;
    for (const key of leases.dropAll()) {
      const userId = userOf.get(key);
      if (userId !== undefined) registry?.evict(userId, CLOSE_CODES.moved.code, CLOSE_CODES.moved.reason);
    }
    userOf.clear();
  };
  // The node lease ran out or was refused (a pause past it, revoked): take it again, at a new
  // epoch, unless another process has the id. A key still there may be our own last renewal
  // (its answer lost): it expires within the TTL, one of another process does not.
  const reclaimId = async () => {
    try {
      for (let i = 0; i < 3 && !closed; i++) {
        const r = await leases.join();
        if (r.ok) return void log.warn({ node: cfg.nodeId }, 'node lease lost; taken again at a new epoch');
        await waitForChange(nodeRevision, r.revision, cfg.leaseTtlMs * 2);
      }
      if (!closed) fatal?.(`node id ${cfg.nodeId} was taken by another process while this one was away`);
    } catch (err) {
      fatal?.(`node lease could not be taken again: ${String(err)}`);
    }
  };
  return node;
}

/** Waits until `current()` is no longer `revision` (renewed, released, expired), or `ms` passed. */
async function waitForChange(current: () => Promise<number>, revision: number, ms: number): Promise<void> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    await new Promise((r) => setTimeout(r, WAIT_POLL_MS));
    if ((await current()) !== revision) return;
  }
}
