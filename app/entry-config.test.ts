import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs an entry point with `env` over a clean environment; it must end by itself. */
const runEntry = (entry: string, env: Record<string, string>) =>
  spawnSync(process.execPath, ['--import', 'tsx', entry], {
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });

describe('entry config', () => {
  it.each([
    ['app/server.ts', 'server', { PORT: 'eighty' }, 'PORT'],
    ['app/origin.ts', 'origin', { ORIGIN_PORT: '70000' }, 'ORIGIN_PORT'],
    ['app/pipeline.ts', 'pipeline', { NATS_URL: 'http://x' }, 'NATS_URL'],
    // Valid alone, too short for the URL renewal lead it depends on: refused before any work
    // (it used to fail after the whole demo ingest, naming an internal field).
    [
      'app/server.ts',
      'server',
      { URL_TTL_S: '600', PORT: '0', DEMO_CATALOG: 'fixture', DATA_DIR: join(tmpdir(), 'entry-config-ttl') },
      'URL_TTL_S',
    ],
  ] as const)(
    'entry config - %s with a bad variable exits 2 naming it, starting nothing',
    (entry, name, env, variable) => {
      const r = runEntry(entry, env);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`${name}: bad configuration: ${variable}:`);
    },
  );
});
