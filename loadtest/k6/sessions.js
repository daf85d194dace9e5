/**
 * k6 load test of the playback session server over binary WebSockets (MessagePack frames,
 * protocol/README.md). Bundled by build.ts (esbuild: this file + wire.ts + @msgpack/msgpack
 * + a UTF-8 polyfill) into dist/sessions.js; run through run.ts, which starts the server and
 * mints the tokens (`npx tsx loadtest/k6/run.ts`).
 *
 * Each iteration is one device session of one listener (one user per VU):
 *   hello -> welcome; play the demo playlist -> ack + playback + prefetch (the "play"
 *   latency); GET the prefetched first chunk of the next track from the origin; progress
 *   reports (ack round trips); next -> the playback of the prefetched track, whose first
 *   chunk URL must be the one the prefetch named (the "skip" latency); progress; close.
 *
 * Env: WS_URL (loopback only), HTTP_URL (default: beside WS_URL), TOKENS_FILE (JSON array of
 * tokens, one per user; k6 could sign HS256 with k6/crypto's hmac, but minting in Node uses
 * the server's own code and keeps the secret out of the script), PLAYLIST, VUS (<= 200),
 * DURATION (<= 60s), PROGRESS (progress reports per play).
 */
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import encoding from 'k6/encoding';
import exec from 'k6/execution';
import http from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';
import { WebSocket } from 'k6/websockets';
import { decodeFrame, encodeFrame, PROTOCOL_VERSION, useUtf8Decoder } from './wire.ts';

// k6 has no TextDecoder, but k6/encoding runs in Go: base64 out and back in as a string ('s')
// decodes UTF-8 natively, ~3 us for a 150-byte URL against ~1 ms in interpreted JS.
useUtf8Decoder((bytes) =>
  bytes.byteLength === 0 ? '' : encoding.b64decode(encoding.b64encode(bytes.slice().buffer), 'std', 's'),
);

// Cluster mode: WS_URLS lists the nodes (comma-separated); each VU's listener has an anchor
// device on node (vu mod n), which says hello first and so makes that node the owner, and its
// session device on the next node in turn each iteration: two of three iterations relayed.
const WS_URLS = (__ENV.WS_URLS || __ENV.WS_URL || 'ws://127.0.0.1:8080/v1/ws').split(',');
const CLUSTER = WS_URLS.length > 1;
const WS_URL = WS_URLS[0];
// Loopback only: a load test pointed elsewhere by mistake is an attack on someone's server.
const LOOPBACK = /^wss?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\//;
for (const url of WS_URLS)
  if (!LOOPBACK.test(url))
    throw new Error(`WS_URL(S) must be loopback URLs (ws://127.0.0.1:<port>/...), got ${url}`);
const HTTP_URL = __ENV.HTTP_URL || WS_URL.replace(/^ws/, 'http').replace(/\/v1\/ws$/, '');
if (!LOOPBACK.test(`${HTTP_URL.replace(/^http/, 'ws')}/`))
  throw new Error(`HTTP_URL must be a loopback URL, got ${HTTP_URL}`);
const PLAYLIST = __ENV.PLAYLIST || 'spotify:playlist:demo-mix';
const VUS = Math.min(200, Math.max(1, Number(__ENV.VUS || 50)));
const DURATION_S = Math.min(60, Math.max(1, parseInt(__ENV.DURATION || '20', 10)));
const PROGRESS = Math.min(10, Math.max(0, Number(__ENV.PROGRESS || 3)));
const FRAME_TIMEOUT_MS = 5000;

if (!__ENV.TOKENS_FILE)
  throw new Error('TOKENS_FILE is required (run through loadtest/k6/run.ts, which mints tokens)');
const tokens = new SharedArray('tokens', () => JSON.parse(open(__ENV.TOKENS_FILE)));

