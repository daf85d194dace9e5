/**
 * Leases in two JetStream KV buckets: a node lease per node, renewed; a listener lease per
 * listener, written once and live as long as its node's lease.
 *
 * Why two kinds: a renewal is one compare-and-set write, and nats-server 2.9 takes about 2 000
 * of them per second on this machine, so renewing every listener's key (10 000 listeners and a
 * 4 s TTL: 10 000 writes/s per node) loses leases long before a node is full. Here a node writes
 * once per quarter TTL whatever its listener count, and once per listener it places.
 *
 * - node lease: the key `n.<node id>` in the TTL bucket (`<name>_leases`; nats-server 2.9 has
 *   bucket-wide TTLs only, the stream's max age). `create` takes it; its revision then is the
 *   node's **epoch**, written into every renewal's value (`update` with the last revision seen,
 *   every `ttlMs / 4`). Not rewritten within `ttlMs`, it disappears: a paused or partitioned
 *   node loses it. A renewal refused (the key expired, or another node revoked it on finding
 *   the node's NATS connection closed) means lost.
 * - listener lease: the key `l.<user id>` in the bucket WITHOUT a TTL (`<name>_listeners`; it
 *   must never expire on its own), valued `{ node, epoch }`: taken with `create`, never renewed.
 *   It is live iff the key `n.<node>` exists at that epoch. Its revision is the fencing token
 *   for snapshots, journal and events; it grows with every new holder.
 * - take over: a listener key whose node lease is gone (expired, released on drain, revoked, or
 *   of an older epoch of the same node) is rewritten to the new holder with compare-and-set on
 *   the revision read: of two nodes taking over at once one fails, so never two holders.
 * - a node whose own renewal is refused or runs out loses every listener at once.
 * - locally, the node lease (and with it every listener lease) counts as held only until
 *   `renewal sent + ttlMs - margin`: the server expires it no earlier than that (its write came
 *   after our send), so a node paused past its lease knows it lost it before it could act
 *   (SIGSTOP, a long GC) without asking.
 * - release: a listener key is deleted with compare-and-set; on drain the node key goes first
 *   (one write frees every listener at once), then the listener keys, so none is left behind.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';

/** A node lease's value. */
export interface NodeLease {
  node: string;
  /** The key's revision when the node created it (absent until its first renewal). */
  epoch?: number;
  /** Epoch ms of the write (for people reading the bucket). */
  at: number;
}

/** A listener lease's value: held by `node` for as long as its node lease is at `epoch`. */
export interface ListenerLease {
  node: string;
  epoch: number;
  at: number;
}

export type AcquireResult =
  { ok: true; fence: number } | { ok: false; holder: string; epoch: number; revision: number };

export type JoinResult = { ok: true; epoch: number } | { ok: false; holder: string; revision: number };

interface HeldNode {
  epoch: number;
  revision: number;
  /** performance.now() until which this node may act as the holder of its leases. */
  validUntil: number;
  /** A renewal in flight. */
  renewing?: Promise<void>;
}

interface HeldListener {
  fence: number;
  /** The node epoch the key names: held only while the node lease is at it. */
  epoch: number;
}

/** Key of a listener's lease: KV keys allow [-/_=.A-Za-z0-9], user ids more. */
export const listenerKey = (userId: string): string => `l.${Buffer.from(userId).toString('base64url')}`;
export const nodeKey = (nodeId: string): string => `n.${nodeId}`;

const encoder = new TextEncoder();

/** True when a KV write failed because the key's revision was not the one expected. */
export function isWrongRevision(err: unknown): boolean {
  const e = err as { code?: unknown; message?: string };
  // JetStreamApiError codes 10071 / 10164: wrong last sequence (compare-and-set refused).
  return e?.code === 10071 || e?.code === 10164 || /wrong last sequence/i.test(String(e?.message ?? ''));
}

export class LeaseTable {
  private node: HeldNode | undefined;
  private readonly held = new Map<string, HeldListener>();
  private timer: NodeJS.Timeout | undefined;
  private readonly marginMs: number;
  private readonly ownKey: string;
  /** Node lease renewals the server took since start (the cluster bench reads the rate). */
  renewed = 0;

