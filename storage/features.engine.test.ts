import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaFeatures } from './features.scylla.ts';
import { featuresContract } from './features.contract.ts';

// The CQL feature store, which no other suite runs.
featuresContract('cql', cqlPort('features', createScyllaFeatures));
