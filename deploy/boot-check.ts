/**
 * Boots a session server as a child process, as an operator would, and checks it serves:
 * the ready banner, `/healthz`, and one play (a device connects with the banner's dev token,
 * plays the demo playlist, and the first chunk of the playback frame comes from the origin
 * URL with the size and SHA-256 the frame names). `bootAndPlay` is shared by CI's check of
 * the production build and by app/bare-start.test.ts (`npm start` with no ffmpeg on PATH).
 *
 *   npx tsx deploy/boot-check.ts [-- <server command...>]   (default: node dist/app/server.js)
 *
 * Runs the server on a fresh temp DATA_DIR and a free port (PORT=0), with short demo tracks
 * (DEMO_TRACK_SECONDS) unless the environment sets them; exits 0 when every check passed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { SessionClient, type WebSocketCtor } from '../client/session-client.ts';
import { verifyChunk } from '../protocol/chunk-verify.ts';

interface BootCheckOptions {
  /** Server command and arguments, e.g. [process.execPath, 'dist/app/server.js']. */
  command: readonly [string, ...string[]];
  /** The server's whole environment (nothing is inherited). */
  env: Record<string, string>;
  cwd?: string;
  /** How long the server may take to print its banner (demo catalog included). */
  readyTimeoutMs: number;
  /** Each output line of the server, for progress. */
  onLine?: (line: string) => void;
}

export interface BootCheckResult {
  wsUrl: string;
  httpUrl: string;
  healthz: { status: string };
  /** The server's lines that mention which ffmpeg runs. */
  ffmpegLines: string[];
  trackId: string;
  encoderDelaySamples: number;
  /** The origin's bytes of the playback frame's init segment and first chunk. */
  init: Uint8Array;
  firstChunk: Uint8Array;
}

class BootCheckError extends Error {
  override readonly name = 'BootCheckError';
}

interface Banner {
  wsUrl: string;
  httpUrl: string;
  token: string;
  playlistUri: string;
}

/** The ready banner of app/server.ts, once its last line has been printed. */
function parseBanner(text: string): Banner | undefined {
  if (!/^\s*more tokens/m.test(text)) return undefined;
  const field = (re: RegExp) => re.exec(text)?.[1];
  const wsUrl = field(/^\s*websocket\s+(ws:\/\/\S+)/m);
  const httpUrl = field(/^\s*http\s+(http:\/\/\S+?)\/healthz/m);
  const token = field(/^\s*dev token\s+\(\S+\)\s+(\S+)/m);
  const playlistUri = field(/^\s*playlist\s+(\S+)/m);
  if (!wsUrl || !httpUrl || !token || !playlistUri) throw new BootCheckError(`unreadable banner:\n${text}`);
  return { wsUrl, httpUrl, token, playlistUri };
}

/** The `msg` of a pino JSON line, else the line itself. */
function logMessage(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const msg = (JSON.parse(line) as { msg?: unknown }).msg;
    return typeof msg === 'string' ? msg : line;
  } catch {
    return line;
  }
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (res.status !== 200) throw new BootCheckError(`GET ${url}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Starts the server, runs the checks, stops it (SIGTERM) whatever happened. */
export async function bootAndPlay(opts: BootCheckOptions): Promise<BootCheckResult> {
  const [bin, ...args] = opts.command;
  const child = spawn(bin, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // Settles on exit, or on a failed spawn (no 'exit' follows an 'error' then).
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const ready = new Promise<Banner>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new BootCheckError(`no ready banner within ${opts.readyTimeoutMs} ms:\n${output.slice(-4000)}`),
        ),
      opts.readyTimeoutMs,
    );
    const onData = (d: Buffer) => {
      const text = d.toString('utf8');
      output += text;
      for (const line of text.split('\n')) if (line.trim()) opts.onLine?.(line);
      try {
        const banner = parseBanner(output);
        if (banner) {
          clearTimeout(timer);
          resolve(banner);
        }
      } catch (e) {
        clearTimeout(timer);
        reject(e as Error);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new BootCheckError(`cannot start ${bin}: ${e.message}`, { cause: e }));
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new BootCheckError(`server exited with ${code} before it was ready:\n${output.slice(-4000)}`));
    });
  });

  try {
    const banner = await ready;
    const health = await fetch(`${banner.httpUrl}/healthz`);
    const healthz = (await health.json()) as { status: string };
    if (health.status !== 200 || healthz.status !== 'ok')
      throw new BootCheckError(`/healthz answered ${health.status}: ${JSON.stringify(healthz)}`);

    const client = new SessionClient({
      url: banner.wsUrl,
      token: banner.token,
      device: { id: 'boot-check', name: 'Boot check', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    await client.connect();
    try {
      const playback = client.waitFor('playback');
      await client.play({ context: banner.playlistUri });
      const pb = await playback;
      if (!pb.first_chunk.init_url) throw new BootCheckError('playback frame without an init segment URL');
      // Signed URLs are absolute; resolved against the server they still work if relative.
      const init = await fetchBytes(new URL(pb.first_chunk.init_url, banner.httpUrl).href);
      const firstChunk = await fetchBytes(new URL(pb.first_chunk.url, banner.httpUrl).href);
      const key = /\/o\/([0-9a-f]{64})/.exec(pb.first_chunk.url)?.[1];
      if (!key) throw new BootCheckError(`first chunk URL without an object key: ${pb.first_chunk.url}`);
      const verified = await verifyChunk(firstChunk, { bytes: firstChunk.byteLength, sha256: key });
      if (!verified.ok)
        throw new BootCheckError(`first chunk failed verification: ${JSON.stringify(verified)}`);
      return {
        wsUrl: banner.wsUrl,
        httpUrl: banner.httpUrl,
        healthz,
        ffmpegLines: output
          .split('\n')
          .map(logMessage)
          .filter((l) => /ffmpeg \S+ at /.test(l)),
        trackId: pb.track.id,
        encoderDelaySamples: pb.gapless.encoder_delay_samples,
        init,
        firstChunk,
      };
    } finally {
      client.close();
    }
  } finally {
    const running = child.exitCode === null && child.signalCode === null && child.pid !== undefined;
    if (running) child.kill('SIGTERM');
    // The server gives itself 15 s to save sessions; past 20 s it is hung.
    const hung = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await exited;
    clearTimeout(hung);
    if (running && code !== 0) opts.onLine?.(`server exited with ${code} on SIGTERM`);
  }
}

async function main(): Promise<number> {
  const given = process.argv.slice(2).filter((a) => a !== '--');
  const command = (given.length > 0 ? given : [process.execPath, 'dist/app/server.js']) as [
    string,
    ...string[],
  ];
  const dataDir = mkdtempSync(join(tmpdir(), 'boot-check-'));
  const started = Date.now();
  try {
    const r = await bootAndPlay({
      command,
      env: {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        PORT: '0',
        LOG_LEVEL: 'info',
        DEMO_TRACK_SECONDS: process.env.DEMO_TRACK_SECONDS ?? '4',
      },
      readyTimeoutMs: 10 * 60_000,
      onLine: (l) => console.log(`[server] ${l}`),
    });
    for (const l of r.ffmpegLines) console.log(`[boot-check] ${l}`);
    console.log(
      `[boot-check] ok in ${((Date.now() - started) / 1000).toFixed(1)} s: ${r.httpUrl}/healthz ${r.healthz.status}; ` +
        `played ${r.trackId}: init ${r.init.byteLength} B, first chunk ${r.firstChunk.byteLength} B verified`,
    );
    return 0;
  } catch (e) {
    console.error(`[boot-check] FAILED: ${(e as Error).message}`);
    return 1;
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main();
}
