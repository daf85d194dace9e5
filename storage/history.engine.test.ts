import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaHistory } from './history.scylla.ts';
import { historyContract } from './history.contract.ts';

historyContract('cql', cqlPort('history', createScyllaHistory));
