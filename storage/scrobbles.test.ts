import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbScrobbles } from './scrobbles.lmdb.ts';
import { scrobblesContract } from './scrobbles.contract.ts';

scrobblesContract('lmdb', embeddedPort('scrobbles', createLmdbScrobbles));
