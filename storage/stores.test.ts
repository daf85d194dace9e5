import { embeddedHarness } from '../testkit/store-engines.ts';
import { playlistContract } from './playlists.contract.ts';
import { storesContract } from './stores.contract.ts';

// Embedded LMDB adapters through the shared contract suites.
storesContract(embeddedHarness);
playlistContract(embeddedHarness);