export const options = {
  scenarios: {
    sessions: { executor: 'constant-vus', vus: VUS, duration: `${DURATION_S}s`, gracefulStop: '5s' },
  },
  thresholds: {
    checks: ['rate>0.99'],
    session_ok: ['rate>0.99'],
    // Stall detectors, not performance targets: k6 and the server share a small machine, so
    // end-to-end latency holds k6's own scheduling (run.ts prints the server-side figure and
    // k6's CPU beside it); `npm run bench -- session` measures the server's speed.
    play_latency: ['p(95)<2000'],
    skip_latency: ['p(95)<2000'],
    // Split so the summary shows them apart: a VU's first play creates its listener's session
    // (snapshot read, context resolve, track loads); later plays find it warm.
    'play_latency{cold:yes}': ['p(95)<5000'],
    'play_latency{cold:no}': ['p(95)<2000'],
    // Cluster mode: listed so the summary holds the relayed and local trends apart.
    ...(CLUSTER
      ? {
          'ack_rtt{relayed:yes}': ['p(95)<5000'],
          'ack_rtt{relayed:no}': ['p(95)<5000'],
          'play_latency{relayed:yes}': ['p(95)<5000'],
          'play_latency{relayed:no}': ['p(95)<5000'],
        }
      : {}),
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

const playLatency = new Trend('play_latency', true);
const skipLatency = new Trend('skip_latency', true);
const ackRtt = new Trend('ack_rtt', true);
const helloLatency = new Trend('hello_latency', true);
const sessionOk = new Rate('session_ok');
const errorFrames = new Counter('error_frames');
const badFrames = new Counter('undecodable_frames');
const chunkBytes = new Counter('chunk_bytes');
const commandsRelayed = new Counter('commands_relayed');
const commandsLocal = new Counter('commands_local');

/** Cluster mode: the anchor device's hello, which places the listener on its node. */
function anchorThen(vu, token, session) {
  const ws = new WebSocket(WS_URLS[vu % WS_URLS.length]);
  ws.binaryType = 'arraybuffer';
  let done = false;
  const timer = setTimeout(() => {
    if (done) return;
    done = true;
    sessionOk.add(false);
    if (exec.vu.iterationInScenario < 3) console.warn(`vu ${vu}: anchor: no welcome in time`);
    ws.close();
  }, FRAME_TIMEOUT_MS);
  ws.onmessage = (e) => {
    const d = decodeFrame(e.data);
    if (done || !d.ok) return;
    if (d.frame.t === 'error') {
      done = true;
      clearTimeout(timer);
      sessionOk.add(false);
      if (exec.vu.iterationInScenario < 3)
        console.warn(`vu ${vu}: anchor hello refused: ${d.frame.code}/${d.frame.reason || '-'}`);
      ws.close();
      return;
    }
    if (d.frame.t !== 'welcome') return;
    done = true;
    clearTimeout(timer);
    session(() => ws.close(1000, 'done'));
  };
  ws.onopen = () =>
    ws.send(
      encodeFrame({
        t: 'hello',
        id: 1,
        token,
        device: { id: `k6-${vu}-anchor`, name: `k6 VU ${vu} anchor`, type: 'speaker' },
        protocol: PROTOCOL_VERSION,
      }),
    );
}

/** One session: resolves when the socket is closed; failures are counted, never thrown out. */
export default function () {
  const vu = exec.vu.idInTest;
  const token = tokens[(vu - 1) % tokens.length];
  if (!CLUSTER) return session(vu, token, WS_URL, {}, () => undefined);
  // The session device's node: the anchor's (the owner) one iteration in three.
  const shift = exec.vu.iterationInScenario % WS_URLS.length;
  const relayed = shift === 0 ? 'no' : 'yes';
  anchorThen(vu, token, (closeAnchor) =>
    session(vu, token, WS_URLS[(vu + shift) % WS_URLS.length], { relayed }, closeAnchor),
  );
}

/** One device session on `url`; `tags` go on every latency; `after` runs once it is closed. */
function session(vu, token, url, tags, after) {
  const counted = tags.relayed === 'yes' ? commandsRelayed : tags.relayed === 'no' ? commandsLocal : null;
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';

  /** Every decoded frame of this connection, and who waits for which. */
  const seen = [];
  let waiters = [];
  // Random start: the session acks a repeated `device:id` as a retry without applying it.
  let nextId = 1 + Math.floor(Math.random() * 0x7fffffff);
  let closed = false;
  let phase = 'connect';

  ws.onmessage = (e) => {
    const d = decodeFrame(e.data);
    if (!d.ok) {
      badFrames.add(1);
      return;
    }
    if (d.frame.t === 'error') errorFrames.add(1, { code: d.frame.code, reason: d.frame.reason || '' });
    seen.push(d.frame);
    waiters = waiters.filter((w) => !w.try(d.frame));
  };
  ws.onclose = () => {
    closed = true;
    after();
    for (const w of waiters) w.fail(new Error(`socket closed while waiting in phase ${phase}`));
    waiters = [];
  };
  ws.onerror = (e) => {
    if (!closed) console.warn(`vu ${vu}: websocket error in phase ${phase}: ${e.error}`);
  };

  /** The first frame from index `from` on that satisfies `pred`, or a rejection after the timeout. */
  const waitFor = (pred, from = 0) =>
    new Promise((resolve, reject) => {
      for (let i = from; i < seen.length; i++) if (pred(seen[i])) return resolve(seen[i]);
      if (closed) return reject(new Error(`socket closed in phase ${phase}`));
      const w = {
        try: (f) => pred(f) && (clearTimeout(timer), resolve(f), true),
        fail: (err) => (clearTimeout(timer), reject(err)),
      };
      const timer = setTimeout(() => {
        waiters = waiters.filter((x) => x !== w);
        reject(new Error(`no answer within ${FRAME_TIMEOUT_MS} ms in phase ${phase}`));
      }, FRAME_TIMEOUT_MS);
      waiters.push(w);
    });

  /** Sends a request; resolves with its ack (rejects with the error frame's code/reason). */
  const request = (frame) => {
    const id = nextId++;
    const from = seen.length;
    if (counted && frame.t !== 'hello') counted.add(1);
    ws.send(encodeFrame({ ...frame, id }));
    return waitFor((f) => (f.t === 'ack' || f.t === 'error' || f.t === 'welcome') && f.id === id, from).then(
      (f) => {
        if (f.t === 'error')
          throw new Error(`${frame.t} refused: ${f.code}/${f.reason || '-'}: ${f.message}`);
        return f;
      },
    );
  };

  ws.onopen = () => {
    run()
      .then(
        () => sessionOk.add(true),
        (err) => {
          sessionOk.add(false);
          // A few lines per VU tell what broke without flooding the output.
          if (exec.vu.iterationInScenario < 3) console.warn(`vu ${vu}: session failed: ${err.message}`);
        },
      )
      .finally(() => ws.close(1000, 'done'));
  };

  async function run() {
    phase = 'hello';
    let t = Date.now();
    const welcome = await request({
      t: 'hello',
      token,
      device: { id: `k6-${vu}`, name: `k6 VU ${vu}`, type: 'web' },
      protocol: PROTOCOL_VERSION,
    });
    helloLatency.add(Date.now() - t);
    check(welcome, {
      'hello: welcome with a state': (f) => f.t === 'welcome' && typeof f.state.version === 'number',
    });

    phase = 'play';
    t = Date.now();
    let from = seen.length;
    const acked = request({ t: 'play', context: PLAYLIST });
    // A device that comes back as the active one is first handed the play it left (a
    // playback + prefetch right after the welcome): wait for the new play's playback.
    const handedBack = welcome.t === 'welcome' ? welcome.state.play_id : null;
    const pb = await waitFor((f) => f.t === 'playback' && f.play_id !== handedBack, from);
    const pf = await waitFor((f) => f.t === 'prefetch' && f.after_play_id === pb.play_id, from);
    await acked;
    playLatency.add(Date.now() - t, { cold: exec.vu.iterationInScenario === 0 ? 'yes' : 'no', ...tags });
    check(pb, {
      'play: playback has one signed url per chunk': (p) =>
        p.urls.length === p.chunks.count && p.chunks.count > 0,
      'play: first chunk url is signed and content-addressed': (p) =>
        /^https?:\/\/[^/]+(\/[^?]*)?\/o\/[0-9a-f]{64}\?/.test(p.first_chunk.url),
    });
    check(pf, { 'play: prefetch names 1-2 next tracks': (f) => f.items.length >= 1 && f.items.length <= 2 });

    phase = 'chunk';
    const next = pf.items[0];
    // Signed URLs are absolute (on the server's origin base).
    const res = await http.asyncRequest('GET', next.urls[0], null, {
      responseType: 'binary',
      tags: { name: 'GET /o/<prefetched first chunk>' },
    });
    const size = res.body ? res.body.byteLength : 0;
    chunkBytes.add(size);
    check(res, {
      'chunk: prefetched first chunk served (200, non-empty)': (r) => r.status === 200 && size > 0,
    });

    phase = 'progress';
    await progress(pb.play_id, PROGRESS);

    phase = 'next';
    t = Date.now();
    from = seen.length;
    const skipped = request({ t: 'next' });
    const pb2 = await waitFor((f) => f.t === 'playback' && f.play_id !== pb.play_id, from);
    await skipped;
    skipLatency.add(Date.now() - t, tags);
    check(pb2, {
      'next: plays the prefetched track': (p) => p.track.id === next.track_id,
      'next: first chunk is the prefetched url': (p) => p.first_chunk.url === next.urls[0],
    });

    phase = 'progress-2';
    await progress(pb2.play_id, 1);
  }

  async function progress(playId, count) {
    for (let i = 1; i <= count; i++) {
      const t = Date.now();
      await request({
        t: 'progress',
        play_id: playId,
        position_ms: i * 1000,
        buffered_ms: 6000,
        bandwidth_kbps: 8000,
      });
      ackRtt.add(Date.now() - t, tags);
    }
  }
}
