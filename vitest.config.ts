import { defineConfig } from 'vitest/config';

// Suites that need a real engine are named `*.engine.test.ts`; `TEST_ENGINES=embedded`
// runs only the rest (a quick loop with no NATS, Redis or CQL node).
const embeddedOnly = process.env.TEST_ENGINES === 'embedded';

export default defineConfig({
  test: {
    include: [
      '{app,testkit,protocol,actors,session,storage,pipeline,radio,origin,client,cluster,loadtest,deploy}/**/*.test.ts',
    ],
    exclude: embeddedOnly ? ['**/*.engine.test.ts', '**/node_modules/**'] : ['**/node_modules/**'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // 2 cores: engine suites share one NATS/Redis/CQL node, so keep parallelism modest.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