  constructor(
    /** The TTL bucket of node leases. */
    private readonly nodes: KV,
    /** The bucket without a TTL of listener leases. */
    private readonly listeners: KV,
    private readonly nodeId: string,
    readonly ttlMs: number,
    private readonly log: Logger,
    /**
     * The node lease was refused or ran out: every listener key in `listenerKeys` is no longer
     * held; called once, after which the node lease may be joined again (a new epoch).
     */
    private readonly onNodeLost: (listenerKeys: string[]) => void,
  ) {
    // Clock rates differ a little, and the renewal's own round trip counts against us.
    this.marginMs = Math.max(100, Math.floor(ttlMs / 10));
    this.ownKey = nodeKey(nodeId);
  }

  /** Starts renewing the node lease every ttl/4. */
  start(): void {
    const every = Math.max(50, Math.floor(this.ttlMs / 4));
    this.timer = setInterval(() => this.renewNode(), every);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The node lease, held and not past its local deadline: its epoch. */
  epoch(): number | undefined {
    const n = this.node;
    return n !== undefined && performance.now() < n.validUntil ? n.epoch : undefined;
  }

  /** Takes the node lease (create-if-absent); a new epoch each time. */
  async join(): Promise<JoinResult> {
    const sent = performance.now();
    try {
      const revision = await this.nodes.create(this.ownKey, this.nodeValue());
      this.node = { epoch: revision, revision, validUntil: sent + this.ttlMs - this.marginMs };
      return { ok: true, epoch: revision };
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
    const e = await this.nodes.get(this.ownKey);
    if (!e || e.operation !== 'PUT') return { ok: false, holder: '', revision: e?.revision ?? 0 };
    return { ok: false, holder: (e.json() as Partial<NodeLease>).node ?? '', revision: e.revision };
  }

  /** A node lease now: its epoch and revision, or undefined when it is gone. */
  async nodeLease(nodeId: string): Promise<{ epoch: number; revision: number } | undefined> {
    const e = await this.nodes.get(nodeKey(nodeId));
    if (!e || e.operation !== 'PUT') return undefined;
    return { epoch: (e.json() as Partial<NodeLease>).epoch ?? e.revision, revision: e.revision };
  }

  /**
   * Deletes a node lease if still at `revision` (its node's NATS connection closed): every
   * listener it held can be taken over. False when it moved on (renewed, released, revoked).
   */
  async revokeNode(nodeId: string, revision: number): Promise<boolean> {
    return this.deleteAt(this.nodes, nodeKey(nodeId), revision);
  }

  /** Held (and the node lease with it) and not past the local deadline. */
  holds(key: string): boolean {
    const l = this.held.get(key);
    return l !== undefined && l.epoch === this.epoch();
  }

  fenceOf(key: string): number | undefined {
    return this.holds(key) ? this.held.get(key)!.fence : undefined;
  }

  /** Creates the listener key naming this node at its epoch; else reads who holds it. */
  async acquire(key: string): Promise<AcquireResult> {
    const epoch = this.requireEpoch();
    try {
      const fence = await this.listeners.create(key, this.listenerValue(epoch));
      return this.took(key, epoch, fence);
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
    const entry = await this.listeners.get(key);
    // Released between the two calls: the caller tries again.
    if (!entry || entry.operation !== 'PUT')
      return { ok: false, holder: '', epoch: 0, revision: entry?.revision ?? 0 };
    const v = entry.json() as Partial<ListenerLease>;
    return { ok: false, holder: v.node ?? '', epoch: v.epoch ?? 0, revision: entry.revision };
  }

  /**
   * Rewrites the listener key to this node if it is still at `revision` (its holder's node
   * lease is gone); false when it moved on (taken by another node, released).
   */
  async takeOver(key: string, revision: number): Promise<AcquireResult | false> {
    const epoch = this.requireEpoch();
    try {
      const fence = await this.listeners.update(key, this.listenerValue(epoch), revision);
      return this.took(key, epoch, fence);
    } catch (err) {
      if (isWrongRevision(err)) return false;
      throw err;
    }
  }

  /**
   * The node named by `key`'s listener lease (undefined: none), for routing a call to it; the
   * named node checks it still holds the lease before it answers.
   */
  async holderOf(key: string): Promise<string | undefined> {
    const e = await this.listeners.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    return (e.json() as Partial<ListenerLease>).node;
  }

  /** The listener key's revision now (0: none), to watch a silent holder. */
  async revisionOf(key: string): Promise<number> {
    const e = await this.listeners.get(key);
    return e && e.operation === 'PUT' ? e.revision : 0;
  }

  /** Lets go of a listener lease (deleted if still ours); forgotten locally at once. */
  async release(key: string): Promise<void> {
    const l = this.held.get(key);
    if (!l) return;
    this.held.delete(key);
    await this.deleteAt(this.listeners, key, l.fence).catch((err: unknown) =>
      this.log.warn({ err: String(err), key }, 'lease release failed; its node lease decides'),
    );
  }

  /**
   * Drain: deletes the node lease (every listener of this node may be taken at once), then
   * every listener key still ours, so the bucket without a TTL keeps none of them.
   */
  async releaseAll(): Promise<void> {
    this.stop();
    const n = this.node;
    this.node = undefined;
    if (n) {
      await n.renewing;
      await this.deleteAt(this.nodes, this.ownKey, n.revision).catch((err: unknown) =>
        this.log.warn({ err: String(err) }, 'node lease release failed; it expires'),
      );
    }
    const keys = [...this.held.entries()];
    this.held.clear();
    await Promise.all(keys.map(([key, l]) => this.deleteAt(this.listeners, key, l.fence).catch(() => false)));
  }

  /** Forgets every listener lease without deleting them (they die with the node lease). */
  dropAll(): string[] {
    const keys = [...this.held.keys()];
    this.held.clear();
    return keys;
  }

  private took(key: string, epoch: number, fence: number): AcquireResult {
    // The node lease was lost while the write was in flight: the key names a dead epoch.
    if (this.epoch() !== epoch) throw new Error('the node lease was lost while placing a listener');
    this.held.set(key, { fence, epoch });
    return { ok: true, fence };
  }

  private requireEpoch(): number {
    const epoch = this.epoch();
    if (epoch === undefined) throw new Error(`node ${this.nodeId} holds no node lease now`);
    return epoch;
  }

  private async deleteAt(kv: KV, key: string, revision: number): Promise<boolean> {
    try {
      await kv.delete(key, { previousSeq: revision });
      return true;
    } catch (err) {
      if (isWrongRevision(err)) return false;
      throw err;
    }
  }

  private nodeValue(epoch?: number): Uint8Array {
    return encoder.encode(
      JSON.stringify({ node: this.nodeId, ...(epoch ? { epoch } : {}), at: Date.now() } satisfies NodeLease),
    );
  }

  private listenerValue(epoch: number): Uint8Array {
    return encoder.encode(
      JSON.stringify({ node: this.nodeId, epoch, at: Date.now() } satisfies ListenerLease),
    );
  }

  private renewNode(): void {
    const n = this.node;
    if (!n) return;
    if (performance.now() >= n.validUntil) return this.lose(n, 'ran out before a renewal came back');
    if (!n.renewing) n.renewing = this.renew(n).finally(() => (n.renewing = undefined));
  }

  private async renew(n: HeldNode): Promise<void> {
    const sent = performance.now();
    try {
      const revision = await this.nodes.update(this.ownKey, this.nodeValue(n.epoch), n.revision);
      this.renewed++;
      if (this.node !== n) return;
      n.revision = revision;
      n.validUntil = sent + this.ttlMs - this.marginMs;
    } catch (err) {
      if (this.node !== n) return;
      if (isWrongRevision(err)) this.lose(n, 'renewal refused: the node lease expired or was revoked');
      // NATS slow or away: the local deadline decides (renewNode).
      else this.log.warn({ err: String(err) }, 'node lease renewal failed; retrying');
    }
  }

  private lose(n: HeldNode, why: string): void {
    if (this.node !== n) return;
    this.node = undefined;
    const keys = this.dropAll();
    this.log.warn(
      { node: this.nodeId, listeners: keys.length, why },
      'node lease lost, and every listener with it',
    );
    this.onNodeLost(keys);
  }
}
