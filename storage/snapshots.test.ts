import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbSnapshots } from './snapshots.lmdb.ts';
import { snapshotsContract } from './snapshots.contract.ts';

snapshotsContract('lmdb', embeddedPort('snapshots', createLmdbSnapshots));
