/**
 * `npm run ingest -- <files or folders>`: encodes audio files into the catalog of the same
 * stores `npm start` uses (the one data layout of app/data-layout.ts under DATA_DIR, or the
 * CQL cluster of SCYLLA_CONTACT_POINTS; objects under OBJECT_DIR). Folders are walked
 * recursively for audio extensions; files named explicitly are always tried, so an
 * unsupported one is reported rather than skipped. Exit code 0 when every file is ingested
 * or unchanged, 1 when any failed (each failure printed with its code and reason), 2 on
 * bad usage or configuration.
 */
import { SingleBar, Presets } from 'cli-progress';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { ConfigError, parseConfig } from './config.ts';
import { openStores } from './open-stores.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { describeTools, locateTools, ToolError } from '../origin/ingest/ffmpeg.ts';
import { Ingester, ingestAll, type IngestOutcome } from '../origin/ingest/ingest.ts';
import { publishNewTracks, type ContentUpdate } from './content-index.ts';

const AUDIO_EXTENSIONS = new Set([
  '.wav',
  '.wave',
  '.flac',
  '.mp3',
  '.ogg',
  '.oga',
  '.opus',
  '.m4a',
  '.aac',
  '.aif',
  '.aiff',
  '.wma',
]);

async function expand(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string) => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && AUDIO_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  for (const a of args) {
    const p = resolve(a);
    const s = await stat(p).catch(() => undefined);
    if (s?.isDirectory()) await walk(p);
    else out.push(p); // missing files too: they are reported as unreadable
  }
  return [...new Set(out)];
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  if (args.length === 0 || args.includes('--help')) {
    console.error('usage: npm run ingest -- <audio files or folders>...');
    return 2;
  }
  let config;
  let tools;
  try {
    config = parseConfig(process.env);
    tools = locateTools(config.tools);
    console.error(`ingest: ${describeTools(tools)}`);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof ToolError) {
      console.error(`ingest: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const files = await expand(args);
  if (files.length === 0) {
    console.error('ingest: no audio files found');
    return 2;
  }
  const options = config.ingest;
  const stores = await openStores(config.stores);
  const started = Date.now();
  const bar = new SingleBar(
    { format: 'ingest {bar} {value}/{total} files | {eta_formatted} left | {last}', hideCursor: true },
    Presets.shades_classic,
  );
  let results: IngestOutcome[];
  let radio: ContentUpdate | undefined;
  try {
    const ingester = new Ingester({
      catalog: stores.catalog,
      objects: new ObjectStore(config.layout.objects),
      tools,
      options,
    });
    bar.start(files.length, 0, { last: '' });
    results = await ingestAll(
      (s) => ingester.ingest(s),
      files.map((path) => ({ path })),
      options.workers,
      (o) => bar.increment({ last: `${o.status} ${o.path.split('/').pop()}` }),
    );
    // New tracks reach the radio without a restart: a content index naming them is published
    // where running radio services poll for one (RADIO_INDEX_DIR).
    // A failure here loses nothing: the tracks are in the catalog, and the next ingest or
    // radio start adds every catalog track the index lacks.
    radio = await publishNewTracks(
      config.radio,
      stores.catalog,
      results.flatMap((r) => (r.status === 'ingested' ? [r.trackId] : [])),
      { objectDir: config.layout.objects, tools: config.tools },
    ).catch((e: unknown) => {
      console.error(
        `ingest: radio content index not published (${e instanceof Error ? e.message : String(e)})`,
      );
      return undefined;
    });
  } finally {
    bar.stop();
    await stores.close();
  }
  const count = (s: IngestOutcome['status']) => results.filter((r) => r.status === s).length;
  console.log(
    `ingest: ${count('ingested')} ingested, ${count('unchanged')} unchanged, ${count('failed')} failed ` +
      `in ${((Date.now() - started) / 1000).toFixed(1)} s (objects in ${config.layout.objects})`,
  );
  if (radio)
    console.log(
      `ingest: radio content index ${radio.version} published (${radio.tracks} tracks, ${radio.added} new, ` +
        `${radio.unmeasured} without audio measures) in ${config.radio.indexDir}`,
    );
  for (const r of results) {
    if (r.status === 'failed') console.log(`  FAILED ${r.path}: ${r.code}: ${r.reason}`);
    else console.log(`  ${r.status.padEnd(9)} ${r.trackId} ${r.path}`);
  }
  return count('failed') > 0 ? 1 : 0;
}

process.exitCode = await main();
