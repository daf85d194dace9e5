/**
 * The real app (embedded stores, event log, pipeline, origin, demo fixture) on a free port
 * for the tests of one file: started before them, closed and its data removed after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startApp, type App } from '../app/start-app.ts';
import { parseConfig } from '../app/config.ts';

/** Registers the hooks; the app's server and demo are readable once the tests run. */
export function useTestApp(dirPrefix: string): Pick<App, 'server' | 'demo'> {
  let app: App | undefined;
  let dir: string | undefined;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), dirPrefix));
    app = await startApp(
      parseConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', SESSION_GRACE_MS: '60000' }),
      { demo: 'fixture' },
    );
  });
  afterAll(async () => {
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const started = () => {
    if (!app) throw new Error('the test app is not started (use it inside tests)');
    return app;
  };
  return {
    get server() {
      return started().server;
    },
    get demo() {
      return started().demo;
    },
  };
}
