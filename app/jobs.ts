/**
 * `npm run job -- <name> [options]`: batch jobs over one month, with a progress bar.
 *   generate  --month YYYY-MM [--seed N] [--users N]   a synthetic month with planted tastes: its
 *                                                      catalog and listeners into the stores, its
 *                                                      events to the event log and (embedded log)
 *                                                      consumed into the stores and the export
 *   reconcile --month YYYY-MM [--repair]                recount from ledger and exported events
 *   payouts   --month YYYY-MM --pool <minor units> [--currency EUR] [--no-fraud]
 *   fraud     --month YYYY-MM
 *   discover-weekly --week YYYY-Www                     train ALS on the 3 weeks before, write every
 *                                                      listener's Discover Weekly, publish the radio index
 * Common: --out <dir> (default <DATA_DIR>/reports), --export-dir <dir> (default <DATA_DIR>/warehouse).
 * Stores, log and export come from the one config and data layout `npm start` uses, so the
 * jobs read the ledger and the export the server's pipeline wrote.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { ConfigError, parseConfig } from './config.ts';
import { openStores } from './open-stores.ts';
import type { CountedPlay } from '../storage/royalties.ts';
import { readExport } from '../pipeline/consumers/warehouse-export.ts';
import { openEventLog } from './open-event-log.ts';
import { writeGeneratedCatalog } from './generated-catalog.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { referenceLedger } from '../pipeline/royalty-rule.ts';
import { startPipeline } from '../pipeline/start-pipeline.ts';
import { detectFraud } from '../pipeline/jobs/fraud.ts';
import { generateMonth } from '../pipeline/jobs/generate-month.ts';
import { computePayouts, payoutsCsv } from '../pipeline/jobs/payouts.ts';
import { reconcileMonth } from '../pipeline/jobs/reconcile.ts';
import { DiscoverWeeklyError, isoWeek, type Play } from '../radio/discover-weekly.ts';
import { runDiscoverWeekly, TRAIN_WEEKS } from '../radio/weekly-job.ts';

const [name, ...rest] = process.argv.slice(2);
const { values: o } = parseArgs({
  args: rest,
  options: {
    month: { type: 'string' },
    week: { type: 'string' },
    pool: { type: 'string' },
    currency: { type: 'string', default: 'EUR' },
    repair: { type: 'boolean', default: false },
    'no-fraud': { type: 'boolean', default: false },
    seed: { type: 'string', default: '1' },
    users: { type: 'string', default: '200' },
    out: { type: 'string' },
    'export-dir': { type: 'string' },
  },
});
const JOBS = ['generate', 'reconcile', 'payouts', 'fraud', 'discover-weekly'];
if (!name || !JOBS.includes(name))
  fail(`usage: npm run job -- <${JOBS.join('|')}> --month YYYY-MM | --week YYYY-Www [options]`);
const month = o.month ?? '';
if (name === 'discover-weekly') {
  try {
    isoWeek(o.week ?? '');
  } catch (e) {
    fail(e instanceof DiscoverWeeklyError ? e.message : String(e));
  }
} else if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) fail('--month YYYY-MM is required');

function fail(msg: string): never {
  console.error(msg);
  process.exit(2);
}

let config;
try {
  config = parseConfig(process.env);
} catch (e) {
  if (e instanceof ConfigError) fail(`job: bad configuration: ${e.message}`);
  throw e;
}
const exportDir = o['export-dir'] ?? config.pipeline.warehouseDir;
const outDir = o.out ?? config.layout.reports;
const stores = await openStores(config.stores);
const { royalties, features } = stores;
const bar = new cliProgress.SingleBar(
  { format: `${name} [{bar}] {percentage}% {value}/{total} {step}` },
  cliProgress.Presets.shades_classic,
);
mkdirSync(outDir, { recursive: true });
const write = (file: string, body: string) => {
  writeFileSync(join(outDir, file), body);
  console.log(`wrote ${join(outDir, file)}`);
};

async function ledgerOf(m: string): Promise<CountedPlay[]> {
  const rows: CountedPlay[] = [];
  for await (const r of royalties.scanLedger(m)) rows.push(r);
  return rows;
}
/** The plays (their `play.end` events) of the export's days in [fromDay, toDay]. */
async function* playsFromExport(dir: string, fromDay: string, toDay: string): AsyncGenerator<Play> {
  for await (const e of readExport(dir, (d) => d >= fromDay && d <= toDay)) {
    if (e.type !== 'play.end') continue;
    yield { userId: e.user, trackId: e.track, ts: e.ts, msPlayed: e.ms_played, country: e.country };
  }
}

async function eventsOf(m: string) {
  const events = [];
  for await (const e of readExport(exportDir, (day) => day.startsWith(m))) events.push(e);
  return events;
}

