/**
 * Session snapshot port contract (storage/snapshots.ts), run against every adapter:
 * snapshots.test.ts (LMDB) and snapshots.engine.test.ts (CQL node, LWTs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSnapshot, SnapshotStore } from './snapshots.ts';
import { MAX_SNAPSHOT_BYTES } from './snapshot-validate.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

const snap = (userId: string, version: number, state: unknown = { v: version }): SessionSnapshot => ({
  userId,
  version,
  savedAt: 1_700_000_000_000 + version,
  state,
});

export function snapshotsContract(adapter: string, open: PortFactory<SnapshotStore>): void {
  describe(`snapshots contract (${adapter})`, () => {
    let opened: OpenedPort<SnapshotStore>;
    let s: SnapshotStore;
    beforeAll(async () => {
      opened = await open();
      s = opened.port;
    });
    afterAll(() => opened?.close());

    it('snapshots - put then get returns it; unknown user is undefined', async () => {
      const state = { queue: ['a', 'b'], pos: 1200, nested: { shuffle: true, ctx: null }, n: 1.5 };
      await s.putSnapshot(snap('s1', 5, state));
      expect(await s.getSnapshot('s1')).toEqual(snap('s1', 5, state));
      expect(await s.getSnapshot('nobody')).toBeUndefined();
    });

    it('snapshots - a newer version replaces; the same version again overwrites (retry)', async () => {
      await s.putSnapshot(snap('s2', 1));
      await s.putSnapshot(snap('s2', 2));
      expect(await s.getSnapshot('s2')).toEqual(snap('s2', 2));
      await s.putSnapshot({ ...snap('s2', 2), savedAt: 9, state: 'retried' });
      expect(await s.getSnapshot('s2')).toEqual({ ...snap('s2', 2), savedAt: 9, state: 'retried' });
    });

    it('snapshots - an older version is a conflict and leaves the newer one', async () => {
      await s.putSnapshot(snap('s3', 7));
      expect(await storageErrorCode(s.putSnapshot(snap('s3', 6, { stale: true })))).toBe('conflict');
      expect(await storageErrorCode(s.putSnapshot(snap('s3', 0)))).toBe('conflict');
      expect(await s.getSnapshot('s3')).toEqual(snap('s3', 7));
    });

    it('snapshots - concurrent writers: the highest version wins, every loser gets conflict', async () => {
      const versions = [3, 9, 1, 7, 5, 10, 2, 8, 4, 6];
      const outcomes = await Promise.all(
        versions.map((v) =>
          s.putSnapshot(snap('s4', v)).then(
            () => 'ok',
            (e: unknown) => storageErrorCode(Promise.reject(e)),
          ),
        ),
      );
      expect(outcomes.every((o) => o === 'ok' || o === 'conflict')).toBe(true);
      expect(outcomes[versions.indexOf(10)]).toBe('ok');
      expect(await s.getSnapshot('s4')).toEqual(snap('s4', 10));
    });

    it('snapshots - delete removes it (idempotent), and any version may start again', async () => {
      await s.putSnapshot(snap('s5', 4));
      await s.deleteSnapshot('s5');
      expect(await s.getSnapshot('s5')).toBeUndefined();
      await s.deleteSnapshot('s5');
      await s.deleteSnapshot('never-stored');
      await s.putSnapshot(snap('s5', 1));
      expect(await s.getSnapshot('s5')).toEqual(snap('s5', 1));
    });

    it('snapshots - fencing: after a claim, a write with a lower token is a conflict and changes nothing', async () => {
      await s.putSnapshot(snap('f1', 3), 10);
      await s.claimFence('f1', 20);
      expect(await storageErrorCode(s.putSnapshot(snap('f1', 9, 'old owner'), 10))).toBe('conflict');
      expect(await s.getSnapshot('f1')).toEqual(snap('f1', 3));
      await s.putSnapshot(snap('f1', 4), 20);
      expect(await s.getSnapshot('f1')).toEqual(snap('f1', 4));
      expect(await storageErrorCode(s.claimFence('f1', 15))).toBe('conflict');
      await s.claimFence('f1', 20);
    });

    it('snapshots - fencing: a claim before any snapshot stores none; legacy rows take a first token', async () => {
      await s.claimFence('f2', 7);
      expect(await s.getSnapshot('f2')).toBeUndefined();
      expect(await storageErrorCode(s.putSnapshot(snap('f2', 1), 6))).toBe('conflict');
      await s.putSnapshot(snap('f2', 1), 7);
      expect(await s.getSnapshot('f2')).toEqual(snap('f2', 1));
      await s.putSnapshot(snap('f3', 5));
      await s.putSnapshot(snap('f3', 6), 2);
      await s.claimFence('f3', 3);
      expect(await storageErrorCode(s.putSnapshot(snap('f3', 7), 2))).toBe('conflict');
      expect(await storageErrorCode(s.claimFence('f3', -1))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot(snap('f3', 8), 1.5))).toBe('bad_request');
      expect(await s.getSnapshot('f3')).toEqual(snap('f3', 6));
    });

    it('snapshots - fencing: concurrent claims, the highest token wins', async () => {
      const tokens = [4, 9, 2, 7];
      await Promise.allSettled(tokens.map((t) => s.claimFence('f4', t)));
      expect(await storageErrorCode(s.putSnapshot(snap('f4', 1), 8))).toBe('conflict');
      await s.putSnapshot(snap('f4', 1), 9);
    });

    it('snapshots - bad input is bad_request and stores nothing', async () => {
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      expect(await storageErrorCode(s.putSnapshot(snap('', 1)))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot(snap('b1', -1)))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot(snap('b2', 1.5)))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot({ ...snap('b8', 1), savedAt: 1.5 }))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot({ ...snap('b9', 1), savedAt: NaN }))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot(snap('b3', 1, cyclic)))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot({ ...snap('b6', 1), state: () => 1 }))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot({ ...snap('b7', 1), state: 10n }))).toBe('bad_request');
      expect(await storageErrorCode(s.putSnapshot({ ...snap('b4', 1), state: undefined }))).toBe(
        'bad_request',
      );
      expect(await storageErrorCode(s.putSnapshot(snap('b5', 1, 'x'.repeat(MAX_SNAPSHOT_BYTES))))).toBe(
        'bad_request',
      );
      for (const id of ['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b9'])
        expect(await s.getSnapshot(id)).toBeUndefined();
    });

    it('snapshots - a snapshot and its version guard survive a restart', async () => {
      await s.putSnapshot(snap('sd', 3, { x: 1 }));
      s = await opened.reopen();
      expect(await s.getSnapshot('sd')).toEqual(snap('sd', 3, { x: 1 }));
      expect(await storageErrorCode(s.putSnapshot(snap('sd', 2)))).toBe('conflict');
    });
  });
}
