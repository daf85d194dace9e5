/**
 * Bundles the k6 script: sessions.js + wire.ts + @msgpack/msgpack + the UTF-8 polyfill into
 * one ES module, dist/sessions.js (gitignored). k6 runs no npm packages and no TypeScript
 * imports of ours, so esbuild inlines them; `k6` and `k6/*` stay imports for k6 itself.
 *
 *   npx tsx loadtest/k6/build.ts      (run.ts calls it before every run)
 */
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
export const K6_SCRIPT = join(here, 'dist', 'sessions.js');

/** Builds dist/sessions.js; resolves with its path. */
export async function buildK6Bundle(outfile = K6_SCRIPT): Promise<string> {
  await build({
    entryPoints: [join(here, 'sessions.js')],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    mainFields: ['module', 'main'],
    conditions: ['import', 'default'],
    // k6 v1's JS engine (Sobek) has async functions but not `for await` or async generators,
    // which @msgpack/msgpack's stream decoders use: ES2017 makes esbuild lower them.
    target: 'es2017',
    external: ['k6', 'k6/*'],
    logLevel: 'warning',
    legalComments: 'none',
  });
  return outfile;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`built ${await buildK6Bundle()}`);
}
