/**
 * The player event stream (SSE) in cluster mode, over three node processes: a stream opened on
 * the node that does not own the listener gets the owner's states (each once, in order),
 * resumes from `Last-Event-ID` out of the owner's ring, takes a ticket issued by the other
 * node once, and goes on (with no reconnect) when the owner dies and a third node takes the
 * session over. Every
 * wait is on an event, with a timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSse, type SseEvent } from '../testkit/sse-stream.ts';
import {
  ClusterDevice,
  playerCall,
  startTestCluster,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';

const USER = 'sse-u1';
const WAIT_MS = 15_000;
let cluster: TestCluster;
let owner: NodeProcess;
let other: NodeProcess;
let third: NodeProcess;
let token: string;
let device: ClusterDevice;

beforeAll(async () => {
  cluster = await startTestCluster('sserelay', { CLUSTER_LEASE_TTL_MS: '2000', SESSION_GRACE_MS: '60000' });
  [owner, other, third] = (await Promise.all(['a', 'b', 'c'].map((id) => cluster.start(id)))) as [
    NodeProcess,
    NodeProcess,
    NodeProcess,
  ];
  token = await cluster.token(USER);
  // The device's hello places the session on `owner`; when it dies the device moves to `third`.
  device = new ClusterDevice(() => [owner.wsUrl, third.wsUrl], token, 'sse-dev');
  await device.connect();
}, 180_000);

afterAll(async () => {
  device?.close();
  await cluster?.stop();
}, 60_000);

const call = (node: NodeProcess, method: string, path: string) => playerCall(node, token, method, path);

/** The event stream of one node, with a Bearer token or a ticket (as EventSource). */
function sse(node: NodeProcess, auth: { token: string } | { ticket: string }, lastEventId?: string) {
  const query = 'ticket' in auth ? `?ticket=${encodeURIComponent(auth.ticket)}` : '';
  return openSse(
    `${node.httpUrl}/v1/me/player/events${query}`,
    {
      ...('token' in auth ? { authorization: `Bearer ${auth.token}` } : {}),
      ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
    },
    WAIT_MS,
  );
}

/** The versions of the states the device saw in `epoch` between `from` and `to`, inclusive. */
const deviceVersions = (from: number, to: number): number[] => [
  ...new Set(
    device.frames.flatMap((f) =>
      f.t === 'state' && f.state.version >= from && f.state.version <= to ? [f.state.version] : [],
    ),
  ),
];

const expectOnceInOrder = (events: SseEvent[]) => {
  // Epochs are milliseconds: compared as a pair (epoch, version), never folded into one number.
  for (let i = 1; i < events.length; i++) {
    const [p, e] = [events[i - 1]!, events[i]!];
    expect(e.epoch > p.epoch || (e.epoch === p.epoch && e.version > p.version), `${p.id} then ${e.id}`).toBe(
      true,
    );
  }
};

