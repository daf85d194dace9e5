/**
 * The real app (embedded stores, event log, pipeline, origin, demo fixture) on a free port
 * for the tests of one file: started before them, closed and its data removed after.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startApp, type App, type AppOptions } from '../app/start-app.ts';
import { parseConfig } from '../app/config.ts';

export interface TestApp {
  app: App;
  /** The app's DATA_DIR, a fresh temporary folder. */
  dir: string;
  /** Closes the app and removes its folder. */
  stop(): Promise<void>;
}

/**
 * Starts the app on a fresh DATA_DIR and a free port, silent, with the demo fixture; `env`
 * adds or overrides configuration (as the environment would), `opts` adds start options.
 */
export async function startTestApp(
  dirPrefix: string,
  env: Record<string, string> = {},
  opts: AppOptions = {},
): Promise<TestApp> {
  const dir = mkdtempSync(join(tmpdir(), dirPrefix));
  let app: App;
  try {
    app = await startApp(parseConfig({ PORT: '0', DATA_DIR: dir, LOG_LEVEL: 'silent', ...env }), {
      demo: 'fixture',
      ...opts,
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    app,
    dir,
    stop: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Registers the hooks; the app's server and demo are readable once the tests run. */
export function useTestApp(dirPrefix: string): Pick<App, 'server' | 'demo'> {
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await startTestApp(dirPrefix, { SESSION_GRACE_MS: '60000' });
  });
  afterAll(async () => {
    await started?.stop();
  });
  const app = () => {
    if (!started) throw new Error('the test app is not started (use it inside tests)');
    return started.app;
  };
  return {
    get server() {
      return app().server;
    },
    get demo() {
      return app().demo;
    },
  };
}
