import { cqlHarness } from '../testkit/store-engines.ts';
import { playlistContract } from './playlists.contract.ts';
import { storesContract } from './stores.contract.ts';

// The CQL adapters on the real Cassandra/ScyllaDB node, through the same suites as embedded.
storesContract(() => cqlHarness('stores'));
playlistContract(() => cqlHarness('playlists'));
