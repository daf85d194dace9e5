import { cqlHarness } from './contract/engines.ts';
import { playlistContract } from './contract/playlists.contract.ts';
import { storesContract } from './contract/stores.contract.ts';

// The CQL adapters on the real Cassandra/ScyllaDB node, through the same suites as embedded.
storesContract(() => cqlHarness('stores'));
playlistContract(() => cqlHarness('playlists'));
