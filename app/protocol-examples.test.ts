/**
 * protocol/README.md's wire examples, generated from real frames: the real app on a real
 * socket, three real tones ingested through the real ladder (4 s chunks, a short last one),
 * one listener's device walked through hello, play, progress, next, a refused play and an
 * invalid frame. The transcript replaces the block between the `wire-examples` markers with
 * `UPDATE_DOCS=1`; otherwise the block must match it, with the values that differ on every
 * run (hashes, signatures, numbers, ids) masked, so a renamed field, a changed URL form or a
 * new frame in a step fails here. The facts the README states about closes are checked too.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientFrame, PlaybackFrame, PrefetchFrame, ServerFrame } from '../protocol/messages.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { Ingester } from '../origin/ingest/ingest.ts';
import { defaultIngestOptions } from '../origin/ingest/ladder.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { rawSocket, withTimeout, type RawSocket } from '../testkit/raw-socket.ts';
import { checkDocBlock } from '../testkit/doc-block.ts';
import { startApp, type App } from './start-app.ts';
import { parseConfig } from './config.ts';
import { openStores } from './open-stores.ts';

const README = join(import.meta.dirname, '..', 'protocol', 'README.md');
const BLOCK = 'wire-examples';
/** The tones: 10 s each, so 4 s + 4 s + a short 2 s last chunk. */
const TONE_SECONDS = 10;
const RATE = { rate: 50, burst: 100 };

let app: App;
let dir: string;
const toneIds: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'protocol-examples-'));
  const config = parseConfig({
    PORT: '0',
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'silent',
    RATE_LIMIT: `${RATE.rate}/${RATE.burst}`,
    SESSION_GRACE_MS: '60000',
    // Autoplay is on; an answer on a loaded machine may take longer than production's limit,
    // and the transcript must show the same frames every run.
    RADIO_TIMEOUT_MS: '20000',
  });
  // The tones go in before the app starts, so the radio's content index (built at start)
  // knows them and answers their list with the demo's tracks.
  const stores = await openStores(config.stores);
  try {
    const tools = locateTools(process.env);
    const ingester = new Ingester({
      catalog: stores.catalog,
      objects: new ObjectStore(config.layout.objects),
      tools,
      options: { ...defaultIngestOptions(), workers: 1 },
      scratchDir: dir,
    });
    for (const [i, hz] of [220, 330, 440].entries()) {
      const source = join(dir, `tone-${hz}.wav`);
      const made = spawnSync(tools.ffmpeg, [
        ...['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi'],
        ...['-i', `sine=frequency=${hz}:sample_rate=48000:duration=${TONE_SECONDS}`],
        ...['-metadata', `title=Tone ${hz} Hz`, '-metadata', 'artist=Test Tones', '-metadata', 'album=Sines'],
        ...['-metadata', `track=${i + 1}`, source],
      ]);
      expect(made.status, made.stderr.toString()).toBe(0);
      const outcome = await ingester.ingest({ path: source, trackId: `tone-${hz}` });
      if (outcome.status !== 'ingested') throw new Error(`ingest failed: ${JSON.stringify(outcome)}`);
      toneIds.push(outcome.trackId);
    }
  } finally {
    await stores.close();
  }
  app = await startApp(config, { demo: 'fixture', pipeline: false });
  // The content index is rebuilt once with the audio measures: the same index every run.
  await app.radio.settled;
}, 120_000);

afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function device(userId: string, deviceId: string, name: string, type: 'smartphone' | 'computer') {
  const u = app.demo.users.find((x) => x.id === userId)!;
  const token = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
  const s = rawSocket(app.server.wsUrl);
  await withTimeout(s.opened, 'the socket');
  const hello: ClientFrame = {
    t: 'hello',
    id: 1,
    token,
    device: { id: deviceId, name, type },
    protocol: PROTOCOL_VERSION,
  };
  return { s, hello };
}

// ---- the transcript ---------------------------------------------------------------------------

/** Long lists shortened for reading: the first two items and a count. */
function shorten(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => shorten(x));
    return items.length > 3 && key !== 'devices'
      ? [...items.slice(0, 2), `… ${items.length - 2} more`]
      : items;
  }
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, k === 'token' ? `${String(x).slice(0, 12)}…` : shorten(x, k)]),
    );
  return v;
}
const show = (f: unknown) =>
  inspect(shorten(f), { depth: null, breakLength: 120, compact: 6, sorted: false });

/** Within one step, server frames in this order (the wire may interleave them differently). */
const ORDER = ['welcome', 'playback', 'prefetch', 'warning', 'state', 'ack', 'error', 'pong'];

class Transcript {
  readonly lines: string[] = [];
  private seen = 0;
  constructor(private readonly s: RawSocket) {}

