import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbRoyalties } from './royalties.lmdb.ts';
import { royaltiesContract } from './royalties.contract.ts';

royaltiesContract('lmdb', embeddedPort('royalties', createLmdbRoyalties));
