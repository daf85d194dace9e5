import type { Client } from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestKeyspace, type TestKeyspace } from '../testkit/engines.ts';
import { createPlaylistStore } from './playlist-commit.ts';
import { applyMigrations } from './cql-client.ts';
import { createScyllaPlaylistRows, createScyllaPlaylists } from './playlists.scylla.ts';

/** A client whose next entries batch fails, as if the writer died right after claiming its version. */
function dyingAfterClaim(client: Client): Client {
  let armed = true;
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'batch' && armed)
        return () => {
          armed = false;
          return Promise.reject(new Error('writer crashed after the claim'));
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('scylla playlists - redo log', () => {
  let cql: TestKeyspace;
  beforeAll(async () => {
    cql = await createTestKeyspace('rollforward');
    await applyMigrations(cql.client, cql.name);
  });
  afterAll(() => cql?.drop());

  it('redo - an op claimed by a writer that died before applying it is rolled forward once by the next reader-writer', async () => {
    const healthy = createScyllaPlaylists(cql.client, cql.name);
    const p = await healthy.createPlaylist({ ownerId: 'o', name: 'crash' });
    await healthy.editPlaylist(p.id, 'o', { kind: 'insert', trackIds: ['a', 'b'] });
    const dying = createPlaylistStore(createScyllaPlaylistRows(dyingAfterClaim(cql.client), cql.name));
    await expect(
      dying.editPlaylist(p.id, 'o', { kind: 'insert', index: 1, trackIds: ['x'] }),
    ).rejects.toThrow(/crashed/);
    // Readers see the last advanced header; the next edit rolls the claimed op forward first.
    expect((await healthy.getPlaylist(p.id, 'o')).version).toBe(1);
    const next = await healthy.editPlaylist(p.id, 'o', { kind: 'insert', trackIds: ['c'] }, 1);
    expect(next).toMatchObject({ status: 'applied', version: 3, rebasedOver: 1 });
    expect(await healthy.listPlaylistTrackIds(p.id, 'o')).toEqual(['a', 'x', 'b', 'c']);
    expect((await healthy.readOpLog(p.id, 'o')).map((r) => r.version)).toEqual([1, 2, 3]);
  });
});