  /** Sends `frame`, waits for the frames `until` names, and records the step. */
  async step(
    title: string,
    frame: ClientFrame,
    until: ((f: ServerFrame) => boolean)[],
  ): Promise<ServerFrame[]> {
    this.s.send(frame);
    for (const p of until) await this.s.frame((f) => this.s.frames.indexOf(f) >= this.seen && p(f));
    // A ping flushes what the step sent after its awaited frames; its pong is not shown.
    const flush = 0xfff0 + (this.lines.length % 15);
    this.s.send({ t: 'ping', id: flush });
    await this.s.frame((f) => f.t === 'pong' && f.id === flush && this.s.frames.indexOf(f) >= this.seen);
    const got = this.s.frames.slice(this.seen).filter((f) => !(f.t === 'pong' && f.id === flush));
    this.seen = this.s.frames.length;
    got.sort((a, b) => ORDER.indexOf(a.t) - ORDER.indexOf(b.t));
    this.lines.push(`// ${title}`, `-> ${show(frame)}`, ...got.map((f) => `<- ${show(f)}`), '');
    return got;
  }

  /** Frames that arrive without a request of this device (another device's doing). */
  async pushed(title: string, until: (f: ServerFrame) => boolean): Promise<void> {
    await this.s.frame((f) => this.s.frames.indexOf(f) >= this.seen && until(f));
    const got = this.s.frames.slice(this.seen);
    this.seen = this.s.frames.length;
    this.lines.push(`// ${title}`, ...got.map((f) => `<- ${show(f)}`), '');
  }
}

/** What differs on every run or machine: hashes, signatures, numbers, generated ids. */
function mask(text: string): string {
  return text
    .replace(/[0-9a-f]{64}/g, 'H')
    .replace(/sig=[A-Za-z0-9_-]+/g, 'sig=S')
    .replace(/eyJ[A-Za-z0-9_-]*…/g, 'T')
    .replace(/\b(?=[A-Za-z0-9.:]*\d)[A-Za-z0-9.:]+\b/g, 'N');
}

function currentBlock(): string {
  const text = readFileSync(README, 'utf8');
  const a = text.indexOf(`<!-- generated:${BLOCK}:begin -->`);
  const b = text.indexOf(`<!-- generated:${BLOCK}:end -->`);
  return a >= 0 && b > a ? text.slice(a, b) : '';
}

