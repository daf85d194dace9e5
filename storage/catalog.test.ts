import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbCatalog } from './catalog.lmdb.ts';
import { catalogContract } from './catalog.contract.ts';

catalogContract('lmdb', embeddedPort('catalog', createLmdbCatalog));
