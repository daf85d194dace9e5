/**
 * `npm run radio` over real NATS: two instances in one queue group share the requests; one
 * killed (SIGKILL), the caller's retry reaches the other and every request is answered;
 * both gone, the port fails fast with `unavailable` (the session then warns and plays on).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection } from '@nats-io/nats-core';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RadioRequest } from '../actors/types.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { natsRadioPort, RadioUnavailableError, type RadioReply } from '../radio/radio-transport.ts';
import { requireEngine, testNamespace } from '../testkit/engines.ts';
import { seedDemo } from './demo-seed.ts';
import { openStores } from './open-stores.ts';
import { dataLayout } from './data-layout.ts';

const ns = testNamespace('radio');
const subject = `${ns.subject}.radio`;
let natsUrl: string;
let dir: string;
let nc: NatsConnection;
const instances: ChildProcess[] = [];

function startInstance(): Promise<ChildProcess> {
  // node itself (tsx as a loader), so a kill reaches the process that serves.
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/radio.ts'], {
    env: {
      // The catalog is seeded into the embedded store below: not the CQL node or Redis that
      // `npm test` points every suite at.
      ...Object.fromEntries(
        Object.entries(process.env).filter(([k]) => k !== 'SCYLLA_CONTACT_POINTS' && k !== 'REDIS_URL'),
      ),
      DATA_DIR: dir,
      NATS_URL: natsUrl,
      RADIO_SUBJECT: subject,
      DEMO_CATALOG: 'fixture',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  instances.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`radio instance not ready in 30 s: ${out}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"radio ready"')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`radio instance exited ${code}: ${out}`)));
  });
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );

const request = (over: Partial<RadioRequest> = {}): RadioRequest => ({
  userId: 'u1',
  seedTrackIds: ['demo01', 'demo02', 'demo03'],
  exclude: ['demo01', 'demo02', 'demo03'],
  count: 3,
  country: 'SE',
  plan: 'premium',
  ...over,
});

async function raw(body: unknown): Promise<RadioReply> {
  const msg = await nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), { timeout: 2_000 });
  return msg.json<RadioReply>();
}

beforeAll(async () => {
  natsUrl = await requireEngine('nats');
  dir = mkdtempSync(join(tmpdir(), 'radio-nats-'));
  const layout = dataLayout(dir);
  const stores = await openStores({ dataDir: layout.store });
  await seedDemo(stores, new ObjectStore(layout.objects), pino({ level: 'silent' }));
  await stores.close();
  nc = await connect({ servers: natsUrl });
  await Promise.all([startInstance(), startInstance()]);
}, 90_000);

afterAll(async () => {
  for (const c of instances) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await Promise.all(instances.map(exited));
  await nc?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('radio over NATS', () => {
  it('radio - two instances share the requests; answers keep the rules', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await raw(request());
      if (!r.ok) throw new Error(r.message);
      seen.add(r.instance);
      expect(r.trackIds).toHaveLength(3);
      // demo04 is blocked in SE; the context is excluded.
      for (const id of r.trackIds) expect(['demo01', 'demo02', 'demo03', 'demo04']).not.toContain(id);
    }
    expect(seen.size).toBe(2);
  });

  it('radio - a malformed request is refused with bad_request naming the field', async () => {
    const r = await raw({ ...request(), country: 'sweden' });
    expect(r).toMatchObject({ ok: false, code: 'bad_request' });
    expect(r.ok ? '' : r.message).toMatch(/country/);
  });

  it('radio - one instance killed: every request is still answered; both gone: unavailable', async () => {
    const port = natsRadioPort(() => nc, { subject, timeoutMs: 1_000, attempts: 2 });
    const victim = instances[0]!;
    victim.kill('SIGKILL');
    // Requests in flight while it dies, and after.
    const answers = await Promise.all(Array.from({ length: 20 }, () => port(request())));
    await exited(victim);
    answers.push(...(await Promise.all(Array.from({ length: 20 }, () => port(request())))));
    for (const a of answers) expect(a).toHaveLength(3);

    const last = instances[1]!;
    last.kill('SIGKILL');
    await exited(last);
    await expect(port(request())).rejects.toBeInstanceOf(RadioUnavailableError);
  });
});
