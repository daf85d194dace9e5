/**
 * Leases in a JetStream KV bucket: one key per listener (and per node), held by one node.
 *
 * - acquire: `create` (fails if the key exists); the revision it returns is the lease's
 *   fencing token, which grows with every new holder (it is the stream sequence).
 * - renew: `update` with the last revision seen (compare-and-set) every `ttlMs / 4`; a renewal
 *   refused (another revision: the key expired and someone else created it) means lost.
 * - expiry: the bucket's TTL (the stream's max age, bucket-wide on nats-server 2.9): a key
 *   not rewritten within `ttlMs` disappears, so a paused or partitioned holder loses it.
 * - locally, a lease counts as held only until `renewal sent + ttlMs - margin`: the server
 *   expires it no earlier than that (its write came after our send), so a node paused past
 *   its lease knows it lost it before it could act (SIGSTOP, a long GC) without asking.
 * - take over: a key whose holder is gone (its node's NATS subscription vanished) is deleted
 *   with compare-and-set on the revision read, then created again: never two holders.
 */
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';

export interface LeaseHolder {
  node: string;
  /** Epoch ms of acquisition (for people reading the bucket). */
  at: number;
}

export type AcquireResult = { ok: true; fence: number } | { ok: false; holder: string; revision: number };

interface HeldLease {
  key: string;
  fence: number;
  revision: number;
  /** performance.now() until which this node may act as the holder. */
  validUntil: number;
  /** A renewal in flight. */
  renewing?: Promise<void>;
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
  private readonly held = new Map<string, HeldLease>();
  private timer: NodeJS.Timeout | undefined;
  private readonly marginMs: number;
  /** Renewals the server took since start (the cluster bench reads the rate). */
  renewed = 0;

  constructor(
    private readonly kv: KV,
    private readonly nodeId: string,
    readonly ttlMs: number,
    private readonly log: Logger,
    /** A lease renewal was refused or ran out: this node no longer holds `key`. */
    private readonly onLost: (key: string) => void,
  ) {
    // Clock rates differ a little, and the renewal's own round trip counts against us.
    this.marginMs = Math.max(100, Math.floor(ttlMs / 10));
  }

  /** Starts renewing every held lease every ttl/4. */
  start(): void {
    const every = Math.max(50, Math.floor(this.ttlMs / 4));
    this.timer = setInterval(() => this.renewAll(), every);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Held and not past its local deadline. */
  holds(key: string): boolean {
    const l = this.held.get(key);
    return l !== undefined && performance.now() < l.validUntil;
  }

  fenceOf(key: string): number | undefined {
    return this.holds(key) ? this.held.get(key)!.fence : undefined;
  }

  heldKeys(): string[] {
    return [...this.held.keys()];
  }

  async acquire(key: string): Promise<AcquireResult> {
    const sent = performance.now();
    const value = encoder.encode(JSON.stringify({ node: this.nodeId, at: Date.now() } satisfies LeaseHolder));
    try {
      const revision = await this.kv.create(key, value);
      this.held.set(key, { key, fence: revision, revision, validUntil: sent + this.ttlMs - this.marginMs });
      return { ok: true, fence: revision };
    } catch (err) {
      if (!isWrongRevision(err)) throw err;
    }
    const entry = await this.kv.get(key);
    // Expired or released between the two calls: the caller tries again.
    if (!entry || entry.operation !== 'PUT') return { ok: false, holder: '', revision: entry?.revision ?? 0 };
    const holder = (entry.json() as Partial<LeaseHolder>).node ?? '';
    return { ok: false, holder, revision: entry.revision };
  }

  /**
   * Deletes the key if it is still at `revision` (its holder is gone); false when it moved on
   * (renewed, released, taken by another node).
   */
  async takeOver(key: string, revision: number): Promise<boolean> {
    try {
      await this.kv.delete(key, { previousSeq: revision });
      return true;
    } catch (err) {
      if (isWrongRevision(err)) return false;
      throw err;
    }
  }

  /** The node holding `key` now, as the bucket says (undefined: nobody). */
  async holderOf(key: string): Promise<string | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== 'PUT') return undefined;
    return (e.json() as Partial<LeaseHolder>).node;
  }

  /** The key's revision now (0: none), to watch a silent holder's lease run out. */
  async revisionOf(key: string): Promise<number> {
    const e = await this.kv.get(key);
    return e && e.operation === 'PUT' ? e.revision : 0;
  }

  /** Lets go of a lease (deleted if still ours); forgotten locally at once. */
  async release(key: string): Promise<void> {
    const l = this.held.get(key);
    if (!l) return;
    this.held.delete(key);
    await l.renewing;
    try {
      await this.kv.delete(key, { previousSeq: l.revision });
    } catch (err) {
      // Moved on already (expired and taken): nothing of ours to delete.
      if (!isWrongRevision(err)) this.log.warn({ err: String(err), key }, 'lease release failed; it expires');
    }
  }

  /** Forgets every lease without deleting them (they expire): a node that must stop at once. */
  dropAll(): string[] {
    const keys = [...this.held.keys()];
    this.held.clear();
    return keys;
  }

  private renewAll(): void {
    const now = performance.now();
    for (const l of this.held.values()) {
      if (now >= l.validUntil) {
        this.lose(l, 'ran out before a renewal came back');
        continue;
      }
      if (!l.renewing) l.renewing = this.renew(l).finally(() => (l.renewing = undefined));
    }
  }

  private async renew(l: HeldLease): Promise<void> {
    const sent = performance.now();
    const value = encoder.encode(JSON.stringify({ node: this.nodeId, at: Date.now() } satisfies LeaseHolder));
    try {
      const revision = await this.kv.update(l.key, value, l.revision);
      this.renewed++;
      if (this.held.get(l.key) !== l) return;
      l.revision = revision;
      l.validUntil = sent + this.ttlMs - this.marginMs;
    } catch (err) {
      if (this.held.get(l.key) !== l) return;
      if (isWrongRevision(err)) this.lose(l, 'renewal refused: the lease expired or moved');
      // NATS slow or away: the local deadline decides (renewAll).
      else this.log.warn({ err: String(err), key: l.key }, 'lease renewal failed; retrying');
    }
  }

  private lose(l: HeldLease, why: string): void {
    if (this.held.get(l.key) !== l) return;
    this.held.delete(l.key);
    this.log.warn({ key: l.key, why }, 'lease lost');
    this.onLost(l.key);
  }
}
