import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbFeatures } from './features.lmdb.ts';
import { featuresContract } from './features.contract.ts';

featuresContract('lmdb', embeddedPort('features', createLmdbFeatures));
