import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaCatalog } from './catalog.scylla.ts';
import { catalogContract } from './catalog.contract.ts';

catalogContract('cql', cqlPort('catalog', createScyllaCatalog));
