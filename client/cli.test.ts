/**
 * The session CLI end to end against the real app (embedded stores, origin, pipeline) on a
 * free port: one-shot commands, refusals, connection failures, interactive mode, and runs of
 * the `npm run cli` entry (app/cli.ts) as a real child process. In-process runs mint their
 * dev tokens with the test server's authenticator (the entry wires session/auth in).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { EXIT } from './cli-args.ts';
import { runCli, type DevTokenRequest } from './cli.ts';
import { SessionClient, type WebSocketCtor } from './session-client.ts';
import { useTestApp } from '../testkit/test-app.ts';

const app = useTestApp('cli-e2e-');
const mintToken = (w: DevTokenRequest) =>
  app.server.auth.mint({ userId: w.user, plan: w.plan, country: w.country });

/** Runs the CLI in-process against the test server; collects stdout and stderr lines. */
async function cli(args: string[], input?: PassThrough, onOut?: (line: string) => void) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--url', app.server.wsUrl, ...args], {
    out: (l) => {
      out.push(...l.split('\n'));
      onOut?.(l);
    },
    err: (l) => err.push(...l.split('\n')),
    env: {},
    mintToken,
    ...(input ? { input } : {}),
  });
  return { code, out, err };
}

/**
 * Runs the `npm run cli` entry (app/cli.ts) as a child process. JWT_SECRET is removed from
 * its environment so it signs with the development secret, as the test server does.
 */
