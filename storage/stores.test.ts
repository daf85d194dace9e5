import { embeddedHarness } from './contract/engines.ts';
import { playlistContract } from './contract/playlists.contract.ts';
import { storesContract } from './contract/stores.contract.ts';

// Embedded LMDB adapters through the shared contract suites.
storesContract(embeddedHarness);
playlistContract(embeddedHarness);
