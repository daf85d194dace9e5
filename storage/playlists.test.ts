import { describe, expect, it } from 'vitest';
import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbPlaylists } from './playlists.lmdb.ts';
import { playlistsContract } from './playlists.contract.ts';

playlistsContract(
  'lmdb',
  embeddedPort('playlists', (env) => createLmdbPlaylists(env)),
);

describe('playlists (lmdb) - headerNow', () => {
  it('playlists - headerNow reads the committed header synchronously, an edit by another store on the same env included', async () => {
    const opened = await embeddedPort('playlists', (env) => createLmdbPlaylists(env))();
    try {
      const store = opened.port;
      const other = opened.peer();
      expect(store.headerNow!('none')).toBeUndefined();
      await store.createPlaylist({ id: 'hn', ownerId: 'u1', name: 'Now' });
      const first = store.headerNow!('hn');
      expect(first).toMatchObject({ id: 'hn', version: 0, length: 0 });
      // Unchanged row: the same header again (not decoded twice), and it cannot be changed.
      expect(store.headerNow!('hn')).toBe(first);
      expect(Object.isFrozen(first)).toBe(true);
      await other.editPlaylist('hn', 'u1', { kind: 'insert', trackIds: ['t1', 't2'] });
      expect(store.headerNow!('hn')).toMatchObject({ version: 1, length: 2 });
      await other.deletePlaylist('hn', 'u1');
      expect(store.headerNow!('hn')).toBeUndefined();
    } finally {
      await opened.close();
    }
  });
});
