import { afterAll, describe, expect, it } from 'vitest';
import { openEmbeddedEnv } from '../storage/lmdb-env.ts';
import { createLmdbFeatures } from '../storage/features.lmdb.ts';
import { createLmdbHistory } from '../storage/history.lmdb.ts';
import { createLmdbRoyalties } from '../storage/royalties.lmdb.ts';
import { countsFromLedger } from '../storage/royalties.ts';
import { EmbeddedEventLog } from '../storage/event-log.embedded.ts';
import { generateMonth } from './jobs/generate-month.ts';
import { pipelineContract } from './pipeline.contract.ts';
import { referenceLedger } from './royalty-rule.ts';
import { startPipeline } from './start-pipeline.ts';
import { silentLogger, publishAll, removeTempDirs, tempDir, waitFor } from '../testkit/pipeline.ts';
import { embeddedPort } from '../testkit/store-engines.ts';

afterAll(removeTempDirs);

pipelineContract(
  'embedded log, LMDB stores',
  async () => {
    const log = new EmbeddedEventLog({ dir: tempDir('pipe-log') });
    return { log, source: log, close: () => log.close() };
  },
  embeddedPort('pipeline', (env) => ({
    royalties: createLmdbRoyalties(env),
    history: createLmdbHistory(env),
    features: createLmdbFeatures(env),
  })),
);

describe('pipeline on the embedded log', () => {
  it('pipeline - a whole process killed mid-batch and restarted on the same data dir counts each play once', async () => {
    const logDir = tempDir('pipe-restart-log');
    const storeDir = tempDir('pipe-restart-store');
    const month = generateMonth({
      month: '2025-05',
      seed: 5,
      users: 15,
      playsPerUser: 20,
      duplicateRate: 0.2,
    });
    const log1 = new EmbeddedEventLog({ dir: logDir });
    const env1 = await openEmbeddedEnv(storeDir);
    await publishAll(log1, month.events);
    let killed!: () => void;
    const died = new Promise<void>((r) => (killed = r));
    const p1 = await startPipeline({
      source: log1,
      royalties: createLmdbRoyalties(env1),
      log: silentLogger,
      consumers: { royalties: { maxBatch: 40 } },
      afterRoyaltiesStored: async (stored) => {
        if (stored === 0) return;
        killed();
        await new Promise(() => undefined);
      },
    });
    await died;
    await p1.abort();
    await log1.close();
    await env1.close();

    const log2 = new EmbeddedEventLog({ dir: logDir });
    const env2 = await openEmbeddedEnv(storeDir);
    const royalties = createLmdbRoyalties(env2);
    const p2 = await startPipeline({
      source: log2,
      royalties,
      log: silentLogger,
      consumers: { royalties: { maxBatch: 40 } },
    });
    const reference = referenceLedger(month.events);
    const truth = countsFromLedger(reference.values());
    await waitFor('all counted', async () => {
      let n = 0;
      for await (const _ of royalties.scanLedger('2025-05')) n++;
      return n === reference.size;
    });
    expect(await royalties.trackCounts('2025-05')).toEqual(truth.tracks);
    expect(await royalties.artistCounts('2025-05')).toEqual(truth.artists);
    await p2.stop();
    await log2.close();
    await env2.close();
  });
});
