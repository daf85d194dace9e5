/**
 * The scrobbler against a local HTTP server that records what it receives (the ListenBrainz
 * submit-listens call), fed by the embedded event log: listens by the rule, playing_now on a
 * start, at most 1 000 listens a request, retries with backoff, a 401 unlinking one listener
 * without holding up the others, and exactly once per play across redeliveries and crashes
 * between the call and the ack. No sleeps: waits are for recorded requests, with a deadline.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ListeningEvent, TrackRow } from '../actors/types.ts';
import { EmbeddedEventLog } from '../storage/event-log.embedded.ts';
import type { Delivery } from '../storage/event-source.ts';
import { openEmbeddedEnv, type EmbeddedEnv } from '../storage/lmdb-env.ts';
import { createLmdbScrobbles } from '../storage/scrobbles.lmdb.ts';
import type { ScrobbleStore } from '../storage/scrobbles.ts';
import { makeEvent, removeTempDirs, silentLogger, tempDir, waitFor } from '../testkit/pipeline.ts';
import { isListen } from './scrobble-rule.ts';
import { SCROBBLE_CONSUMER, scrobbleHandler, type ScrobblerDeps } from './scrobbler.ts';

interface Received {
  token: string;
  listen_type: string;
  payload: {
    listened_at?: number;
    track_metadata: { track_name: string; additional_info: { play_id: string } };
  }[];
}

let server: Server;
let endpoint = '';
const received: Received[] = [];
/** Per token: statuses to answer before 200 (e.g. [503, 503]); 'bad' always gets 401. */
const failFirst = new Map<string, number[]>();
let env: EmbeddedEnv;
let store: ScrobbleStore;

const TRACKS: Record<string, TrackRow> = {
  t60: {
    id: 't60',
    title: 'Minute',
    artistId: 'a1',
    artistName: 'Art',
    albumId: 'al',
    albumName: 'Alb',
    durationMs: 60_000,
  },
  t20: {
    id: 't20',
    title: 'Short',
    artistId: 'a1',
    artistName: 'Art',
    albumId: 'al',
    albumName: 'Alb',
    durationMs: 20_000,
  },
  t600: {
    id: 't600',
    title: 'Long',
    artistId: 'a1',
    artistName: 'Art',
    albumId: 'al',
    albumName: 'Alb',
    durationMs: 600_000,
  },
};

const deps = (over: Partial<ScrobblerDeps> = {}): ScrobblerDeps => ({
  store,
  getTracks: async (ids) => new Map(ids.flatMap((id) => (TRACKS[id] ? [[id, TRACKS[id]!] as const] : []))),
  log: silentLogger,
  retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
  ...over,
});

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const token = (req.headers.authorization ?? '').replace(/^Token /, '');
      if (req.url !== '/1/submit-listens' || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (token === 'bad') {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"code":401,"error":"Invalid authorization token."}');
        return;
      }
      const queued = failFirst.get(token);
      const status = queued?.shift();
      if (status !== undefined) {
        res.writeHead(status, status === 429 ? { 'x-ratelimit-reset-in': '0' } : {}).end('busy');
        return;
      }
      received.push({ token, ...(JSON.parse(body) as Omit<Received, 'token'>) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  env = await openEmbeddedEnv(tempDir('scrobbles-store'));
  store = createLmdbScrobbles(env);
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await env?.close();
  removeTempDirs();
});

const link = (userId: string, token: string) =>
  store.putLink({ userId, endpoint, token, linkedAt: Date.now() });
const listensOf = (token: string) =>
  received
    .filter((r) => r.token === token && r.listen_type !== 'playing_now')
    .flatMap((r) => r.payload.map((p) => `${p.track_metadata.additional_info.play_id}@${p.listened_at}`));
/** As ListenBrainz keeps them: one per (listened_at, track). */
const distinct = (xs: string[]) => [...new Set(xs)];
const deliveries = (events: ListeningEvent[]): Delivery[] =>
  events.map((event, i) => ({ event, seq: i + 1, deliveryCount: 1 }));

