import { embeddedPort } from '../testkit/store-engines.ts';
import { createLmdbUsers } from './users.lmdb.ts';
import { usersContract } from './users.contract.ts';

usersContract('lmdb', embeddedPort('users', createLmdbUsers));
