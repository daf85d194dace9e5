import { cqlPort } from '../testkit/store-engines.ts';
import { createScyllaUsers } from './users.scylla.ts';
import { usersContract } from './users.contract.ts';

usersContract('cql', cqlPort('users', createScyllaUsers));
