/**
 * Session nodes as child processes (`tsx app/server.ts`, as `npm start` runs it) for the
 * multi-process cluster tests and the cluster benchmark: each on its own port and data dir,
 * sharing one NATS (leases, relay, events) and one CQL keyspace (snapshots, catalog). A node is
 * ready when it prints its WebSocket address; it is stopped by its pid only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { closeAction } from '../protocol/close-codes.ts';
import type { ClientFrame, ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { createAuthenticator } from '../session/auth.ts';
import { rawSocket, type RawSocket } from './raw-socket.ts';
import { DEV_JWT_SECRET } from '../app/config.ts';
import { createTestKeyspace, requireEngine, testNamespace, type TestKeyspace } from './engines.ts';

const ROOT = resolve(import.meta.dirname, '..');

export interface NodeProcess {
  readonly nodeId: string;
  readonly pid: number;
  readonly wsUrl: string;
  readonly httpUrl: string;
  /** Settles when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything it printed (stdout and stderr), for failure messages. */
  output(): string;
  signal(sig: NodeJS.Signals): void;
}

/** One cluster of a test: its NATS names, keyspace, and the nodes started in it. */
export interface TestCluster {
  readonly name: string;
  readonly natsUrl: string;
  /** The JetStream stream the nodes publish listening events to (EVENTS_STREAM). */
  readonly stream: string;
  readonly nodes: NodeProcess[];
  /** The CQL keyspace every node of this cluster stores in (snapshots, catalog, ledger). */
  readonly keyspace: TestKeyspace;
  /** Starts a node (ready when it resolves); `env` adds to or overrides the cluster's. */
  start(nodeId: string, env?: Record<string, string>): Promise<NodeProcess>;
  /** A device token of a demo user (the nodes share the development secret). */
  token(userId: string): Promise<string>;
  /** The version of the listener's saved snapshot (0: none) and its fencing token, read from CQL. */
  saved(userId: string): Promise<{ version: number; fence: number }>;
  /** Kills every node still running (SIGKILL, by pid), drops the keyspace, deletes the bucket and stream. */
  stop(): Promise<void>;
}

