/**
 * End-to-end pipeline suite over the event log and store ports, run on the embedded log with
 * the LMDB stores (pipeline.test.ts) and on JetStream with the CQL stores
 * (pipeline.engine.test.ts): a generated month through every consumer, and a royalty consumer
 * killed between storing and acking.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { EventLog } from '../storage/event-log.ts';
import type { FeatureStore } from '../storage/features.ts';
import type { HistoryStore } from '../storage/history.ts';
import { countsFromLedger, type RoyaltyStore } from '../storage/royalties.ts';
import type { EventSource } from '../storage/event-source.ts';
import { generateMonth } from './jobs/generate-month.ts';
import { readExport } from './consumers/warehouse-export.ts';
import { referenceLedger } from './royalty-rule.ts';
import { startPipeline, type PipelineDeps, type RunningPipeline } from './start-pipeline.ts';
import { silentLogger, publishAll, removeTempDirs, tempDir, waitFor } from '../testkit/pipeline.ts';
import type { PortFactory } from '../testkit/store-engines.ts';

export interface LogUnderTest {
  log: EventLog;
  source: EventSource;
  close(): Promise<void>;
}

/** The stores the pipeline's consumers write, all on one engine. */
export interface PipelineStores {
  royalties: RoyaltyStore;
  history: HistoryStore;
  features: FeatureStore;
}

const FAST = { ackWaitMs: 1_000, retryDelayMs: 100 };
/** A CQL node under load takes far longer than LMDB to take a month of LWTs. */
const SETTLE_MS = 120_000;

async function ledgerSize(store: RoyaltyStore, month: string): Promise<number> {
  let n = 0;
  for await (const _ of store.scanLedger(month)) n++;
  return n;
}

export function pipelineContract(
  adapter: string,
  openLog: () => Promise<LogUnderTest>,
  openStores: PortFactory<PipelineStores>,
): void {
  describe(`pipeline (${adapter})`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    // Every cleanup runs even when one fails (or the test failed half-way).
    afterEach(async () => {
      const errors: unknown[] = [];
      for (const c of cleanup.splice(0).reverse()) await c().catch((e: unknown) => errors.push(e));
      if (errors.length > 0) throw errors[0];
    });
    afterAll(removeTempDirs);

    const setup = async () => {
      const t = await openLog();
      cleanup.push(() => t.close());
      const stores = await openStores();
      cleanup.push(() => stores.close());
      return { t, ...stores.port };
    };

    it(
      'pipeline - a generated month gives counts, history, features and export equal to the reference',
      async () => {
        const { t, royalties, history, features } = await setup();
        const month = generateMonth({ month: '2025-03', seed: 7, users: 30, playsPerUser: 25 });
        const exportDir = tempDir('pipe-export');
        await publishAll(t.log, month.events);
        const running = await startPipeline({
          source: t.source,
          royalties,
          history,
          features,
          exportDir,
          log: silentLogger,
          consumers: { royalties: FAST, history: FAST, features: FAST, export: { ...FAST, lingerMs: 50 } },
        });
        cleanup.push(() => running.stop());

        const reference = referenceLedger(month.events);
        const truth = countsFromLedger(reference.values());
        await waitFor(
          'ledger to hold every counted play',
          async () => (await ledgerSize(royalties, '2025-03')) === reference.size,
          SETTLE_MS,
        );
        expect(await royalties.trackCounts('2025-03')).toEqual(truth.tracks);
        expect(await royalties.artistCounts('2025-03')).toEqual(truth.artists);
        for (const blocked of month.blockedTracks)
          expect(truth.tracks.some((c) => c.id === blocked)).toBe(false);

        const distinct = new Set(month.events.map((e) => e.event_id));
        const exported = async () => {
          const ids = new Set<string>();
          for await (const row of readExport(exportDir)) ids.add(row.event_id);
          return ids;
        };
        await waitFor(
          'export of every event',
          async () => (await exported()).size === distinct.size,
          SETTLE_MS,
        );

        const ends = month.events.filter((e) => e.type === 'play.end' && e.reason !== 'blocked');
        const someUser = ends[0]!.user;
        const userPlays = new Set(ends.filter((e) => e.user === someUser).map((e) => e.play_id));
        await waitFor(
          'history of one user',
          async () => {
            const page = await history.readHistory(someUser, { limit: 1000 });
            return page.entries.length === userPlays.size;
          },
          SETTLE_MS,
        );
        const page = await history.readHistory(someUser, { limit: 1000 });
        expect(new Set(page.entries.map((e) => e.playId))).toEqual(userPlays);

        const track = ends[0]!.track;
        const plays = new Set(ends.filter((e) => e.track === track).map((e) => e.play_id)).size;
        const skips = new Set(
          ends.filter((e) => e.track === track && e.reason === 'skip').map((e) => e.play_id),
        ).size;
        await waitFor(
          'features of one track',
          async () => (await features.trackStats(track)).plays === plays,
          SETTLE_MS,
        );
        expect(await features.trackStats(track)).toEqual({ plays, skips });
      },
      2 * SETTLE_MS,
    );

    it(
      'pipeline - a royalty consumer killed after storing and before acking, then restarted, counts each play once',
      async () => {
        const { t, royalties } = await setup();
        const month = generateMonth({
          month: '2025-04',
          seed: 11,
          users: 20,
          playsPerUser: 20,
          duplicateRate: 0.3,
        });
        await publishAll(t.log, month.events);
        let killed!: () => void;
        const died = new Promise<void>((r) => (killed = r));
        let first = true;
        const deps: PipelineDeps = {
          source: t.source,
          royalties,
          log: silentLogger,
          consumers: { royalties: { ...FAST, maxBatch: 50 } },
          afterRoyaltiesStored: async (stored) => {
            if (!first || stored === 0) return;
            first = false;
            killed();
            await new Promise(() => undefined); // dies here: effects stored, nothing acked
          },
        };
        const doomed: RunningPipeline = await startPipeline(deps);
        await died;
        await doomed.abort();
        const written = await ledgerSize(royalties, '2025-04');
        expect(written).toBeGreaterThan(0);

        const restarted = await startPipeline({ ...deps, afterRoyaltiesStored: undefined });
        cleanup.push(() => restarted.stop());
        const reference = referenceLedger(month.events);
        await waitFor(
          'every counted play',
          async () => (await ledgerSize(royalties, '2025-04')) === reference.size,
          SETTLE_MS,
        );
        const truth = countsFromLedger(reference.values());
        expect(await royalties.trackCounts('2025-04')).toEqual(truth.tracks);
        expect(await royalties.artistCounts('2025-04')).toEqual(truth.artists);
        expect(await royalties.repairCounts('2025-04', { dryRun: true })).toEqual({ added: 0, removed: 0 });
      },
      2 * SETTLE_MS,
    );
  });
}
