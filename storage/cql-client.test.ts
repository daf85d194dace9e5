import { describe, expect, it } from 'vitest';
import { isStorageError } from './errors.ts';
import { mapDriverError, migrationFiles, replicationCql, splitCqlStatements } from './cql-client.ts';

describe('cql client', () => {
  it('migrations - statements split on ; outside literals and comments', () => {
    const script = `-- a; comment\nCREATE TABLE a (x text); /* b; */ INSERT INTO a (x) VALUES ('it''s; fine');\n// c;\nSELECT "we;ird" FROM a`;
    expect(splitCqlStatements(script)).toEqual([
      'CREATE TABLE a (x text)',
      "INSERT INTO a (x) VALUES ('it''s; fine')",
      'SELECT "we;ird" FROM a',
    ]);
  });

  it('migrations - schema.cql runs before schema-*.cql files', () => {
    const names = migrationFiles().map((f) => f.split('/').pop());
    expect(names[0]).toBe('schema.cql');
    expect(names.every((n) => n!.endsWith('.cql'))).toBe(true);
  });

  it('migrations - replication maps for one node and for clusters', () => {
    expect(replicationCql({ class: 'SimpleStrategy', replicationFactor: 1 })).toBe(
      "{'class': 'SimpleStrategy', 'replication_factor': 1}",
    );
    expect(replicationCql({ class: 'NetworkTopologyStrategy', dataCenters: { dc1: 3, dc2: 2 } })).toBe(
      "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}",
    );
  });

  it('errors - driver failures become storage kinds', () => {
    const named = (name: string, extra: object = {}) => Object.assign(new Error(name), { name, ...extra });
    expect(mapDriverError('q', named('NoHostAvailableError')).code).toBe('unavailable');
    expect(mapDriverError('q', named('OperationTimedOutError')).code).toBe('unavailable');
    expect(mapDriverError('q', named('ResponseError', { code: 0x1200 })).code).toBe('unavailable');
    expect(mapDriverError('q', named('ResponseError', { code: 0x2200 })).code).toBe('bad_request');
    expect(isStorageError(mapDriverError('q', named('Weird')), 'unavailable')).toBe(true);
  });
});