/** A finished play: its start (at `ts`) and end (`msPlayed` later). */
function play(
  user: string,
  track: string,
  msPlayed: number,
  id: string,
  ts = Date.now() - 600_000,
): ListeningEvent[] {
  return [
    makeEvent({ type: 'play.start', play_id: id, user, track, ts, ms_played: 0 }),
    makeEvent({
      type: 'play.end',
      play_id: id,
      user,
      track,
      ts: ts + msPlayed,
      ms_played: msPlayed,
      reason: 'trackdone',
    }),
  ];
}

describe('scrobbler - the rule', () => {
  it('scrobbler - a listen needs a track of 30 s or more, played half its length or 4 minutes', () => {
    expect(isListen(29_999, 29_999)).toBe(false);
    expect(isListen(60_000, 30_000)).toBe(true);
    expect(isListen(60_000, 29_999)).toBe(false);
    expect(isListen(600_000, 240_000)).toBe(true);
    expect(isListen(600_000, 239_999)).toBe(false);
  });
});

describe('scrobbler - submissions', () => {
  it('scrobbler - listens by the rule, playing_now for a start, nothing for the unlinked', async () => {
    await link('s1', 'tok-s1');
    const now = Date.now();
    const events = [
      ...play('s1', 't60', 40_000, 's1-a'),
      ...play('s1', 't60', 10_000, 's1-b'),
      ...play('s1', 't20', 20_000, 's1-c'),
      ...play('s1', 't600', 240_000, 's1-d'),
      makeEvent({
        type: 'play.start',
        play_id: 's1-e',
        user: 's1',
        track: 't60',
        ts: now - 1000,
        ms_played: 0,
      }),
      ...play('nolink', 't60', 60_000, 'n-a'),
    ];
    await scrobbleHandler(deps())(deliveries(events));
    const start = (id: string) => events.find((e) => e.play_id === id && e.type === 'play.start')!.ts;
    expect(listensOf('tok-s1').sort()).toEqual(
      [`s1-a@${Math.floor(start('s1-a') / 1000)}`, `s1-d@${Math.floor(start('s1-d') / 1000)}`].sort(),
    );
    const now_ = received.filter((r) => r.token === 'tok-s1' && r.listen_type === 'playing_now');
    expect(now_).toHaveLength(1);
    expect(now_[0]!.payload[0]!.listened_at).toBeUndefined();
    expect(now_[0]!.payload[0]!.track_metadata.additional_info.play_id).toBe('s1-e');
    expect(
      received.some((r) => r.payload.some((p) => p.track_metadata.additional_info.play_id === 'n-a')),
    ).toBe(false);
  });

  it('scrobbler - at most 1 000 listens a request', async () => {
    await link('bulk', 'tok-bulk');
    const events = Array.from({ length: 2500 }, (_, i) =>
      makeEvent({
        type: 'play.end',
        play_id: `bulk-${i}`,
        user: 'bulk',
        track: 't60',
        ts: 1_700_000_000_000 + i * 60_000,
        ms_played: 60_000,
      }),
    );
    await scrobbleHandler(deps())(deliveries(events));
    const calls = received.filter((r) => r.token === 'tok-bulk');
    expect(calls.map((c) => c.payload.length)).toEqual([1000, 1000, 500]);
    expect(calls.every((c) => c.listen_type === 'import')).toBe(true);
    expect(distinct(listensOf('tok-bulk'))).toHaveLength(2500);
  });

  it('scrobbler - transient failures are retried with backoff, and the listen goes once', async () => {
    await link('flaky', 'tok-flaky');
    failFirst.set('tok-flaky', [503, 429, 502]);
    const slept: number[] = [];
    await scrobbleHandler(deps({ sleep: async (ms) => void slept.push(ms) }))(
      deliveries(play('flaky', 't60', 50_000, 'fl-a')),
    );
    expect(listensOf('tok-flaky')).toHaveLength(1);
    expect(slept).toEqual([5, 10, 20]);
    // Still failing after the attempts: the batch fails (and is redelivered); nothing recorded.
    failFirst.set('tok-flaky', [503, 503, 503, 503]);
    await expect(
      scrobbleHandler(deps({ sleep: async () => {} }))(deliveries(play('flaky', 't60', 50_000, 'fl-b'))),
    ).rejects.toThrow(/unavailable/);
    expect(await store.submittedPlays(['fl-b'])).toEqual(new Set());
  });

  it('scrobbler - a 401 unlinks that listener with the reason and never holds up the others', async () => {
    await link('revoked', 'bad');
    await link('fine', 'tok-fine');
    await scrobbleHandler(deps())(
      deliveries([...play('revoked', 't60', 60_000, 'rv-a'), ...play('fine', 't60', 60_000, 'fi-a')]),
    );
    expect(listensOf('tok-fine')).toHaveLength(1);
    const l = await store.getLink('revoked');
    expect(l).toMatchObject({ active: false, token: '' });
    expect(l?.unlinkedReason).toMatch(/401/);
    // Unlinked: its next plays are not sent at all.
    const before = received.length;
    await scrobbleHandler(deps())(deliveries(play('revoked', 't60', 60_000, 'rv-b')));
    expect(received.length).toBe(before);
  });
});

