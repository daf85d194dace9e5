/**
 * The launcher's parts that need no engine: endpoint parsing, engine names, pid handling,
 * throwaway names, and the loud failure of a suite whose engine is absent.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { localPort } from './engines/engine.ts';
import { parseEngineNames } from './launcher.ts';
import { assertPortsFree, isOurProcessAlive, spawnDetached, stopProcess } from './process-control.ts';
import { EngineRequiredError, requireEngine, testNamespace } from '../testkit/engines.ts';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('launcher - endpoints and names', () => {
  it('launcher - localPort reads host and port of URLs and contact points', () => {
    expect(localPort('nats://127.0.0.1:14222', 4222)).toEqual({ host: '127.0.0.1', port: 14222 });
    expect(localPort('redis://localhost:16379/2', 6379)).toEqual({ host: '127.0.0.1', port: 16379 });
    expect(localPort('127.0.0.1:19042,127.0.0.2:19042', 9042)).toEqual({ host: '127.0.0.1', port: 19042 });
    expect(localPort('127.0.0.1', 9042)).toEqual({ host: '127.0.0.1', port: 9042 });
  });

  it('launcher - localPort refuses a remote endpoint, naming it', () => {
    expect(() => localPort('nats://nats.example.com:4222', 4222)).toThrow(
      /nats\.example\.com:4222 is not a loopback/,
    );
  });

  it('launcher - engine names default to all and reject unknown ones', () => {
    expect(parseEngineNames([])).toEqual(['nats', 'redis', 'cql', 'k6', 'python']);
    expect(parseEngineNames(['cql', 'nats', 'cql'])).toEqual(['cql', 'nats']);
    expect(() => parseEngineNames(['nats', 'mongo'])).toThrow(/unknown engine mongo/);
  });
});

describe('launcher - ports', () => {
  it('launcher - a port taken by another listener is refused before the spawn, naming it', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      await expect(assertPortsFree('127.0.0.1', [port], 'cql')).rejects.toThrow(
        `cql cannot start: 127.0.0.1:${port} is already in use`,
      );
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
    await expect(assertPortsFree('127.0.0.1', [port], 'cql')).resolves.toBeUndefined();
  });
});

describe('launcher - processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'launcher-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('launcher - a detached process is stopped by its pid with SIGTERM', async () => {
    const child = spawnDetached('sleep', ['60'], { logFile: join(dir, 'sleep.log'), cwd: dir });
    expect(isOurProcessAlive(child)).toBe(true);
    expect(await stopProcess(child, 5_000)).toBe('terminated');
    expect(await child.exited).toBe('signal SIGTERM');
    expect(isOurProcessAlive(child)).toBe(false);
    expect(await stopProcess(child, 5_000)).toBe('not-running');
  });

  it('launcher - a process that ignores SIGTERM is killed after the grace period', async () => {
    const log = join(dir, 'stubborn.log');
    // An ignored signal stays ignored across exec: sleep inherits the shell's trap.
    const child = spawnDetached('sh', ['-c', 'trap "" TERM; echo ready; exec sleep 60'], {
      logFile: log,
      cwd: dir,
    });
    await vi.waitFor(() => expect(readFileSync(log, 'utf8')).toContain('ready'), { timeout: 5_000 });
    expect(await stopProcess(child, 300)).toBe('killed');
    expect(await child.exited).toBe('signal SIGKILL');
  });

  it('launcher - a pid whose start time differs is not ours and is never signalled', async () => {
    const child = spawnDetached('sleep', ['60'], { logFile: join(dir, 'other.log'), cwd: dir });
    try {
      const impostor = { pid: child.pid, startTime: (child.startTime ?? 0) + 1 };
      expect(isOurProcessAlive(impostor)).toBe(false);
      expect(await stopProcess(impostor, 1_000)).toBe('not-running');
      expect(isOurProcessAlive(child)).toBe(true);
    } finally {
      await stopProcess(child, 5_000);
    }
  });
});

describe('test-engines - helpers', () => {
  it('test-engines - namespaces are unique and valid for CQL, JetStream and Redis', () => {
    const a = testNamespace('Playlist Ops / v2');
    const b = testNamespace('Playlist Ops / v2');
    expect(a.id).not.toBe(b.id);
    expect(a.keyspace).toMatch(/^t_playlist_ops_v2_[a-z0-9]+$/);
    expect(a.keyspace.length).toBeLessThanOrEqual(48);
    expect(a.stream).toMatch(/^T_PLAYLIST_OPS_V2_[A-Z0-9]+$/);
    expect(a.subject).toBe(`t.${a.id}`);
    expect(a.redisPrefix).toBe(`t:${a.id}:`);
    expect(testNamespace('x'.repeat(100)).keyspace.length).toBeLessThanOrEqual(48);
  });

  it.each(['nats', 'redis', 'cql'] as const)(
    'test-engines - an unreachable %s fails loudly, naming the engine and the launcher',
    async (engine) => {
      const port = await closedPort();
      const env = {
        NATS_URL: `nats://127.0.0.1:${port}`,
        REDIS_URL: `redis://127.0.0.1:${port}`,
        SCYLLA_CONTACT_POINTS: `127.0.0.1:${port}`,
      };
      const failure = await requireEngine(engine, { env, timeoutMs: 1_000 }).then(
        () => null,
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(EngineRequiredError);
      const message = (failure as EngineRequiredError).message;
      expect(message).toContain(`ENGINE UNREACHABLE: ${engine}`);
      expect(message).toContain(`127.0.0.1:${port}`);
      expect(message).toContain('npm run infra -- up');
    },
  );
});
