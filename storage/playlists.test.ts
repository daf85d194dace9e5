import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbPlaylists } from './playlists.lmdb.ts';
import { playlistsContract } from './playlists.contract.ts';

playlistsContract(
  'lmdb',
  embeddedPort('playlists', (env) => createLmdbPlaylists(env)),
);
