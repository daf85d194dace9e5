/**
 * End-to-end pipeline suite, run on the embedded log (pipeline.test.ts) and on JetStream
 * (pipeline.engine.test.ts): a generated month through every consumer, and a royalty consumer
 * killed between storing and acking.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { openEmbeddedEnv, type EmbeddedEnv } from '../storage/lmdb-env.ts';
import { createLmdbFeatures } from '../storage/features.lmdb.ts';
import { createLmdbHistory } from '../storage/history.lmdb.ts';
import { createLmdbRoyalties } from '../storage/royalties.lmdb.ts';
import type { EventLog } from '../storage/event-log.ts';
import { countsFromLedger, type RoyaltyStore } from '../storage/royalties.ts';
import type { EventSource } from '../storage/event-source.ts';
import { generateMonth } from './jobs/generate-month.ts';
import { readExport } from './consumers/warehouse-export.ts';
import { referenceLedger } from './royalty-rule.ts';
import { startPipeline, type PipelineDeps, type RunningPipeline } from './start-pipeline.ts';
import { silentLogger, publishAll, removeTempDirs, tempDir, waitFor } from '../testkit/pipeline.ts';

export interface LogUnderTest {
  log: EventLog;
  source: EventSource;
  close(): Promise<void>;
}

const FAST = { ackWaitMs: 1_000, retryDelayMs: 100 };

async function ledgerSize(store: RoyaltyStore, month: string): Promise<number> {
  let n = 0;
  for await (const _ of store.scanLedger(month)) n++;
  return n;
}

export function pipelineContract(adapter: string, openLog: () => Promise<LogUnderTest>): void {
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
      const env: EmbeddedEnv = await openEmbeddedEnv(tempDir('pipe-store'));
      cleanup.push(async () => {
        await t.close();
        await env.close();
      });
      const royalties = createLmdbRoyalties(env);
      return { t, env, royalties };
    };

    it('pipeline - a generated month gives counts, history, features and export equal to the reference', async () => {
      const { t, env, royalties } = await setup();
      const month = generateMonth({ month: '2025-03', seed: 7, users: 30, playsPerUser: 25 });
      const history = createLmdbHistory(env);
      const features = createLmdbFeatures(env);
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
      await waitFor('export of every event', async () => (await exported()).size === distinct.size);

      const ends = month.events.filter((e) => e.type === 'play.end' && e.reason !== 'blocked');
      const someUser = ends[0]!.user;
      const userPlays = new Set(ends.filter((e) => e.user === someUser).map((e) => e.play_id));
      await waitFor('history of one user', async () => {
        const page = await history.readHistory(someUser, { limit: 1000 });
        return page.entries.length === userPlays.size;
      });
      const page = await history.readHistory(someUser, { limit: 1000 });
      expect(new Set(page.entries.map((e) => e.playId))).toEqual(userPlays);

      const track = ends[0]!.track;
      const plays = new Set(ends.filter((e) => e.track === track).map((e) => e.play_id)).size;
      const skips = new Set(
        ends.filter((e) => e.track === track && e.reason === 'skip').map((e) => e.play_id),
      ).size;
      await waitFor('features of one track', async () => (await features.trackStats(track)).plays === plays);
      expect(await features.trackStats(track)).toEqual({ plays, skips });
    });

    it('pipeline - a royalty consumer killed after storing and before acking, then restarted, counts each play once', async () => {
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
      );
      const truth = countsFromLedger(reference.values());
      expect(await royalties.trackCounts('2025-04')).toEqual(truth.tracks);
      expect(await royalties.artistCounts('2025-04')).toEqual(truth.artists);
      expect(await royalties.repairCounts('2025-04', { dryRun: true })).toEqual({ added: 0, removed: 0 });
    });
  });
}