async function entry(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { JWT_SECRET: _ignored, ...env } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/cli.ts', ...args], {
    cwd: join(import.meta.dirname, '..'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

const noStack = (lines: string[]) => expect(lines.join('\n')).not.toMatch(/^\s+at /m);

describe('cli - against a real server', () => {
  it('cli - play prints the playback, the prefetch and verified chunks, then exits 0', async () => {
    const r = await cli([
      '--user',
      'u1',
      '--device-id',
      'cli-play',
      '--prefetch',
      'play',
      app.demo.playlistUri,
    ]);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out[0]).toMatch(/^connected to ws:\/\/127\.0\.0\.1:\d+\/v1\/ws as device cli-play/);
    expect(r.out).toContainEqual(expect.stringMatching(/^playback \S+: "Demo Song 1" by \S.* at \d+ kbps/));
    expect(r.out).toContainEqual(
      expect.stringMatching(/^prefetch after \S+: 1\. demo02 \(1 chunk at \d+ kbps\)/),
    );
    expect(r.out).toContainEqual(expect.stringMatching(/^ok: play acknowledged in/));
    expect(r.out).toContainEqual(
      expect.stringMatching(/^state v\d+: playing "Demo Song 1".* on cli-play \(this device\)/),
    );
    expect(r.out).toContainEqual(expect.stringMatching(/^chunk \/o\/[0-9a-f.]+: \d+ bytes verified$/));
  });

  it('cli - a second process for the same device is not mistaken for a retry (next advances)', async () => {
    const r = await cli(['--user', 'u1', '--device-id', 'cli-play', 'next']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContainEqual(expect.stringMatching(/^playback \S+: "Demo Song 2"/));
  });

  it('cli - state and devices print the session as the server holds it', async () => {
    const r = await cli(['--user', 'u1', '--device-id', 'cli-other', 'devices']);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContainEqual(
      expect.stringMatching(/^device cli-play \*active\*: "Session CLI" computer/),
    );
    expect(r.out).toContainEqual(expect.stringMatching(/^device cli-other \(this\): .* connected$/));
  });

  it('cli - a refused command prints code/reason and exits 1', async () => {
    const r = await cli(['--user', 'u1', '--device-id', 'cli-refused', 'play', app.demo.blockedInSeUri]);
    expect(r.code).toBe(EXIT.refused);
    expect(r.err).toEqual([expect.stringMatching(/^error forbidden\/region_blocked: /)]);
    const unknown = await cli(['--user', 'u1', '--device-id', 'cli-refused', 'play', 'spotify:track:nope']);
    expect(unknown.code).toBe(EXIT.refused);
    expect(unknown.err).toEqual([expect.stringMatching(/^error not_found\/unknown_track: /)]);
  });

  it('cli - a bad token, an unreachable server and bad arguments: one clear line each, no stack', async () => {
    const bad = await cli(['--token', 'not.a.token', 'state']);
    expect(bad.code).toBe(EXIT.connect);
    expect(bad.err).toEqual([expect.stringMatching(/^error connection_closed: .*\(4500 bad token\)/)]);

    const down = await runCli(['--url', 'ws://127.0.0.1:1/v1/ws', '--user', 'u1', 'state'], {
      out: () => {},
      err: (l) =>
        expect(l).toMatch(
          /^error unreachable: cannot connect to ws:\/\/127\.0\.0\.1:1\/v1\/ws: .*ECONNREFUSED/,
        ),
      env: {},
      mintToken,
    });
    expect(down).toBe(EXIT.connect);

    const wrongPath = await cli([
      '--url',
      app.server.wsUrl.replace('/v1/ws', '/nope'),
      '--user',
      'u1',
      'state',
    ]);
    expect(wrongPath.code).toBe(EXIT.connect);
    expect(wrongPath.err[0]).toMatch(/^error unreachable: cannot connect to /);

    const usage = await cli(['--user', 'u1', 'shuffle', 'sideways']);
    expect(usage.code).toBe(EXIT.usage);
    expect(usage.err[0]).toBe("error: shuffle must be one of on, off, got 'sideways'");
    for (const r of [bad, wrongPath, usage]) noStack(r.err);
  });

  it('cli - interactive mode runs commands line by line and prints events', async () => {
    const input = new PassThrough();
    input.end(['play spotify:track:demo03', 'bogus', 'shuffle on', 'ping', 'quit', 'next'].join('\n') + '\n');
    const r = await cli(['--user', 'u2', '--plan', 'free', '--country', 'US', '--device-id', 'cli-i'], input);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContainEqual(expect.stringMatching(/^type 'help' for commands/));
    expect(r.out).toContainEqual(expect.stringMatching(/^ok: play \(/));
    expect(r.out).toContainEqual("error: unknown command 'bogus' (try 'help' or --help)");
    expect(r.out).toContainEqual(expect.stringMatching(/^ok: shuffle \(/));
    expect(r.out).toContainEqual(expect.stringMatching(/^pong in \d+\.\d ms$/));
    // 'quit' ends the session: the 'next' after it never runs.
    expect(r.out).not.toContainEqual(expect.stringMatching(/^ok: next/));
  });

  it('cli - interactive mode ends with exit 3 when the session ends for good (device replaced, 4502)', async () => {
    const input = new PassThrough();
    let ready!: () => void;
    const prompted = new Promise<void>((r) => (ready = r));
    const run = cli(['--user', 'u1', '--device-id', 'cli-replaced'], input, (l) => {
      if (l.startsWith("type 'help'")) ready();
    });
    await prompted;
    const token = await app.server.auth.mint({ userId: 'u1', plan: 'premium', country: 'SE' });
    const other = new SessionClient({
      url: app.server.wsUrl,
      token,
      device: { id: 'cli-replaced', name: 'other', type: 'computer' },
      WebSocket: WebSocket as unknown as WebSocketCtor,
    });
    await other.connect();
    const r = await run;
    other.close();
    input.end();
    expect(r.code).toBe(EXIT.connect);
    expect(r.out).toContainEqual(expect.stringMatching(/^closed 4502 replaced \(terminal\)/));
    expect(r.out).toContainEqual(expect.stringMatching(/^error terminal_close: session ended/));
  });

  it('cli - without a token minter, --user is refused with one line (exit 2), --token still works', async () => {
    const err: string[] = [];
    const code = await runCli(['--url', app.server.wsUrl, '--user', 'u1', 'state'], {
      out: () => {},
      err: (l) => err.push(l),
      env: {},
    });
    expect(code).toBe(EXIT.usage);
    expect(err).toEqual(['error: this client cannot mint dev tokens: pass --token <jwt>']);
    const token = await mintToken({ user: 'u1', plan: 'premium', country: 'SE' });
    const out: string[] = [];
    const withToken = await runCli(['--url', app.server.wsUrl, '--token', token, 'ping'], {
      out: (l) => out.push(l),
      err: (l) => err.push(l),
      env: {},
    });
    expect(withToken).toBe(EXIT.ok);
    expect(out).toContainEqual(expect.stringMatching(/^pong in /));
  });

  it('cli - the npm run cli entry mints a dev token for --user with the configured secret', async () => {
    const r = await entry(['--url', app.server.wsUrl, '--user', 'u1', '--device-id', 'cli-child', 'ping']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(r.stdout).toMatch(/^connected to ws:.* as device cli-child/m);
    expect(r.stdout).toMatch(/^pong in \d+\.\d ms$/m);
  });

  it('cli - as a child process: exit code 3 and one message line for a bad token', async () => {
    const { code, stderr } = await entry(['--url', app.server.wsUrl, '--token', 'x.y.z', 'state']);
    expect(code).toBe(EXIT.connect);
    expect(stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^error connection_closed: .*4500 bad token/),
    ]);
  });
});
