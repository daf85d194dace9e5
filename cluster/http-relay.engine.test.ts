/**
 * HTTP player commands in cluster mode, over two node processes: a request on the node that
 * does not run the listener's session is answered by the owner, after the owner applied it,
 * with the status codes and bodies the owner itself gives. Every wait is on an event, with a
 * timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterDevice,
  playerCall,
  startTestCluster,
  type NodeProcess,
  type TestCluster,
} from '../testkit/cluster-nodes.ts';

const USER = 'http-u1';
let cluster: TestCluster;
let owner: NodeProcess;
let other: NodeProcess;
let token: string;
let device: ClusterDevice;

beforeAll(async () => {
  cluster = await startTestCluster('httprelay', { CLUSTER_LEASE_TTL_MS: '2000', SESSION_GRACE_MS: '60000' });
  [owner, other] = (await Promise.all(['a', 'b'].map((id) => cluster.start(id)))) as [
    NodeProcess,
    NodeProcess,
  ];
  token = await cluster.token(USER);
  // The device's hello places the session on the node it lands on: `owner`.
  device = new ClusterDevice(() => [owner.wsUrl], token, 'h-dev');
  await device.connect();
}, 180_000);

afterAll(async () => {
  device?.close();
  await cluster?.stop();
}, 60_000);

const call = (node: NodeProcess, method: string, path: string) => playerCall(node, token, method, path);

const sawState = (pred: (s: Extract<ClusterDevice['frames'][number], { t: 'state' }>['state']) => boolean) =>
  device.frames.some((f) => f.t === 'state' && pred(f.state));

describe('cluster http', () => {
  it('cluster http - a command on the other node is applied by the owner before its 204', async () => {
    expect((await device.request({ t: 'play', context: 'spotify:playlist:demo-mix' })).t).toBe('ack');
    const shuffle = await call(other, 'PUT', '/v1/me/player/shuffle?state=true');
    expect(shuffle.status).toBe(204);
    // Answered after the owner applied it: the owner's own state has it at once.
    const onOwner = await call(owner, 'GET', '/v1/me/player');
    expect(onOwner.status).toBe(200);
    expect(onOwner.body?.shuffle_state).toBe(true);
    expect(onOwner.version).toBeGreaterThanOrEqual(shuffle.version);
    await device.until(() => sawState((s) => s.shuffle), 10_000, 'the shuffle state on the device');

    expect((await call(other, 'PUT', '/v1/me/player/repeat?state=context')).status).toBe(204);
    expect((await call(other, 'POST', '/v1/me/player/queue?uri=spotify:track:demo02')).status).toBe(204);
    await device.until(
      () =>
        sawState(
          (s) =>
            s.repeat === 'context' &&
            s.next_tracks.some((u) => u.source === 'queue' && u.track.id === 'demo02'),
        ),
      10_000,
      'repeat and the queued track on the device',
    );
    // Reads go to the owner too.
    const onOther = await call(other, 'GET', '/v1/me/player');
    expect(onOther.status).toBe(200);
    expect(onOther.body?.repeat_state).toBe('context');
  });

  it('cluster http - errors are the owner’s, with the same status and body on both nodes', async () => {
    expect((await call(other, 'PUT', '/v1/me/player/pause')).status).toBe(204);
    await device.until(() => sawState((s) => !s.is_playing), 10_000, 'the pause on the device');
    for (const [method, path, status] of [
      ['PUT', '/v1/me/player/pause', 403], // already paused
      ['PUT', '/v1/me/player/shuffle?state=true&device_id=no-such-device', 404],
      ['PUT', '/v1/me/player/volume?volume_percent=150', 400],
      ['PUT', '/v1/me/player/repeat?state=sometimes', 400],
    ] as const) {
      const [there, here] = [await call(other, method, path), await call(owner, method, path)];
      expect(there.status, `${method} ${path}`).toBe(status);
      expect(there.body, `${method} ${path}`).toEqual(here.body);
    }
  });
});