describe('protocol examples - generated from real frames', () => {
  it('protocol examples - one listening session, as the wire carries it, is what protocol/README.md shows', async () => {
    const { s: phone, hello } = await device('u1', 'phone-1', "Astrid's phone", 'smartphone');
    const t = new Transcript(phone);
    await t.step('hello: the first frame of every connection', hello, [(f) => f.t === 'welcome']);

    const laptop = await device('u1', 'laptop-1', 'Work laptop', 'computer');
    laptop.s.send(laptop.hello);
    await t.pushed(
      'another device of the same listener connects: every device gets the new state',
      (f) => f.t === 'state',
    );

    const [r1, r2, r3] = toneIds.map((id) => `spotify:track:${id}`) as [string, string, string];
    // Two tracks from the list's end the session asks the radio for autoplay tracks; the answer
    // lands asynchronously and makes a second state, which the step waits for, so the frames
    // of every step are the same on every run.
    const versions = new Set<number>();
    const played = await t.step(
      'play a list of tracks: playback and prefetch go to the active device; two tracks from its end the radio is asked for autoplay tracks, and its answer (beyond the two previewed) is a second state',
      { t: 'play', id: 2, uris: [r1, r2, r3] },
      [
        (f) => f.t === 'ack' && f.id === 2,
        (f) => f.t === 'playback',
        (f) => f.t === 'prefetch',
        (f) => f.t === 'state' && versions.add(f.state.version).size >= 2,
      ],
    );
    const pb = played.find((f): f is PlaybackFrame => f.t === 'playback')!;

    const prefetched = played.find((f): f is PrefetchFrame => f.t === 'prefetch')!;
    const skipped = await t.step(
      'next: the prefetched track starts from the URL the prefetch named; once the first autoplay track is loaded, it is previewed and prefetched too',
      { t: 'next', id: 3 },
      [
        (f) => f.t === 'ack' && f.id === 3,
        (f) => f.t === 'playback',
        // The autoplay track loads after the skip: the state that previews it ends the step.
        (f) => f.t === 'state' && f.state.next_tracks.some((n) => n.source === 'autoplay'),
      ],
    );
    const pb2 = skipped.find((f): f is PlaybackFrame => f.t === 'playback')!;
    expect(pb2.first_chunk.url).toBe(prefetched.items[0]!.urls[0]);

    await t.step(
      'progress: position and the measured bandwidth (here too little for the chosen quality)',
      {
        t: 'progress',
        id: 4,
        play_id: pb2.play_id,
        position_ms: 4000,
        buffered_ms: 8000,
        bandwidth_kbps: 40,
      },
      [(f) => (f.t === 'ack' || f.t === 'error') && f.id === 4],
    );
    const blocked = app.demo.blockedInSeUri;
    await t.step(
      `a refused request (${blocked} is blocked in SE): an error, and nothing changes`,
      { t: 'play', id: 5, uris: [blocked] },
      [(f) => f.t === 'error' && f.id === 5],
    );
    await t.step(
      'an invalid frame: the error names the field; the socket stays open',
      { t: 'seek', id: 6 } as unknown as ClientFrame,
      [(f) => f.t === 'error' && f.id === 6],
    );
    await t.step('ping', { t: 'ping', id: 7 }, [(f) => f.t === 'pong' && f.id === 7]);

    // Facts the README states about the playback frame, checked on the real one.
    expect(pb.mime).toMatch(/^audio\/webm/);
    expect(pb.init_url).toEqual(expect.any(String));
    expect(pb.chunks.duration_ms).toBe(4000);
    expect(pb.chunks.count).toBe(Math.ceil(TONE_SECONDS / 4));
    expect(pb.chunks.sizes.at(-1)!).toBeLessThan(pb.chunks.sizes[0]! * 0.75);
    // The object a URL names is the sha256 of its bytes.
    const res = await fetch(new URL(pb.first_chunk.url, app.server.httpUrl));
    const first = new Uint8Array(await res.arrayBuffer());
    const key = /\/o\/([0-9a-f]{64})\?/.exec(pb.first_chunk.url)![1];
    expect(createHash('sha256').update(first).digest('hex')).toBe(key);

    const facts = [
      `// first_chunk: chunk 0 at ${pb.first_chunk.bitrate_kbps} kbps, ${first.byteLength} bytes for ${pb.chunks.duration_ms} ms;` +
        ` chunks at ${pb.bitrate_kbps} kbps: ${pb.chunks.sizes.join(', ')} bytes (the last one is short: ${TONE_SECONDS} s = 4 + 4 + 2 s)`,
    ];
    const content = ['```text', ...t.lines, ...facts, '```'].join('\n');

    phone.ws.close();
    laptop.s.ws.close();

    if (process.env.UPDATE_DOCS === '1') {
      expect(await checkDocBlock(README, BLOCK, content)).toBeUndefined();
      return;
    }
    // Compared masked: a rerun differs in hashes, signatures, times and ids, not in shape.
    const before = currentBlock();
    expect(before, `protocol/README.md has no ${BLOCK} block; rerun with UPDATE_DOCS=1`).not.toBe('');
    const expected = mask(
      before
        .split('\n')
        .filter((l) => /^(->|<-|\/\/|\s)/.test(l))
        .join('\n'),
    );
    const actual = mask(
      content
        .split('\n')
        .filter((l) => /^(->|<-|\/\/|\s)/.test(l))
        .join('\n'),
    );
    expect(actual, 'protocol/README.md wire examples are stale: rerun this test with UPDATE_DOCS=1').toBe(
      expected,
    );
  }, 30_000);

  it('protocol examples - an oversized frame closes with 4002 and no error frame before it', async () => {
    const { s, hello } = await device('u2', 'big-1', 'Big', 'computer');
    s.send(hello);
    await s.frame((f) => f.t === 'welcome');
    const before = s.frames.length;
    s.ws.send(new Uint8Array(16 * 1024 + 1));
    const closed = await withTimeout(s.closed, 'the close');
    expect(closed.code).toBe(4002);
    expect(s.frames.slice(before).filter((f) => f.t === 'error')).toEqual([]);
  });

  it('protocol examples - bad frames get errors and never close; a flood past the burst closes with 4005', async () => {
    const { s, hello } = await device('u2', 'bad-1', 'Bad', 'computer');
    s.send(hello);
    await s.frame((f) => f.t === 'welcome');
    for (let i = 0; i < 5; i++) s.ws.send(new Uint8Array([0xc1, i]));
    s.send({ t: 'ping', id: 9 });
    await s.frame((f) => f.t === 'pong' && f.id === 9);
    expect(s.frames.filter((f) => f.t === 'error' && f.code === 'bad_request')).toHaveLength(5);

    // The bucket holds `burst` frames; past it every frame is refused with rate_limited. Each
    // refusal is a debt that an accepted frame (a token refilled mid-flood) pays back by one;
    // the refusal that makes the debt exceed `burst` closes the socket without an answer.
    const flood = RATE.burst * 3;
    for (let i = 0; i < flood; i++) s.send({ t: 'ping', id: 1000 + i });
    const closed = await withTimeout(s.closed, 'the flood close');
    expect(closed.code).toBe(4005);
    const idOf = (f: object) => ('id' in f && typeof f.id === 'number' ? f.id : -1);
    const inFlood = s.frames.filter((f) => idOf(f) >= 1000);
    const firstRefusal = inFlood.findIndex((f) => f.t === 'error' && f.code === 'rate_limited');
    const after = inFlood.slice(firstRefusal);
    const refused = after.filter((f) => f.t === 'error' && f.code === 'rate_limited').length;
    const paidBack = after.filter((f) => f.t === 'pong').length;
    // Unpaid debt at the cut: exactly `burst` answered refusals (more only if the debt was
    // ever paid down to zero mid-flood, which needs a pause of a second or more).
    expect(refused - paidBack).toBeGreaterThanOrEqual(RATE.burst);
    expect(inFlood.length).toBeLessThan(flood);
  });
});
