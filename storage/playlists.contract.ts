/**
 * Playlist port contract (storage/playlists.ts): every operation, authorization, limits,
 * paging, rebase, restart durability and a 10-editor concurrency run. Run against every
 * adapter: playlists.test.ts (LMDB) and playlists.engine.test.ts (CQL node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStorageError, type StorageErrorCode } from './errors.ts';
import { replayEffects } from './playlist-rebase.ts';
import {
  MAX_PLAYLIST_ENTRIES,
  MAX_PLAYLIST_NAME_LENGTH,
  type PlaylistEdit,
  type PlaylistStore,
} from './playlists.ts';
import type { OpenedPort, PortFactory } from '../testkit/store-engines.ts';

async function rejects(p: Promise<unknown>, code: StorageErrorCode, message?: RegExp) {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(isStorageError(e, code), `expected StorageError ${code}, got ${String(e)}`).toBe(true);
  if (message) expect((e as Error).message).toMatch(message);
}

/** Deterministic PRNG so a failing concurrency run can be reproduced. */
function prng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function playlistsContract(
  adapter: string,
  open: PortFactory<PlaylistStore>,
  opts: { concurrentOps?: number } = {},
) {
  describe(`playlists contract (${adapter})`, () => {
    let opened: OpenedPort<PlaylistStore>;
    let pl: PlaylistStore;
    beforeAll(async () => {
      opened = await open();
      pl = opened.port;
    });
    afterAll(() => opened?.close());

    const ids = async (id: string, who = 'owner') => pl.listPlaylistTrackIds(id, who);

    it('playlists - create, rename, delete', async () => {
      const p = await pl.createPlaylist({ ownerId: 'owner', name: 'Road trip', description: 'loud' });
      expect(p).toMatchObject({
        ownerId: 'owner',
        name: 'Road trip',
        version: 0,
        length: 0,
        public: true,
        collaborative: false,
      });
      expect(await pl.getPlaylist(p.id, 'owner')).toEqual(p);
      expect(await pl.listOwnedPlaylistIds('owner')).toContain(p.id);
      const r = await pl.editPlaylist(p.id, 'owner', { kind: 'details', name: 'Night drive' });
      expect(r).toMatchObject({ status: 'applied', version: 1 });
      expect((await pl.getPlaylist(p.id, 'owner')).name).toBe('Night drive');
      await rejects(pl.createPlaylist({ id: p.id, ownerId: 'owner', name: 'dup' }), 'conflict');
      await pl.deletePlaylist(p.id, 'owner');
      await rejects(pl.getPlaylist(p.id, 'owner'), 'not_found');
      expect(await pl.listOwnedPlaylistIds('owner')).not.toContain(p.id);
      await rejects(pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['t'] }), 'not_found');
    });

    it('playlists - an unknown playlist is not_found for every read, edit and delete', async () => {
      await rejects(pl.getPlaylist('no-such-playlist', 'owner'), 'not_found');
      await rejects(pl.listPlaylistTrackIds('no-such-playlist', 'owner'), 'not_found');
      await rejects(pl.listEntries('no-such-playlist', 'owner'), 'not_found');
      await rejects(pl.readOpLog('no-such-playlist', 'owner'), 'not_found');
      await rejects(
        pl.editPlaylist('no-such-playlist', 'owner', { kind: 'insert', trackIds: ['t'] }),
        'not_found',
      );
      await rejects(pl.deletePlaylist('no-such-playlist', 'owner'), 'not_found');
      expect(await pl.listOwnedPlaylistIds('nobody')).toEqual([]);
    });

    it('playlists - insert at positions, duplicates are distinct entries, remove by entry id', async () => {
      const p = await pl.createPlaylist({ ownerId: 'owner', name: 'p' });
      await pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['a', 'b', 'c'] });
      await pl.editPlaylist(p.id, 'owner', { kind: 'insert', index: 0, trackIds: ['x'] });
      const mid = await pl.editPlaylist(p.id, 'owner', { kind: 'insert', index: 2, trackIds: ['a'] });
      expect(await ids(p.id)).toEqual(['x', 'a', 'a', 'b', 'c']);
      const removed = await pl.editPlaylist(p.id, 'owner', {
        kind: 'remove',
        entryIds: [mid.inserted[0]!.entryId],
      });
      expect(removed).toMatchObject({
        status: 'applied',
        version: 4,
        affectedEntryIds: [mid.inserted[0]!.entryId],
      });
      expect(await ids(p.id)).toEqual(['x', 'a', 'b', 'c']);
      const again = await pl.editPlaylist(p.id, 'owner', {
        kind: 'remove',
        entryIds: [mid.inserted[0]!.entryId],
      });
      expect(again).toMatchObject({
        status: 'noop',
        version: 4,
        skipped: [{ target: `entry:${mid.inserted[0]!.entryId}`, reason: 'already_removed' }],
      });
      await pl.editPlaylist(p.id, 'owner', { kind: 'removeTracks', trackIds: ['a', 'zzz'] });
      expect(await ids(p.id)).toEqual(['x', 'b', 'c']);
      const at = await pl.editPlaylist(p.id, 'owner', {
        kind: 'removeAt',
        positions: [0, 2],
        trackIds: ['x', 'b'],
      });
      expect(at.skipped).toEqual([{ target: 'position:2', reason: 'track_mismatch' }]);
      expect(await ids(p.id)).toEqual(['b', 'c']);
      expect((await pl.getPlaylist(p.id, 'owner')).length).toBe(2);
    });

    it('playlists - move a range (Spotify reorder semantics)', async () => {
      const p = await pl.createPlaylist({ ownerId: 'owner', name: 'm' });
      await pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['0', '1', '2', '3', '4', '5'] });
      await pl.editPlaylist(p.id, 'owner', { kind: 'move', rangeStart: 1, rangeLength: 2, insertBefore: 5 });
      expect(await ids(p.id)).toEqual(['0', '3', '4', '1', '2', '5']);
      await pl.editPlaylist(p.id, 'owner', { kind: 'move', rangeStart: 4, rangeLength: 2, insertBefore: 0 });
      expect(await ids(p.id)).toEqual(['2', '5', '0', '3', '4', '1']);
      const same = await pl.editPlaylist(p.id, 'owner', {
        kind: 'move',
        rangeStart: 1,
        rangeLength: 2,
        insertBefore: 3,
      });
      expect(same.status).toBe('noop');
      expect((await pl.getPlaylist(p.id, 'owner')).version).toBe(3);
    });

    it('playlists - rebase: edits on an old version are transformed over newer ops', async () => {
      const p = await pl.createPlaylist({ ownerId: 'owner', name: 'r' });
      const v1 = await pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['a', 'b', 'c', 'd'] });
      // Someone removes b (index 1) at v1 -> v2.
      await pl.editPlaylist(p.id, 'owner', { kind: 'removeAt', positions: [1] }, 1);
      // An insert made on v1 before c (index 2) shifts left past the removal.
      const ins = await pl.editPlaylist(p.id, 'owner', { kind: 'insert', index: 2, trackIds: ['x'] }, 1);
      expect(ins).toMatchObject({ status: 'applied', rebasedOver: 1, version: 3 });
      expect(await ids(p.id)).toEqual(['a', 'x', 'c', 'd']);
      // A remove of b made on v1 finds its target gone: a clear noop.
      const gone = await pl.editPlaylist(p.id, 'owner', { kind: 'removeAt', positions: [1] }, 1);
      expect(gone).toMatchObject({
        status: 'noop',
        version: 3,
        skipped: [{ target: 'position:1', reason: 'already_removed' }],
      });
      // A move made on v1 of d (3) to the front lands d at the front.
      await pl.editPlaylist(
        p.id,
        'owner',
        { kind: 'move', rangeStart: 3, rangeLength: 1, insertBefore: 0 },
        1,
      );
      expect(await ids(p.id)).toEqual(['d', 'a', 'x', 'c']);
      expect(v1.inserted.map((e) => e.trackId)).toEqual(['a', 'b', 'c', 'd']);
      await rejects(
        pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['y'] }, 99),
        'bad_request',
        /ahead/,
      );
    });

    it('playlists - authorization: owner, collaborators, strangers, private', async () => {
      const pub = await pl.createPlaylist({ ownerId: 'owner', name: 'public' });
      await rejects(pl.editPlaylist(pub.id, 'stranger', { kind: 'insert', trackIds: ['t'] }), 'forbidden');
      expect((await pl.getPlaylist(pub.id, 'stranger')).id).toBe(pub.id);
      const priv = await pl.createPlaylist({ ownerId: 'owner', name: 'private', public: false });
      await rejects(pl.getPlaylist(priv.id, 'stranger'), 'forbidden');
      await rejects(pl.listPlaylistTrackIds(priv.id, 'stranger'), 'forbidden');
      await rejects(pl.listEntries(priv.id, 'stranger'), 'forbidden');
      const collab = await pl.createPlaylist({
        ownerId: 'owner',
        name: 'c',
        public: false,
        collaborative: true,
        collaborators: ['friend'],
      });
      expect((await pl.getPlaylist(collab.id, 'friend')).collaborators).toEqual(['friend']);
      expect((await pl.editPlaylist(collab.id, 'friend', { kind: 'insert', trackIds: ['f'] })).status).toBe(
        'applied',
      );
      await rejects(pl.editPlaylist(collab.id, 'friend', { kind: 'details', name: 'mine' }), 'forbidden');
      await rejects(
        pl.editPlaylist(collab.id, 'friend', { kind: 'collaborators', collaborators: ['friend', 'pal'] }),
        'forbidden',
      );
      await rejects(pl.deletePlaylist(collab.id, 'friend'), 'forbidden');
      await rejects(pl.editPlaylist(collab.id, 'stranger', { kind: 'insert', trackIds: ['s'] }), 'forbidden');
      // Turning collaboration off takes editing away from collaborators.
      await pl.editPlaylist(collab.id, 'owner', { kind: 'details', collaborative: false });
      await rejects(pl.editPlaylist(collab.id, 'friend', { kind: 'insert', trackIds: ['f'] }), 'forbidden');
      await pl.editPlaylist(collab.id, 'owner', { kind: 'details', collaborative: true });
      await pl.editPlaylist(collab.id, 'owner', { kind: 'collaborators', collaborators: ['pal'] });
      await rejects(pl.editPlaylist(collab.id, 'friend', { kind: 'insert', trackIds: ['f'] }), 'forbidden');
      expect((await pl.editPlaylist(collab.id, 'pal', { kind: 'insert', trackIds: ['p'] })).status).toBe(
        'applied',
      );
    });

    it('playlists - limits and bad input give clear errors', async () => {
      await rejects(pl.createPlaylist({ ownerId: 'owner', name: '' }), 'bad_request', /name/);
      await rejects(
        pl.createPlaylist({ ownerId: 'owner', name: 'n'.repeat(MAX_PLAYLIST_NAME_LENGTH + 1) }),
        'bad_request',
        /longer than/,
      );
      const p = await pl.createPlaylist({ ownerId: 'owner', name: 'big' });
      await rejects(
        pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: Array(101).fill('t') }),
        'bad_request',
        /at most 100/,
      );
      await rejects(
        pl.editPlaylist(p.id, 'owner', { kind: 'insert', index: 5, trackIds: ['t'] }),
        'bad_request',
        /out of range/,
      );
      await rejects(
        pl.editPlaylist(p.id, 'owner', { kind: 'nope' } as unknown as PlaylistEdit),
        'bad_request',
        /unknown/,
      );
      await rejects(
        pl.editPlaylist(p.id, 'owner', { kind: 'move', rangeStart: 0, rangeLength: 0, insertBefore: 1 }),
        'bad_request',
      );
      await rejects(pl.listEntries(p.id, 'owner', { limit: 0 }), 'bad_request');
      await rejects(pl.listEntries(p.id, 'owner', { offset: -1 }), 'bad_request');
      await rejects(pl.listEntries(p.id, 'owner', { limit: 1.5 }), 'bad_request');
      // Fill to the cap in 100-track edits, then one more is refused.
      const batch = Array.from({ length: 100 }, (_, i) => `t${i}`);
      for (let i = 0; i < MAX_PLAYLIST_ENTRIES / 100; i++)
        await pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: batch });
      expect((await pl.getPlaylist(p.id, 'owner')).length).toBe(MAX_PLAYLIST_ENTRIES);
      await rejects(
        pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['one-more'] }),
        'bad_request',
        /exceed 10000/,
      );
      // Paging through the full list.
      const page = await pl.listEntries(p.id, 'owner', { offset: 9_950, limit: 100 });
      expect(page.entries).toHaveLength(50);
      expect(page.total).toBe(MAX_PLAYLIST_ENTRIES);
      expect(page.entries[0]!.trackId).toBe('t50');
      expect((await pl.listPlaylistTrackIds(p.id, 'owner')).length).toBe(MAX_PLAYLIST_ENTRIES);
    }, 120_000);

    it('playlists - paging returns consecutive slices', async () => {
      const p = await pl.createPlaylist({ ownerId: 'owner', name: 'pages' });
      const all = Array.from({ length: 25 }, (_, i) => `p${i}`);
      await pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: all });
      const seen: string[] = [];
      for (let offset = 0; offset < 30; offset += 10) {
        const page = await pl.listEntries(p.id, 'owner', { offset, limit: 10 });
        expect(page.total).toBe(25);
        seen.push(...page.entries.map((e) => e.trackId));
      }
      expect(seen).toEqual(all);
    });

    it('playlists - survive a restart (reopen)', async () => {
      const p = await pl.createPlaylist({
        ownerId: 'owner',
        name: 'durable',
        collaborative: true,
        collaborators: ['c1'],
      });
      await pl.editPlaylist(p.id, 'owner', { kind: 'insert', trackIds: ['a', 'b'] });
      await pl.editPlaylist(p.id, 'c1', { kind: 'insert', index: 1, trackIds: ['c'] });
      pl = await opened.reopen();
      expect(await ids(p.id)).toEqual(['a', 'c', 'b']);
      expect(await pl.getPlaylist(p.id, 'owner')).toMatchObject({
        version: 2,
        length: 3,
        collaborators: ['c1'],
      });
      expect((await pl.readOpLog(p.id, 'owner')).map((r) => r.version)).toEqual([1, 2]);
    });

    it('playlists - 10 concurrent editors on two nodes: no acknowledged edit lost, version == committed ops, list == replayed log', async () => {
      const editors = Array.from({ length: 10 }, (_, i) => `ed${i}`);
      const p = await pl.createPlaylist({
        ownerId: 'ed0',
        name: 'jam',
        public: false,
        collaborative: true,
        collaborators: editors.slice(1),
      });
      const perEditor = opts.concurrentOps ?? 100;
      const acked: { version: number; inserted: string[] }[] = [];
      let noops = 0;
      let raced = 0;
      // Half the editors reach the playlist through a second adapter (another node): the
      // commits of the two contend in the store, those of one node queue in that node.
      const peer = opened.peer();
      await Promise.all(
        editors.map(async (who, n) => {
          const rnd = prng(1000 + n);
          const node = n % 2 === 0 ? pl : peer;
          for (let k = 0; k < perEditor; k++) {
            const cur = await node.getPlaylist(p.id, who);
            const len = cur.length;
            const r = rnd();
            let edit: PlaylistEdit;
            if (len < 3 || r < 0.5)
              edit = { kind: 'insert', index: Math.floor(rnd() * (len + 1)), trackIds: [`${who}-${k}`] };
            else if (r < 0.75) edit = { kind: 'removeAt', positions: [Math.floor(rnd() * len)] };
            else {
              const start = Math.floor(rnd() * (len - 1));
              edit = {
                kind: 'move',
                rangeStart: start,
                rangeLength: 1 + Math.floor(rnd() * Math.min(3, len - start)),
                insertBefore: Math.floor(rnd() * (len + 1)),
              };
            }
            // Every edit is made on the version the editor read: others commit in between.
            const res = await node.editPlaylist(p.id, who, edit, cur.version);
            if (res.attempts > 1) raced++;
            if (res.status === 'applied')
              acked.push({ version: res.version, inserted: res.inserted.map((e) => e.entryId) });
            else noops++;
          }
        }),
      );
      const final = await pl.getPlaylist(p.id, 'ed0');
      const log = await pl.readOpLog(p.id, 'ed0');
      expect(final.version).toBe(acked.length);
      expect(acked.length + noops).toBe(editors.length * perEditor);
      // The two nodes did race (the conditional commit decided), and nobody was refused.
      expect(raced).toBeGreaterThan(0);
      expect(log.map((r) => r.version)).toEqual(Array.from({ length: acked.length }, (_, i) => i + 1));
      expect(new Set(acked.map((a) => a.version)).size).toBe(acked.length);
      const entries = (await pl.listEntries(p.id, 'ed0', { limit: 100 })).total;
      const list = await pl.listPlaylistTrackIds(p.id, 'ed0');
      expect(list.length).toBe(entries);
      const replayed = replayEffects(log.map((r) => r.effect));
      expect(list).toEqual(replayed.map((e) => e.trackId));
      // Every acknowledged insert is in the log, and is either still listed or removed by a later logged op.
      const loggedInserts = new Set(
        log.flatMap((r) => (r.effect.kind === 'insert' ? r.effect.entries.map((e) => e.entryId) : [])),
      );
      for (const a of acked) for (const id of a.inserted) expect(loggedInserts.has(id)).toBe(true);
      const removed = new Set(log.flatMap((r) => (r.effect.kind === 'remove' ? r.effect.entryIds : [])));
      const listedEntryIds = new Set(replayed.map((e) => e.entryId));
      for (const id of loggedInserts) expect(listedEntryIds.has(id) !== removed.has(id)).toBe(true);
    }, 600_000);

    it('playlists - concurrent edits from one process queue and each commits at its first attempt', async () => {
      const p = await pl.createPlaylist({
        ownerId: 'q0',
        name: 'queue',
        collaborative: true,
        collaborators: ['q1'],
      });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, k) =>
          pl.editPlaylist(p.id, k % 2 ? 'q1' : 'q0', { kind: 'insert', index: 0, trackIds: [`t${k}`] }),
        ),
      );
      expect(results.map((r) => r.attempts)).toEqual(results.map(() => 1));
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 40 }, (_, i) => i + 1),
      );
      expect((await pl.getPlaylist(p.id, 'q0')).length).toBe(40);
    }, 120_000);
  });
}