describe('scrobbler - exactly once on the event log', () => {
  it('scrobbler - redeliveries and a crash after the call (recorded, not acked) send each listen once', async () => {
    await link('crash', 'tok-crash');
    const dir = tempDir('scrobble-log');
    const spec = { ...SCROBBLE_CONSUMER, ackWaitMs: 300, retryDelayMs: 50, maxBatch: 4 };
    const events = [
      ...play('crash', 't60', 60_000, 'cr-a'),
      ...play('crash', 't60', 60_000, 'cr-b'),
      ...play('crash', 't60', 60_000, 'cr-c'),
    ];
    const log1 = new EmbeddedEventLog({ dir });
    for (const e of events) await log1.publish(e);
    let crashed!: () => void;
    const died = new Promise<void>((r) => (crashed = r));
    const sub1 = await log1.subscribe(
      spec,
      scrobbleHandler(
        deps({
          afterRecorded: async () => {
            crashed();
            await new Promise(() => undefined);
          },
        }),
      ),
    );
    await died;
    await sub1.abort();
    await log1.close();
    expect(listensOf('tok-crash').length).toBeGreaterThan(0);

    const log2 = new EmbeddedEventLog({ dir });
    const sub2 = await log2.subscribe(spec, scrobbleHandler(deps()));
    await waitFor('every listen', () => distinct(listensOf('tok-crash')).length === 3);
    await sub2.stop();
    await log2.close();
    // Each play exactly once on the wire: the redelivered batch found it recorded.
    expect(listensOf('tok-crash').sort()).toEqual(distinct(listensOf('tok-crash')).sort());
  });

  it('scrobbler - a crash between the call and its record sends that listen again, same listened_at (kept once)', async () => {
    await link('crash2', 'tok-crash2');
    const dir = tempDir('scrobble-log2');
    const spec = { ...SCROBBLE_CONSUMER, ackWaitMs: 300, retryDelayMs: 50 };
    const events = play('crash2', 't60', 60_000, 'c2-a');
    const log1 = new EmbeddedEventLog({ dir });
    for (const e of events) await log1.publish(e);
    let crashed!: () => void;
    const died = new Promise<void>((r) => (crashed = r));
    const sub1 = await log1.subscribe(
      spec,
      scrobbleHandler(
        deps({
          afterSubmit: async () => {
            crashed();
            await new Promise(() => undefined);
          },
        }),
      ),
    );
    await died;
    await sub1.abort();
    await log1.close();
    const log2 = new EmbeddedEventLog({ dir });
    const sub2 = await log2.subscribe(spec, scrobbleHandler(deps()));
    await waitFor('the resubmission', () => listensOf('tok-crash2').length === 2);
    await waitFor('recorded', async () => (await store.submittedPlays(['c2-a'])).has('c2-a'));
    await sub2.stop();
    await log2.close();
    expect(distinct(listensOf('tok-crash2'))).toHaveLength(1);
  });
});
