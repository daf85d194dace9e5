/**
 * Bundles the web player into one HTML file (script and styles inline), which the server
 * serves at `/` (app/player-page.ts): `npm run build:player` writes player/dist/index.html;
 * `npm run build` writes dist/player/dist/index.html beside the built server. esbuild
 * bundles the SDK (client/) and the wire (protocol/) for browsers from the same sources.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** Builds the page; returns the path written. The write is atomic (tests may build at once). */
export async function buildPlayer(outDir = join(here, 'dist')): Promise<string> {
  const out = await build({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome110',
    minify: true,
    write: false,
    legalComments: 'none',
  });
  // `</script` inside the script would end the element early.
  const script = out.outputFiles[0]!.text.replace(/<\/script/gi, '<\\/script');
  const [html, css] = await Promise.all([
    readFile(join(here, 'index.html'), 'utf8'),
    readFile(join(here, 'player.css'), 'utf8'),
  ]);
  const page = html.replace('/*STYLES*/', () => css).replace('/*SCRIPT*/', () => script);
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, 'index.html');
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  await writeFile(tmp, page);
  await rename(tmp, file);
  return file;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = await buildPlayer(process.argv[2]);
  console.log(`player page built: ${file}`);
}
