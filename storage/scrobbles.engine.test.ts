import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaScrobbles } from './scrobbles.scylla.ts';
import { scrobblesContract } from './scrobbles.contract.ts';

scrobblesContract('cql', cqlPort('scrobbles', createScyllaScrobbles));
