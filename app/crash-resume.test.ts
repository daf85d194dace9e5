/**
 * A server killed with SIGKILL (no shutdown, no grace save) and started again on the same
 * DATA_DIR resumes the sessions it had: the play in progress comes back with its play id
 * and the time already heard, and goes on playing by itself once its device is back; once
 * the listen passes 30 s it is counted once in the royalty ledger. `npm start`'s entry runs as a child process, on embedded engines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import type { ListeningEvent } from '../actors/types.ts';
import { readExport } from '../pipeline/consumers/warehouse-export.ts';
import { monthOf } from '../storage/event-codec.ts';
import { waitFor } from '../testkit/pipeline.ts';
import { parseConfig } from './config.ts';
import { openStores } from './open-stores.ts';

const ROOT = join(import.meta.dirname, '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];
const clients: SessionClient[] = [];

afterAll(() => {
  for (const c of clients) c.close();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface RunningServer {
  child: ChildProcess;
  wsUrl: string;
  token: string;
  /** Everything the child wrote to stdout so far (the banner, then pino's JSON lines). */
  out(): string;
}

/** Starts `npm start`'s entry on `dataDir` (fixture catalog, debug log) and waits for its banner. */
function startServer(dataDir: string): Promise<RunningServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/server.ts'], {
    cwd: ROOT,
    // Only what node needs: no engine URL or secret leaks in, so every engine is embedded.
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATA_DIR: dataDir,
      PORT: '0',
      LOG_LEVEL: 'debug',
      DEMO_CATALOG: 'fixture',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 60 s:\n${out}\n${err}`)), 60_000);
    const check = () => {
      const ws = /^\s+websocket\s+(ws:\/\/\S+)$/m.exec(out);
      const token = /^\s+dev token\s+\(u1\) (\S+)$/m.exec(out);
      if (!ws || !token) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ child, wsUrl: ws[1]!, token: token[1]!, out: () => out });
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before it was ready:\n${out}\n${err}`));
    });
  });
}

function device(server: RunningServer): SessionClient {
  const client = new SessionClient({
    url: server.wsUrl,
    token: server.token,
    device: { id: 'crash-phone', name: 'Phone', type: 'smartphone' },
    WebSocket: WebSocket as unknown as WebSocketCtor,
    reconnect: { enabled: false },
  });
  clients.push(client);
  return client;
}

const exited = (child: ChildProcess): Promise<unknown> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
    else child.once('exit', resolve);
  });

/** Events of one play in the warehouse export the server's pipeline writes. */
async function exported(dataDir: string, playId: string): Promise<ListeningEvent[]> {
  const events: ListeningEvent[] = [];
  for await (const e of readExport(join(dataDir, 'warehouse'))) if (e.play_id === playId) events.push(e);
  return events;
}

describe('crash and restart', () => {
  it('crash restart - after SIGKILL the restarted server resumes the session with its play, playing on at its position, and the listen past 30 s is counted once', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'crash-resume-'));
    dirs.push(dataDir);

    const first = await startServer(dataDir);
    const phone = device(first);
    await phone.connect();
    const started = phone.waitFor('playback', { timeoutMs: 10_000 });
    await phone.play({ uris: ['spotify:track:demo01'] });
    const playId = (await started).play_id;

    // 12 s of the 20 s track are heard (time must pass for ms_played to grow), the device
    // reports where it is, then goes back to the start (so the track does not end while the
    // server is down); the server saves the session after that change.
    await new Promise((r) => setTimeout(r, 12_000));
    const from = first.out().length;
    await phone.progress({ play_id: playId, position_ms: 12_000, buffered_ms: 8_000, bandwidth_kbps: 0 });
    await phone.seek(0);
    const seekedAt = Date.now();
    await waitFor('the session saved after the seek', () =>
      /"user":"u1".*"msg":"session snapshot saved"/.test(first.out().slice(from)),
    );
    first.child.kill('SIGKILL');
    await exited(first.child);
    phone.close();

    const second = await startServer(dataDir);
    const again = device(second);
    const handedBack = again.waitFor('playback', { timeoutMs: 10_000 });
    const welcome = await again.connect();
    expect(welcome.state.play_id).toBe(playId);
    expect(welcome.state.track?.id).toBe('demo01');
    // The active device is back: the same play goes on by itself (no resume pressed), where it
    // has got to since the save. Back without its player (a new client), the time the server
    // was down is not counted as played.
    const back = await handedBack;
    const backAt = Date.now();
    expect(back.play_id).toBe(playId);
    expect(back.is_playing).toBe(true);
    expect(Math.abs(back.position_ms - (backAt - seekedAt))).toBeLessThanOrEqual(1_000);

    // From the start of the track again, so it does not end before the listen reaches 30 s.
    await again.seek(0);
    const progress = await waitFor(
      'play.progress of the resumed play',
      async () => (await exported(dataDir, playId)).find((e) => e.type === 'play.progress'),
      40_000,
    );
    expect(progress.ms_played).toBeGreaterThanOrEqual(30_000);
    again.close();
    const stopped = exited(second.child);
    second.child.kill('SIGTERM');
    await stopped;

    const events = await exported(dataDir, playId);
    expect(events.filter((e) => e.type === 'play.start')).toHaveLength(1);
    const config = parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
    const stores = await openStores(config.stores);
    try {
      const rows = [];
      for await (const row of stores.royalties.scanLedger(monthOf(progress.ts))) rows.push(row);
      expect(rows.map((r) => r.playId)).toEqual([playId]);
    } finally {
      await stores.close();
    }
  }, 150_000);
});