try {
  if (name === 'generate') {
    const gen = generateMonth({ month, seed: Number(o.seed), users: Number(o.users) });
    bar.start(1, 0, { step: 'catalog' });
    await writeGeneratedCatalog(stores, new ObjectStore(config.layout.objects), gen);
    const log = await openEventLog(config.eventLog);
    bar.start(gen.events.length, 0, { step: 'publishing' });
    for (let i = 0; i < gen.events.length; i += 256) {
      await Promise.all(gen.events.slice(i, i + 256).map((e) => log.publish(e)));
      bar.update(Math.min(gen.events.length, i + 256));
    }
    if (log.kind === 'embedded') {
      // The embedded log is served by one process: consume here until the ledger is complete.
      const expected = [...referenceLedger(gen.events).values()].filter((r) => r.month === month).length;
      const pipeline = await startPipeline({
        source: log.source,
        royalties,
        features,
        history: stores.history,
        exportDir,
      });
      // Complete when the ledger holds every counted play and the export every play's end:
      // consumers run at their own pace, and the export writes after a linger.
      const ends = gen.plays.length;
      bar.setTotal(expected + ends);
      bar.update(0, { step: 'consuming' });
      for (;;) {
        const counted = (await ledgerOf(month)).length;
        const exported = new Set<string>();
        for (const e of await eventsOf(month)) if (e.type === 'play.end') exported.add(e.event_id);
        bar.update(Math.min(counted, expected) + Math.min(exported.size, ends));
        if (counted >= expected && exported.size >= ends) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      await pipeline.stop();
    }
    bar.stop();
    await log.close();
    console.log(
      `${gen.tracks.length} tracks and ${gen.users.length} listeners in the catalog; published ${gen.events.length} events ` +
        `(${gen.plays.length} plays, ${gen.fraudUsers.size} fraud-like users)`,
    );
  } else if (name === 'discover-weekly') {
    try {
      const week = o.week!;
      const { start } = isoWeek(week);
      const from = start - TRAIN_WEEKS * 7 * 86_400_000;
      const day = (ts: number) => new Date(ts).toISOString().slice(0, 10);
      bar.start(5, 0, { step: 'reading plays' });
      let i = 0;
      const report = await runDiscoverWeekly(week, {
        plays: playsFromExport(exportDir, day(from), day(start)),
        catalog: stores.catalog,
        users: stores.users,
        playlists: stores.playlists,
        indexDir: config.radio.indexDir,
        python: config.radio.alsPython,
        progress: (step) => bar.update(++i, { step }),
      });
      bar.update(5, { step: 'done' });
      bar.stop();
      write(`discover-weekly-${week}.json`, JSON.stringify(report, null, 2) + '\n');
      console.log(
        `${report.listeners} listeners, ${report.tracks} tracks, ${report.plays} plays (${report.trainFrom.slice(0, 10)}..${report.trainTo.slice(0, 10)}); ` +
          `trained in ${report.trainSeconds.toFixed(2)} s; ${report.playlistsWritten} playlists written, ${report.playlistsUnchanged} unchanged; ` +
          `radio index ${report.indexVersion} published to ${config.radio.indexDir}`,
      );
    } catch (e) {
      bar.stop();
      // An empty history or a missing trainer is an outcome to state, not a crash.
      if (!(e instanceof DiscoverWeeklyError)) throw e;
      console.error(`discover-weekly: ${e.code}: ${e.message}`);
      process.exitCode = 1;
    }
  } else if (name === 'reconcile') {
    bar.start(4, 0, { step: '' });
    let i = 0;
    const report = await reconcileMonth({
      store: royalties,
      month,
      exportDir,
      repair: o.repair,
      progress: (step) => bar.update(++i, { step }),
    });
    bar.stop();
    write(`reconcile-${month}.json`, JSON.stringify(report, null, 2) + '\n');
    console.log(
      `ledger ${report.ledgerPlays} plays, events ${report.eventPlays ?? '-'}; ${report.differences.length} count differences, ` +
        `${report.missingFromLedger.length} plays missing from the ledger, ${report.missingFromEvents.length} missing from events` +
        (report.repaired ? `; repaired ${JSON.stringify(report.repaired)}` : ''),
    );
    for (const t of report.ledgerTracks)
      console.log(`  track ${t.id} ${t.territory} ${t.product}: ${t.streams} streams`);
    if (!o.repair && (report.differences.length || report.missingFromLedger.length)) process.exitCode = 1;
  } else {
    bar.start(3, 0, { step: 'ledger' });
    const ledger = await ledgerOf(month);
    bar.update(1, { step: 'events' });
    const events = await eventsOf(month);
    bar.update(2, { step: 'rules' });
    const flags = detectFraud(ledger, events);
    bar.update(3, { step: 'done' });
    bar.stop();
    if (name === 'fraud') {
      write(`fraud-${month}.json`, JSON.stringify({ month, flagged: [...flags.values()] }, null, 2) + '\n');
      console.log(`${flags.size} listeners flagged of ${new Set(ledger.map((r) => r.userId)).size}`);
    } else {
      if (!o.pool || !/^\d+$/.test(o.pool)) fail('--pool <integer minor units> is required');
      const useFraud = !o['no-fraud'];
      const excluded = useFraud ? ledger.filter((r) => flags.has(r.userId)) : [];
      const paid = useFraud ? ledger.filter((r) => !flags.has(r.userId)) : ledger;
      const p = computePayouts(month, paid, Number(o.pool), o.currency!);
      const exclusions = excluded.map((r) => ({
        playId: r.playId,
        user: r.userId,
        reason: flags.get(r.userId)!.rules.join(','),
      }));
      write(`payouts-${month}.json`, JSON.stringify({ ...p, excluded: exclusions }, null, 2) + '\n');
      write(`payouts-${month}.csv`, payoutsCsv(p));
      const sum = p.tracks.reduce((s, l) => s + l.amount, 0);
      console.log(
        `paid ${sum}/${p.pool} ${p.currency} minor units over ${p.totalStreams} streams; ${excluded.length} flagged plays excluded`,
      );
    }
  }
} finally {
  await stores.close();
}
