/**
 * Pipeline instances as processes (`npm run pipeline`, i.e. `node --import tsx app/pipeline.ts`)
 * on the shared NATS and CQL node: three instances share every durable consumer; a known month
 * of listening events is published, with duplicates under other message ids (retries after
 * JetStream's dedup window, which it stores again); one instance is killed with SIGKILL while
 * the consumers are mid-way, so what it held unacked (stored or not) is redelivered to the
 * others. Afterwards history, features and the royalty ledger equal the ground truth computed
 * from the events.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ListeningEvent } from '../actors/types.ts';
import { createScyllaFeatures } from '../storage/features.scylla.ts';
import { createScyllaHistory } from '../storage/history.scylla.ts';
import { createScyllaRoyalties } from '../storage/royalties.scylla.ts';
import { countsFromLedger, type CountedPlay, type RoyaltyStore } from '../storage/royalties.ts';
import type { HistoryEntry, HistoryStore } from '../storage/history.ts';
import { encodeEvent, subjectFor } from '../storage/event-codec.ts';
import { durableName, ensureStream, streamSettings } from '../storage/jetstream-stream.ts';
import { createTestKeyspace, requireEngine, testNamespace, type TestKeyspace } from '../testkit/engines.ts';
import { waitFor } from '../testkit/pipeline.ts';
import { generateMonth } from './jobs/generate-month.ts';
import { readExport } from './consumers/warehouse-export.ts';
import { referenceLedger } from './royalty-rule.ts';

const ROOT = resolve(import.meta.dirname, '..');
const MONTH = '2025-05';
const SETTLE_MS = 150_000;

interface Instance {
  pid: number;
  dir: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** It handled deliveries that another instance had held (it logged 'redelivered events'). */
  tookRedeliveries(): boolean;
  output(): string;
  signal(sig: NodeJS.Signals): void;
}

function startInstance(env: Record<string, string>): Promise<Instance> {
  const dir = mkdtempSync(join(tmpdir(), 'pipeline-instance-'));
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/pipeline.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let redelivered = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  const instance: Instance = {
    pid: child.pid!,
    dir,
    exited,
    running,
    tookRedeliveries: () => redelivered,
    output: () => out,
    signal: (sig) => {
      if (running()) process.kill(child.pid!, sig);
    },
  };
  return new Promise((ready, fail) => {
    const onData = (chunk: Buffer) => {
      out = (out + chunk.toString()).slice(-20_000);
      redelivered ||= out.includes('redelivered events');
      if (out.includes('pipeline running')) ready(instance);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((e) => fail(new Error(`pipeline instance exited (${JSON.stringify(e)}):\n${out}`)));
  });
}

/** Every entry of a user's history, all pages. */
async function allHistory(store: HistoryStore, userId: string): Promise<HistoryEntry[]> {
  const entries: HistoryEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.readHistory(userId, { limit: 500, ...(cursor ? { cursor } : {}) });
    entries.push(...page.entries);
    cursor = page.next;
  } while (cursor);
  return entries;
}

async function ledgerRows(store: RoyaltyStore): Promise<CountedPlay[]> {
  const rows: CountedPlay[] = [];
  for await (const row of store.scanLedger(MONTH)) rows.push(row);
  return rows;
}

let keyspace: TestKeyspace;
let nc: NatsConnection;
const ns = testNamespace('pipe_instances');
const instances: Instance[] = [];

beforeAll(async () => {
  const natsUrl = await requireEngine('nats');
  keyspace = await createTestKeyspace('pipe_instances');
  nc = await connect({ servers: natsUrl });
}, 60_000);

afterAll(async () => {
  for (const i of instances) {
    i.signal('SIGKILL');
    await i.exited;
    rmSync(i.dir, { recursive: true, force: true });
  }
  await (await jetstreamManager(nc)).streams.delete(ns.stream).catch(() => undefined);
  await nc?.close();
  await keyspace?.drop();
}, 60_000);

