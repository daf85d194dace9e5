/**
 * The one DATA_DIR layout, end to end through the real entry points run as child processes:
 * what `npm run ingest` writes, `npm start` serves; the ledger and warehouse export the
 * server's pipeline writes, `npm run job -- reconcile` reads. Each test uses a fresh temp
 * DATA_DIR and a clean environment (no engines: embedded stores and event log).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { monthOf } from '../storage/event-codec.ts';
import type { ListeningEvent } from '../actors/types.ts';
import { readExport } from '../pipeline/consumers/warehouse-export.ts';
import { waitFor } from '../testkit/pipeline.ts';
import { parseConfig } from './config.ts';
import { startApp } from './start-app.ts';

const ROOT = join(import.meta.dirname, '..');
const ffmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

/** Only what node needs plus the given variables: no engine URL or secret leaks in. */
const cleanEnv = (vars: Record<string, string>): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  ...vars,
});

/** Runs an entry point (`tsx app/<entry>`) to its end. */
function runEntry(
  entry: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

/** Starts `npm start`'s entry and resolves with its banner's URLs and dev token. */
function startServer(
  env: NodeJS.ProcessEnv,
): Promise<{ child: ChildProcess; wsUrl: string; httpUrl: string; token: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/server.ts'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 60 s:\n${out}\n${err}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const ws = /^\s+websocket\s+(ws:\/\/\S+)$/m.exec(out);
      const http = /^\s+http\s+(http:\/\/\S+)\/healthz/m.exec(out);
      const token = /^\s+dev token\s+\(u1\) (\S+)$/m.exec(out);
      if (ws && http && token) {
        clearTimeout(timer);
        resolve({ child, wsUrl: ws[1]!, httpUrl: http[1]!, token: token[1]! });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}\n${err}`));
    });
  });
}

function stopServer(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

describe('data layout', () => {
  it('data layout - npm run ingest -- <folder> then npm start serves the ingested tracks', async () => {
    const dataDir = tempDir('layout-ingest-');
    const music = tempDir('layout-music-');
    for (const [name, freq] of [
      ['First Tone', 440],
      ['Second Tone', 660],
    ] as const) {
      const made = spawnSync(ffmpeg, [
        '-hide_banner',
        '-v',
        'error',
        '-y',
        '-f',
        'lavfi',
        '-i',
        `sine=frequency=${freq}:sample_rate=44100:duration=3`,
        '-metadata',
        `title=${name}`,
        '-metadata',
        'artist=Layout Test',
        join(music, `${name.replace(' ', '-')}.wav`),
      ]);
      expect(made.status, made.stderr.toString()).toBe(0);
    }

    const ingest = await runEntry(
      'app/ingest.ts',
      [music],
      cleanEnv({ DATA_DIR: dataDir, FFMPEG_PATH: ffmpeg, INGEST_WORKERS: '1' }),
    );
    expect(ingest.code, ingest.stdout + ingest.stderr).toBe(0);
    expect(ingest.stdout).toMatch(/ingest: 2 ingested, 0 unchanged, 0 failed/);
    const ids = [...ingest.stdout.matchAll(/^\s+ingested\s+(\S+)\s/gm)].map((m) => m[1]!);
    expect(ids).toHaveLength(2);

    const server = await startServer(
      cleanEnv({ DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'warn', DEMO_CATALOG: 'fixture' }),
    );
    const client = new SessionClient({
      url: server.wsUrl,
      token: server.token,
      device: { id: 'layout-d', name: 'Layout', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    try {
      await client.connect();
      const titles: string[] = [];
      for (const id of ids) {
        const playback = client.waitFor('playback', { filter: (p) => p.track.id === id, timeoutMs: 10_000 });
        await client.play({ uris: [`spotify:track:${id}`] });
        const pb = await playback;
        titles.push(pb.track.title);
        // The chunk the server signed is served from the objects ingest wrote.
        const chunk = await fetch(pb.first_chunk.url);
        expect(chunk.status).toBe(200);
        expect((await chunk.arrayBuffer()).byteLength).toBeGreaterThan(0);
      }
      expect(titles.sort()).toEqual(['First Tone', 'Second Tone']);
    } finally {
      client.close();
      expect(await stopServer(server.child)).toBe(0);
    }
  }, 180_000);

  it('data layout - npm run job -- reconcile reads the ledger the server wrote', async () => {
    const dataDir = tempDir('layout-ledger-');
    // The server's wiring in-process (startApp, as `npm start` runs it) on the same DATA_DIR:
    // plays past the royalty threshold are published through its event log and counted by
    // its pipeline into the ledger and the warehouse export.
    const config = parseConfig({ PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    const app = await startApp(config, { demo: 'fixture' });
    const ts = Date.now();
    const month = monthOf(ts);
    const plays: ListeningEvent[] = ['demo01', 'demo02', 'demo02'].map((track, i) => ({
      event_id: `layout-play-${i}:play.end`,
      type: 'play.end',
      play_id: `layout-play-${i}`,
      user: 'u1',
      track,
      artist: 'artist1',
      ts: ts + i,
      ms_played: 45_000,
      context: app.demo.playlistUri,
      country: 'SE',
      product: 'premium',
      device: 'layout-d',
      reason: 'trackdone',
    }));
    try {
      for (const e of plays) await app.eventLog.publish(e);
      await waitFor('three ledger rows', async () => {
        let n = 0;
        for await (const _ of app.stores.royalties.scanLedger(month)) n++;
        return n === 3;
      });
      await waitFor('three exported events', async () => {
        let n = 0;
        for await (const e of readExport(config.pipeline.warehouseDir))
          if (e.play_id.startsWith('layout-play-')) n++;
        return n === 3;
      });
    } finally {
      await app.close();
    }

    const job = await runEntry(
      'app/jobs.ts',
      ['reconcile', '--month', month],
      cleanEnv({ DATA_DIR: dataDir }),
    );
    expect(job.code, job.stdout + job.stderr).toBe(0);
    expect(job.stdout).toMatch(
      /ledger 3 plays, events 3; 0 count differences, 0 plays missing from the ledger, 0 missing from events/,
    );
    expect(job.stdout).toMatch(/^\s+track demo01 SE premium: 1 streams$/m);
    expect(job.stdout).toMatch(/^\s+track demo02 SE premium: 2 streams$/m);
    const report = JSON.parse(readFileSync(join(dataDir, 'reports', `reconcile-${month}.json`), 'utf8'));
    expect(report).toMatchObject({ month, ledgerPlays: 3, eventPlays: 3, differences: [] });
  }, 120_000);
});
