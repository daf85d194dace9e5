import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbHistory } from './history.lmdb.ts';
import { historyContract } from './history.contract.ts';

historyContract('lmdb', embeddedPort('history', createLmdbHistory));