describe('pipeline instances', () => {
  it(
    'pipeline instances - three processes share each durable consumer; one killed mid-batch: history, features and ledger exact',
    async () => {
      const settings = streamSettings({ stream: ns.stream });
      await ensureStream(await jetstreamManager(nc), settings);
      const month = generateMonth({
        month: MONTH,
        seed: 23,
        users: 40,
        playsPerUser: 20,
        duplicateRate: 0.2,
      });
      // A second copy of every tenth event under another message id: JetStream stores it again,
      // as it does a retry after its dedup window.
      const published: { e: ListeningEvent; msgID: string }[] = month.events.map((e, i) => ({
        e,
        msgID: i % 10 === 0 ? `${e.event_id}#retry` : e.event_id,
      }));
      for (const [i, e] of month.events.entries()) if (i % 10 === 0) published.push({ e, msgID: e.event_id });
      const js = jetstream(nc);
      for (let i = 0; i < published.length; i += 256)
        await Promise.all(
          published
            .slice(i, i + 256)
            .map(({ e, msgID }) =>
              js.publish(subjectFor(settings.subjectPrefix, e.type), encodeEvent(e), { msgID }),
            ),
        );

      const env = {
        NATS_URL: await requireEngine('nats'),
        EVENTS_STREAM: ns.stream,
        SCYLLA_CONTACT_POINTS: keyspace.endpoint.raw,
        SCYLLA_KEYSPACE: keyspace.name,
        LOG_LEVEL: 'info',
        // What a dead instance held comes back to the others after this long.
        PIPELINE_ACK_WAIT_MS: '5000',
      };
      instances.push(...(await Promise.all([0, 1, 2].map(() => startInstance(env)))));

      // The ground truth, from the events (duplicates included: they must change nothing).
      const ends = month.events.filter((e) => e.type === 'play.end' && e.reason !== 'blocked');
      const distinctEnds = new Map(ends.map((e) => [e.play_id, e]));
      const truthLedger = referenceLedger(month.events);
      const truthStats = new Map<string, { plays: number; skips: number }>();
      for (const e of distinctEnds.values()) {
        const s = truthStats.get(e.track) ?? { plays: 0, skips: 0 };
        truthStats.set(e.track, { plays: s.plays + 1, skips: s.skips + (e.reason === 'skip' ? 1 : 0) });
      }
      const applied = async () =>
        Number(
          (await keyspace.client.execute(`SELECT count(*) AS n FROM ${keyspace.name}.feature_plays`)).first()
            .n,
        );

      // Kill one instance while the features consumer (the slowest: one LWT per play) is
      // mid-way: it holds a batch in hand and more buffered, none of it acked.
      await waitFor(
        'the features consumer under way',
        async () => (await applied()) >= distinctEnds.size * 0.1,
        SETTLE_MS,
      );
      const appliedAtKill = await applied();
      const victim = instances[0]!;
      victim.signal('SIGKILL');
      expect((await victim.exited).signal).toBe('SIGKILL');
      expect(appliedAtKill).toBeLessThan(distinctEnds.size);

      const royalties = createScyllaRoyalties(keyspace.client, keyspace.name);
      const history = createScyllaHistory(keyspace.client, keyspace.name);
      const features = createScyllaFeatures(keyspace.client, keyspace.name);
      await waitFor(
        'every play applied to the features',
        async () => (await applied()) === distinctEnds.size,
        SETTLE_MS,
      );
      await waitFor(
        'every counted play in the ledger',
        async () => (await ledgerRows(royalties)).length >= truthLedger.size,
        SETTLE_MS,
      );
      const users = [...new Set(ends.map((e) => e.user))];
      const expectedHistory = (user: string) =>
        [...distinctEnds.values()]
          .filter((e) => e.user === user)
          .map((e) => ({ playId: e.play_id, ts: Math.max(0, e.ts - e.ms_played), msPlayed: e.ms_played }))
          .sort((a, b) => a.playId.localeCompare(b.playId));
      const historyOf = async (user: string) =>
        (await allHistory(history, user))
          .map((e) => ({ playId: e.playId, ts: e.ts, msPlayed: e.msPlayed }))
          .sort((a, b) => a.playId.localeCompare(b.playId));
      await waitFor(
        'every history entry',
        async () => {
          for (const u of users) if ((await historyOf(u)).length < expectedHistory(u).length) return false;
          return true;
        },
        SETTLE_MS,
      );
      // Settled: the consumers have nothing pending (the killed instance's deliveries came
      // back and were acked by the others).
      const jsm = await jetstreamManager(nc);
      const pending = async () => {
        let n = 0;
        for (const c of ['royalties', 'history', 'features'])
          n += (await jsm.consumers.info(ns.stream, durableName(settings, c))).num_ack_pending;
        return n === 0;
      };
      await waitFor('no delivery left unacked', pending, SETTLE_MS);

      // Royalties: exactly the reference ledger, and counts from it.
      const rows = await ledgerRows(royalties);
      expect(rows.length).toBe(truthLedger.size);
      expect(new Map(rows.map((r) => [r.playId, r]))).toEqual(truthLedger);
      const truthCounts = countsFromLedger(truthLedger.values());
      expect(await royalties.trackCounts(MONTH)).toEqual(truthCounts.tracks);
      expect(await royalties.artistCounts(MONTH)).toEqual(truthCounts.artists);
      expect(await royalties.repairCounts(MONTH, { dryRun: true })).toEqual({ added: 0, removed: 0 });
      // History: one entry per ended play, nothing twice.
      for (const u of users) expect(await historyOf(u)).toEqual(expectedHistory(u));
      // Features: play and skip counts per track. (Co-occurrence pairs a play with the
      // listening run as the consumer saw it in log order, which a redelivery after a kill
      // changes by design; it is not compared.)
      for (const [track, stats] of truthStats) expect(await features.trackStats(track)).toEqual(stats);
      // The warehouse export of the instances together: every event, once after dedup.
      const exported = new Set<string>();
      for (const i of instances)
        for await (const row of readExport(join(i.dir, 'warehouse'))) exported.add(row.event_id);
      expect(exported).toEqual(new Set(month.events.map((e) => e.event_id)));

      // The kill did leave deliveries behind: the log handed them to the survivors.
      expect(instances.slice(1).some((i) => i.tookRedeliveries())).toBe(true);

      // The survivors stop cleanly (in-flight batches finish and are acked).
      for (const i of instances.slice(1)) {
        expect(i.running()).toBe(true);
        i.signal('SIGTERM');
        expect(await i.exited).toEqual({ code: 0, signal: null });
      }
    },
    4 * SETTLE_MS,
  );
});