export async function startTestCluster(
  label: string,
  env: Record<string, string> = {},
): Promise<TestCluster> {
  const natsUrl = await requireEngine('nats');
  const keyspace: TestKeyspace = await createTestKeyspace(label);
  const ns = testNamespace(label);
  const name = `c_${ns.id}`.slice(0, 32);
  const stream = ns.stream;
  const cql = keyspace.endpoint.raw;
  const dirs: string[] = [];
  const nodes: NodeProcess[] = [];
  /** Every process started, ready or not: stop() kills the ones still starting too. */
  const spawned = new Map<ChildProcess, Promise<unknown>>();
  const auth = createAuthenticator(DEV_JWT_SECRET);
  return {
    name,
    natsUrl,
    stream,
    nodes,
    keyspace,
    async start(nodeId, extra = {}) {
      const dir = mkdtempSync(join(tmpdir(), `node-${nodeId}-`));
      dirs.push(dir);
      const node = await spawnNode(
        nodeId,
        {
          PORT: '0',
          DATA_DIR: dir,
          LOG_LEVEL: 'warn',
          DEMO_CATALOG: 'fixture',
          NATS_URL: natsUrl,
          NODE_ID: nodeId,
          CLUSTER_NAME: name,
          EVENTS_STREAM: stream,
          SCYLLA_CONTACT_POINTS: cql,
          SCYLLA_KEYSPACE: keyspace.name,
          ...env,
          ...extra,
        },
        undefined,
        (child, exited) => spawned.set(child, exited),
      );
      nodes.push(node);
      return node;
    },
    token: (userId) => auth.mint({ userId, plan: 'premium', country: 'SE' }),
    async saved(userId) {
      const r = await keyspace.client.execute(
        `SELECT version, fence, state FROM ${keyspace.name}.session_snapshots WHERE user_id = ?`,
        [userId],
        { prepare: true },
      );
      const row = r.first();
      return {
        version: row?.state == null ? 0 : Number(row.version),
        fence: row?.fence == null ? 0 : Number(row.fence),
      };
    },
    async stop() {
      for (const [child, exited] of spawned) {
        // Only a child still running: an exited one's pid may belong to another process now.
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
      for (const d of dirs) rmSync(d, { recursive: true, force: true, maxRetries: 5 });
      await keyspace.drop().catch(() => undefined);
      const nc = await connect({ servers: natsUrl });
      try {
        const jsm = await jetstreamManager(nc);
        for (const s of [
          `KV_${name}_leases`,
          `KV_${name}_listeners`,
          `KV_${name}_tickets`,
          `${name}_journal`,
          stream,
        ])
          await jsm.streams.delete(s).catch(() => undefined);
      } finally {
        await nc.close();
      }
    },
  };
}

/**
 * Starts `node --import tsx app/server.ts` with `env` (on top of PATH and HOME only): one
 * process, so a signal reaches the server itself (the tsx CLI would run it as a child).
 * Resolves once it serves.
 */
export function spawnNode(
  nodeId: string,
  env: Record<string, string>,
  readyTimeoutMs = 90_000,
  onSpawn?: (child: ChildProcess, exited: Promise<unknown>) => void,
): Promise<NodeProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'app/server.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => done({ code, signal })),
  );
  onSpawn?.(child, exited);
  return new Promise<NodeProcess>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${nodeId} not ready after ${readyTimeoutMs} ms:\n${out.slice(-3000)}`));
    }, readyTimeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const ws = /websocket\s+(ws:\/\/\S+)/.exec(out);
      const http = /http\s+(http:\/\/[^/\s]+)\/healthz/.exec(out);
      if (ws && http) {
        clearTimeout(timer);
        resolveReady({
          nodeId,
          pid: child.pid!,
          wsUrl: ws[1]!,
          httpUrl: http[1]!,
          exited,
          output: () => out,
          signal: (sig) => {
            if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, sig);
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(
        new Error(`node ${nodeId} exited (${code ?? signal}) before it was ready:\n${out.slice(-3000)}`),
      );
    });
  });
}

/**
 * A device for the cluster tests: a raw socket to one node that, when closed with a
 * reconnect code (or refused: the node is dead), connects to the next node of `urls` at once
 * and says hello again with its resume point. Requests are numbered; answers are kept by id.
 */
export class ClusterDevice {
  socket: RawSocket | undefined;
  /** performance.now() of every welcome, in order. */
  readonly welcomes: { at: number; frame: Extract<ServerFrame, { t: 'welcome' }>; url: string }[] = [];
  /** Every frame received (all connections), in order. */
  readonly frames: ServerFrame[] = [];
  readonly closes: { code: number; at: number }[] = [];
  /** Answers (`ack` / `error`) by request id. */
  private readonly answers = new Map<number, ServerFrame>();
  private nextId = 100;
  private stopped = false;
  private waiters: (() => void)[] = [];
  private resume: { version: number; epoch: string } | undefined;

  constructor(
    private readonly urls: () => string[],
    private readonly token: string,
    readonly deviceId: string,
    private index = 0,
  ) {}

  /** Connects to `urls()[index]` (then the next ones while refused) and waits for the welcome. */
  async connect(): Promise<Extract<ServerFrame, { t: 'welcome' }>> {
    const count = this.welcomes.length;
    void this.open();
    await this.until(() => this.welcomes.length > count, 30_000, 'welcome');
    return this.welcomes.at(-1)!.frame;
  }

  private async open(): Promise<void> {
    for (let tries = 0; !this.stopped && tries < 200; tries++) {
      const urls = this.urls();
      const url = urls[this.index % urls.length]!;
      const s = rawSocket(url);
      try {
        await s.opened;
      } catch {
        this.index++;
        continue;
      }
      this.socket = s;
      s.ws.on('message', () => this.onFrames(s, url));
      void s.closed.then(({ code }) => {
        this.closes.push({ code, at: performance.now() });
        if (this.socket !== s || this.stopped) return;
        this.socket = undefined;
        this.wake();
        if (closeAction(code) === 'reconnect') {
          this.index++;
          void this.open();
        }
      });
      s.send({
        t: 'hello',
        id: 1,
        token: this.token,
        device: { id: this.deviceId, name: this.deviceId, type: 'computer' },
        protocol: PROTOCOL_VERSION,
        ...(this.resume ? { resume: this.resume } : {}),
      });
      return;
    }
  }

  private seen = new WeakMap<RawSocket, number>();
  private onFrames(s: RawSocket, url: string): void {
    const from = this.seen.get(s) ?? 0;
    for (const f of s.frames.slice(from)) {
      this.frames.push(f);
      if ((f.t === 'ack' || f.t === 'error') && f.id !== undefined) this.answers.set(f.id, f);
      if (f.t === 'welcome') {
        this.welcomes.push({ at: performance.now(), frame: f, url });
        this.resume = { version: f.state.version, epoch: f.state.epoch };
      } else if (f.t === 'state') this.resume = { version: f.state.version, epoch: f.state.epoch };
    }
    this.seen.set(s, s.frames.length);
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves when `pred` holds (checked on every frame and close), rejects after `ms`. */
  until(pred: () => boolean, ms: number, what: string): Promise<void> {
    return new Promise((resolveUntil, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `${this.deviceId}: timed out after ${ms} ms waiting for ${what} (closes ${JSON.stringify(
                this.closes.map((c) => c.code),
              )}, last frames ${JSON.stringify(this.frames.slice(-3)).slice(0, 400)})`,
            ),
          ),
        ms,
      );
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolveUntil();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /** Sends a request (its id assigned here); resolves with its ack or error. */
  async request(frame: DistributiveOmit<ClientFrame, 'id'>): Promise<ServerFrame> {
    const id = this.nextId++;
    this.socket!.send({ ...frame, id } as ClientFrame);
    await this.until(() => this.answers.has(id), 30_000, `the answer to ${frame.t} #${id}`);
    return this.answers.get(id)!;
  }

  /** Sends without waiting; the id it used. */
  send(frame: DistributiveOmit<ClientFrame, 'id'>): number {
    const id = this.nextId++;
    this.socket!.send({ ...frame, id } as ClientFrame);
    return id;
  }

  close(): void {
    this.stopped = true;
    this.socket?.ws.close();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An HTTP player call on one node with the listener's bearer token: status, state version, body. */
export async function playerCall(node: NodeProcess, token: string, method: string, path: string) {
  const res = await fetch(`${node.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return {
    status: res.status,
    version: Number(res.headers.get('player-state-version')),
    body: text ? (JSON.parse(text) as Record<string, any>) : undefined,
  };
}