describe('cluster sse', () => {
  it('cluster sse - a stream on the other node gets every state of the owner once, in order, and resumes from Last-Event-ID', async () => {
    expect((await device.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    const a = sse(other, { token });
    await a.until(() => a.events.length >= 1, 'the current state from the owner');
    expect(a.status()).toBe(200);
    const first = a.events[0]!;

    // Commands on both nodes: every one is applied by the owner, and streamed back here.
    const r1 = await call(owner, 'PUT', '/v1/me/player/repeat?state=context');
    const r2 = await call(other, 'PUT', '/v1/me/player/shuffle?state=true');
    const r3 = await call(owner, 'PUT', '/v1/me/player/repeat?state=off');
    for (const r of [r1, r2, r3]) expect(r.status).toBe(204);
    await a.until(() => a.events.some((e) => e.version >= r3.version), 'the third command’s state');
    expectOnceInOrder(a.events);
    // Up to the third command's state (a state may follow it, e.g. the next track, on either side).
    const streamed = a.events.map((e) => e.version).filter((v) => v <= r3.version);
    // The same states, and all of them, as the device on the owner saw.
    await device.until(
      () => device.frames.some((f) => f.t === 'state' && f.state.version >= r3.version),
      WAIT_MS,
      'the third state on the device',
    );
    expect(streamed).toEqual(deviceVersions(first.version, r3.version));
    expect(a.events.find((e) => e.version === r1.version)!.data.repeat_state).toBe('context');
    expect(a.events.find((e) => e.version === r2.version)!.data.shuffle_state).toBe(true);
    const last = a.events.at(-1)!;
    await a.close();

    // Missed while away: two states; the resume (on the non-owner) sends exactly those, in order.
    const m1 = await call(owner, 'PUT', '/v1/me/player/shuffle?state=false');
    const m2 = await call(owner, 'PUT', '/v1/me/player/repeat?state=track');
    const b = sse(other, { token }, last.id);
    await b.until(() => b.events.some((e) => e.version === m2.version), 'the missed states');
    expect(b.events.map((e) => e.version).filter((v) => v <= m2.version)).toEqual(
      deviceVersions(last.version + 1, m2.version),
    );
    expect(b.events.map((e) => e.version)).toContain(m1.version);
    expect(b.events.find((e) => e.version === m1.version)!.data.shuffle_state).toBe(false);
    // And it goes on live.
    const m3 = await call(other, 'PUT', '/v1/me/player/repeat?state=off');
    await b.until(() => b.events.some((e) => e.version === m3.version), 'the next state, live');
    expectOnceInOrder(b.events);
    await b.close();
  });

  it('cluster sse - a ticket from one node opens a stream on the other, once', async () => {
    const got = await call(owner, 'POST', '/v1/me/player/events/ticket');
    expect(got.status).toBe(200);
    const ticket = got.body!.ticket as string;
    expect(ticket).not.toContain(USER);
    const a = sse(other, { ticket });
    await a.until(() => a.events.length >= 1, 'the current state over a ticket from the other node');
    expect(a.status()).toBe(200);
    await a.close();
    // Spent on `other`: refused there and on the node that issued it.
    for (const node of [other, owner]) {
      const again = await fetch(`${node.httpUrl}/v1/me/player/events?ticket=${ticket}`);
      expect(again.status).toBe(401);
      expect(((await again.json()) as any).error.reason).toBe('ticket_invalid');
    }
    const forged = await fetch(`${other.httpUrl}/v1/me/player/events?ticket=${ticket.slice(0, -2)}AA`);
    expect(forged.status).toBe(401);
  });

  it('cluster sse - the stream goes on when the owner dies and the session moves to a third node', async () => {
    const a = sse(other, { token });
    await a.until(() => a.events.length >= 1, 'the current state');
    const before = a.events.length;
    owner.signal('SIGKILL');
    await owner.exited;
    // The device reconnects to `third`, which takes the session over; the stream stays on `other`.
    await device.until(
      () => device.welcomes.some((w) => w.url === third.wsUrl),
      30_000,
      'the device on the third node',
    );
    const r = await call(other, 'PUT', '/v1/me/player/shuffle?state=true');
    expect(r.status).toBe(204);
    // The new owner's state, on the stream opened before the owner died: the states missed
    // around the move may come as the current one alone (states are whole).
    await a.until(
      () => a.events.some((e) => e.version >= r.version && e.data.shuffle_state === true),
      'the new owner’s state on the same stream',
    );
    expect(a.events.length).toBeGreaterThan(before);
    // And the new owner's next states come live, each one.
    const r2 = await call(other, 'PUT', '/v1/me/player/repeat?state=context');
    expect(r2.status).toBe(204);
    await a.until(() => a.events.some((e) => e.version === r2.version), 'the next state, live');
    expect(a.events.find((e) => e.version === r2.version)!.data.repeat_state).toBe('context');
    expectOnceInOrder(a.events);
    await a.close();
  });
});
