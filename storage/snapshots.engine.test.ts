import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaSnapshots } from './snapshots.scylla.ts';
import { snapshotsContract } from './snapshots.contract.ts';

snapshotsContract('cql', cqlPort('snapshots', createScyllaSnapshots));
