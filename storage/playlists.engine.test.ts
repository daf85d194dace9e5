import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaPlaylists } from './playlists.scylla.ts';
import { playlistsContract } from './playlists.contract.ts';

playlistsContract(
  'cql',
  cqlPort('playlists', (client, keyspace) => createScyllaPlaylists(client, keyspace)),
);
