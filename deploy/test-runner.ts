/**
 * `npm test [-- vitest args]`: brings up the engines the suites need through the launcher
 * (installing what is missing), runs `vitest run` with NATS_URL, REDIS_URL,
 * SCYLLA_CONTACT_POINTS and K6_BIN set, then stops the engines test runners started
 * (unless INFRA_KEEP=1), and exits with vitest's code.
 *
 * TEST_RUN_TIMEOUT_S (CI sets it) bounds the vitest run: when it runs out, vitest and its
 * workers are stopped, engines still go down, and the exit code is 124.
 *
 * `TEST_ENGINES=embedded npm test` starts nothing and runs only the suites that need no
 * engine (vitest.config.ts leaves out `*.engine.test.ts`).
 *
 * Engines that already answered (started with `npm run infra -- up`, or anyone else's at
 * the configured URLs) are used and left running. Several `npm test` at once share the
 * engines: each holds a lease, and only the last one out stops them.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { engineUrls } from './engine-urls.ts';
import { k6Binary } from './engines/k6.ts';
import { venvPython } from './engines/python.ts';
import { cacheDir, stateRoot, takeLease } from './infra-state.ts';
import { down, up, type EngineName, type UpOutcome } from './launcher.ts';

const ENGINES_FOR_TESTS: readonly EngineName[] = ['nats', 'redis', 'cql', 'k6', 'python'];

const say = (message: string) => console.error(`[test-runner] ${message}`);

function describe(outcome: UpOutcome): string {
  switch (outcome.status) {
    case 'started':
      return `${outcome.engine} started at ${outcome.endpoint} (pid ${outcome.pid}, up in ${(outcome.startMs / 1000).toFixed(1)} s)`;
    case 'running':
      return `${outcome.engine} already running at ${outcome.endpoint} (pid ${outcome.pid})`;
    case 'external':
      return `${outcome.engine} answering at ${outcome.endpoint} (not started by the launcher)`;
    case 'installed':
      return `${outcome.engine} at ${outcome.path}`;
    case 'failed':
      return `${outcome.engine} FAILED: ${outcome.error}`;
  }
}

/** vitest's own entry point, so the runner signals vitest itself and not an npx wrapper. */
function vitestEntry(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('vitest/package.json')), 'vitest.mjs');
}

/**
 * Runs `vitest run` in its own process group (vitest, its workers and whatever they spawn),
 * so an interrupt, or TEST_RUN_TIMEOUT_S running out, ends all of it: SIGTERM to the group,
 * then SIGKILL after a grace period. A hung suite can then never keep CI waiting.
 */
function runVitest(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [vitestEntry(), 'run', ...args], {
      stdio: 'inherit',
      env,
      detached: true,
    });
    let escalation: NodeJS.Timeout | undefined;
    let timedOut = false;
    const signalGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, signal);
      } catch {
        // the group is gone already
      }
    };
    const end = (signal: NodeJS.Signals, why: string) => {
      say(`${why}: stopping vitest (${signal})`);
      signalGroup(signal);
      escalation ??= setTimeout(() => {
        say('vitest still running after 20 s: SIGKILL to its process group');
        signalGroup('SIGKILL');
      }, 20_000);
    };
    // Detached, vitest no longer gets the terminal's Ctrl-C: pass it on.
    const onInt = () => end('SIGINT', 'interrupted');
    const onTerm = () => end('SIGTERM', 'terminated');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const limitS = Number(env.TEST_RUN_TIMEOUT_S ?? 0);
    const deadline =
      limitS > 0
        ? setTimeout(() => {
            timedOut = true;
            end('SIGTERM', `TEST_RUN_TIMEOUT_S=${limitS} reached (a suite hangs?)`);
          }, limitS * 1000)
        : undefined;
    child.once('exit', (code, signal) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      clearTimeout(deadline);
      if (escalation !== undefined) {
        clearTimeout(escalation);
        // We ended vitest: workers it left behind (a suite that never ends) go with the group.
        signalGroup('SIGKILL');
      }
      resolve(timedOut ? 124 : (code ?? (signal === 'SIGINT' ? 130 : 143)));
    });
    child.once('error', (err) => {
      say(`could not run vitest: ${err.message}`);
      resolve(1);
    });
  });
}

async function main(args: string[]): Promise<number> {
  if (process.env.TEST_ENGINES === 'embedded') {
    say('TEST_ENGINES=embedded: no engines, *.engine.test.ts left out');
    return runVitest(args, process.env);
  }

  const release = takeLease();
  let launcherFailed = false;
  try {
    const started = Date.now();
    say(`bringing up ${ENGINES_FOR_TESTS.join(', ')} (state in ${stateRoot()})`);
    const outcomes = await up(ENGINES_FOR_TESTS, { startedBy: 'test-runner', log: say });
    for (const outcome of outcomes) say(describe(outcome));
    say(`engines ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    // Suites of a failed engine still run, and fail naming it: louder than stopping here.
    launcherFailed = outcomes.some((o) => o.status === 'failed');

    const urls = engineUrls();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NATS_URL: urls.natsUrl,
      REDIS_URL: urls.redisUrl,
      SCYLLA_CONTACT_POINTS: urls.scyllaContactPoints,
      K6_BIN: process.env.K6_BIN || k6Binary(cacheDir()),
      ALS_PYTHON: process.env.ALS_PYTHON || venvPython(cacheDir()),
    };
    const code = await runVitest(args, env);
    if (launcherFailed) say('some engines did not start (see above): their suites fail');
    return code !== 0 ? code : launcherFailed ? 1 : 0;
  } finally {
    const { othersActive } = release();
    if (process.env.INFRA_KEEP === '1') {
      say('INFRA_KEEP=1: engines left running (`npm run infra -- down` stops them)');
    } else if (othersActive) {
      say('another npm test is still running: engines left to it');
    } else {
      for (const outcome of await down(ENGINES_FOR_TESTS, { only: 'test-runner' })) {
        if (outcome.status === 'stopped' || outcome.status === 'killed')
          say(`${outcome.engine} ${outcome.status} (${outcome.detail})`);
      }
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
