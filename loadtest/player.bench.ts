/**
 * `npm run bench -- player [trials]`: what a listener waits for, measured in Debian's
 * Chromium on the audio the page puts out (player/output-probe.ts: the first loud sample
 * after silence, or the level step of the next level-coded tone), under three networks
 * (CDP throttling: unthrottled, Fast 4G, Fast 3G):
 *
 * - tap-to-first-audio: the play click (in the page) to the first non-silent sample, with
 *   nothing cached (the SDK's cache cleared, the HTTP cache off);
 * - skip-to-audio: the next-track click to the next track's level, after its prefetch;
 * - seek-to-audio: a seek 16 s ahead (out of the buffer) to the level of the new part;
 * - the gap between two gapless tracks (a tone across the boundary): the silence heard
 *   between them, unthrottled only (the network plays no part once both are buffered).
 *
 * Baseline in the same run: a naive player, an `<audio src>` progressive download of each
 * whole track at the same bitrate (the listener's 160 kbps), nothing prefetched; its skip
 * loads the next whole file. Writes bench-results/player.json; takes the README screenshot
 * (player/screenshots/player.png) from the same browser run.
 */
import { createServer, type Server } from 'node:http';
import { mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import {
  launchChromium,
  openPlayer,
  startPlayerApp,
  tone,
  type NetworkName,
  type PlayerApp,
} from '../testkit/web-player.ts';
import { percentile, printTable, writeResults } from './report.ts';

const NAIVE_KBPS = 160;
const SEEK_TO_MS = 16_000;
const NETWORKS: NetworkName[] = ['unthrottled', '4g', '3g'];
const TIMEOUT_MS = 20_000;

const here = dirname(fileURLToPath(import.meta.url));

/** Runs `read` on window.__player in the page; `arg` goes in as JSON. */
function inPage<T>(page: Page, read: string, arg?: unknown): Promise<T> {
  return page.evaluate(`(${read})(window.__player, ${JSON.stringify(arg ?? null)})`) as Promise<T>;
}

function until(page: Page, cond: string, arg?: unknown): Promise<unknown> {
  return page.waitForFunction(`(${cond})(window.__player, ${JSON.stringify(arg ?? null)})`, undefined, {
    timeout: TIMEOUT_MS,
    polling: 10,
  });
}

/** Clicks in the page and returns performance.now() of the click. */
function clickAt(page: Page, selector: string): Promise<number> {
  return page.evaluate(
    `(() => { const t = performance.now(); document.querySelector(${JSON.stringify(selector)}).click(); return t; })()`,
  ) as Promise<number>;
}

/** Serves each tone as one whole WebM file (init + every chunk) at NAIVE_KBPS, no caching. */
async function naiveServer(pa: PlayerApp): Promise<{ server: Server; url: (key: string) => string }> {
  const objects = pa.objects;
  const files = new Map<string, Buffer>();
  for (const [key, id] of Object.entries(pa.tracks)) {
    const file = (await pa.app.stores.catalog.getAudioFiles(id)).find((f) => f.bitrateKbps === NAIVE_KBPS)!;
    const parts = await Promise.all(
      [file.init.key, ...file.chunks.map((c) => c.key)].map((k) => objects.read(k)),
    );
    files.set(key, Buffer.concat(parts));
  }
  const server = createServer((req, res) => {
    const key = new URL(req.url ?? '/', 'http://x').pathname.slice(1).replace(/\.webm$/, '');
    const body = files.get(key);
    if (!body) return res.writeHead(404).end();
    res.writeHead(200, {
      'content-type': 'audio/webm',
      'content-length': body.length,
      'cache-control': 'no-store',
      'access-control-allow-origin': '*',
    });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  let n = 0;
  return { server, url: (key) => `http://127.0.0.1:${port}/${key}.webm?n=${n++}` };
}

interface Trials {
  ttfa: number[];
  skip: number[];
  seek: number[];
  naiveTtfa: number[];
  naiveSkip: number[];
}

async function silence(page: Page): Promise<void> {
  const playing = await inPage<boolean>(page, '(p) => p.client.state.is_playing');
  if (playing) await clickAt(page, '#play');
  await until(page, '(p) => p.engine.audio.paused && !p.client.state.is_playing');
  await page.waitForTimeout(150);
}

/** One round on our player: cold start, skip to the prefetched next track, seek ahead. */
async function ourRound(page: Page, loudAbove: number, out: Trials): Promise<void> {
  await silence(page);
  await inPage(page, '(p) => p.cache.clear()');
  const onsets = await inPage<number>(page, '(p) => p.probe.onsets.length');
  const t0 = await clickAt(page, 'button[aria-label="Play Quiet One by Test Tones"]');
  await until(page, '(p, n) => p.probe.onsets.length > n', onsets);
  out.ttfa.push((await inPage<number>(page, '(p, n) => p.probe.onsets[n].perfMs', onsets)) - t0);

  await until(
    page,
    `(p) => { const i = p.engine.prefetch?.items.find((x) => x.position === 1);
      return i && p.engine.prefetch.after_play_id === p.engine.playId && p.cache.has(i.urls[0]) && (!i.init_url || p.cache.has(i.init_url)); }`,
  );
  const steps = await inPage<number>(page, '(p) => p.probe.steps.length');
  const t1 = await clickAt(page, '#next');
  await until(page, '(p, a) => p.probe.steps.slice(a[0]).some((s) => s.peak > a[1])', [steps, loudAbove]);
  out.skip.push(
    (await inPage<number>(page, '(p, a) => p.probe.steps.slice(a[0]).find((s) => s.peak > a[1]).perfMs', [
      steps,
      loudAbove,
    ])) - t1,
  );

  // Into the loud track, then 16 s ahead: its quiet second half, not buffered yet.
  await until(page, '(p) => p.engine.playId && p.engine.playId === p.client.state.play_id');
  const steps2 = await inPage<number>(page, '(p) => p.probe.steps.length');
  const t2 = await page.evaluate(
    `(() => { const t = performance.now(); const s = document.getElementById('seek'); s.value = '${SEEK_TO_MS}'; s.dispatchEvent(new Event('change')); return t; })()`,
  );
  await until(page, '(p, a) => p.probe.steps.slice(a[0]).some((s) => s.peak < a[1])', [steps2, loudAbove]);
  out.seek.push(
    (await inPage<number>(page, '(p, a) => p.probe.steps.slice(a[0]).find((s) => s.peak < a[1]).perfMs', [
      steps2,
      loudAbove,
    ])) - (t2 as number),
  );
}

/** One round of the naive player: `<audio src>` of the whole quiet file, then of the loud one. */
async function naiveRound(
  page: Page,
  urls: { quiet: string; loud: string },
  loudAbove: number,
  out: Trials,
): Promise<void> {
  const r = (await page.evaluate(`(async (u) => {
    const n = window.__naive;
    n.audio.pause();
    await new Promise((r) => setTimeout(r, 150));
    const onsets = n.probe.onsets.length;
    const t0 = performance.now();
    n.audio.src = u.quiet;
    n.audio.play().catch(() => {});
    while (n.probe.onsets.length <= onsets) await new Promise((r) => setTimeout(r, 5));
    const ttfa = n.probe.onsets[onsets].perfMs - t0;
    await new Promise((r) => setTimeout(r, 300));
    const steps = n.probe.steps.length;
    const t1 = performance.now();
    n.audio.src = u.loud;
    n.audio.play().catch(() => {});
    const loud = () => n.probe.steps.slice(steps).find((s) => s.peak > ${loudAbove});
    while (!loud()) await new Promise((r) => setTimeout(r, 5));
    return { ttfa, skip: loud().perfMs - t1 };
  })(${JSON.stringify(urls)})`)) as { ttfa: number; skip: number };
  out.naiveTtfa.push(r.ttfa);
  out.naiveSkip.push(r.skip);
}

/** The gap between the gapless pair: the longest silence heard across the boundary. */
async function gapRound(page: Page, pa: PlayerApp): Promise<number> {
  await silence(page);
  const onsets = await inPage<number>(page, '(p) => p.probe.onsets.length');
  await inPage(
    page,
    `(p, a) => p.client.play({ uris: a, position_ms: 4500 })`,
    [pa.tracks.g1, pa.tracks.g2].map((id) => `spotify:track:${id}`),
  );
  await until(page, '(p, n) => p.probe.onsets.length > n', onsets);
  await until(page, '(p, id) => p.engine.current?.trackId === id && p.engine.positionMs > 500', pa.tracks.g2);
  return inPage<number>(
    page,
    '(p, n) => Math.max(0, ...p.probe.onsets.slice(n + 1).map((o) => o.silenceMs))',
    onsets,
  );
}

async function screenshot(browser: Browser, page: Page, pa: PlayerApp): Promise<string> {
  const other = await openPlayer(browser, pa.baseUrl);
  await clickAt(page, 'button[aria-label="Play Quiet One by Test Tones"]');
  await until(page, '(p) => p.client.state.is_playing && p.engine.positionMs > 1500');
  await inPage(page, '(p, uri) => p.client.queueAdd(uri)', `spotify:track:${pa.tracks.g1}`);
  await until(page, '(p) => p.client.state.devices.length >= 2');
  const dir = join(here, '..', 'player', 'screenshots');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'player.png');
  await page.screenshot({ path: file });
  await other.context().close();
  return file;
}

export default async function run(args: string[]): Promise<void> {
  const trials = Math.max(1, Number(args[0] ?? 20) || 20);
  const started = Date.now();
  const pa = await startPlayerApp([
    { key: 'quiet', title: 'Quiet One', seconds: 12, expr: tone(0.1), trackNumber: 1 },
    { key: 'loud', title: 'Loud Two', seconds: 24, expr: tone(0.4, 12, 0.1), trackNumber: 2 },
    { key: 'g1', title: 'Across I', seconds: 6, expr: tone(0.3), trackNumber: 3 },
    { key: 'g2', title: 'Across II', seconds: 6, expr: tone(0.3), trackNumber: 4 },
  ]);
  const browser = await launchChromium();
  const naive = await naiveServer(pa);
  const figures: Record<string, number | string> = {};
  const samples: Record<string, Record<string, number[]>> = {};
  const rows: Record<string, string | number>[] = [];
  const load = [loadavg()[0]!];
  try {
    for (const net of NETWORKS) {
      const page = await openPlayer(browser, pa.baseUrl, { network: net });
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
      // The level of the quiet tone as decoded, and a threshold halfway (in ratio) to the loud one.
      await clickAt(page, 'button[aria-label="Play Quiet One by Test Tones"]');
      await until(page, '(p) => p.probe.steps.length > 0');
      const quiet = await inPage<number>(page, '(p) => p.probe.steps[p.probe.steps.length - 1].peak');
      const loudAbove = quiet * 2;
      await page.evaluate(`(async () => {
        const audio = new Audio();
        audio.crossOrigin = 'anonymous';
        window.__naive = { audio, probe: await window.__OutputProbe.attach(audio) };
      })()`);
      const t: Trials = { ttfa: [], skip: [], seek: [], naiveTtfa: [], naiveSkip: [] };
      for (let i = 0; i < trials; i++) {
        await ourRound(page, loudAbove, t);
        await silence(page);
        await naiveRound(page, { quiet: naive.url('quiet'), loud: naive.url('loud') }, loudAbove, t);
        await page.evaluate('window.__naive.audio.pause()');
      }
      load.push(loadavg()[0]!);
      const suffix = net === 'unthrottled' ? '_unthrottled' : `_${net}`;
      const p = (xs: number[], q: number) => Math.round(percentile(xs, q) * 10) / 10;
      figures[`ttfa_p50_ms${suffix}`] = p(t.ttfa, 50);
      figures[`ttfa_p95_ms${suffix}`] = p(t.ttfa, 95);
      figures[`skip_p50_ms${suffix}`] = p(t.skip, 50);
      figures[`skip_p95_ms${suffix}`] = p(t.skip, 95);
      figures[`seek_p50_ms${suffix}`] = p(t.seek, 50);
      figures[`seek_p95_ms${suffix}`] = p(t.seek, 95);
      figures[`naive_ttfa_p50_ms${suffix}`] = p(t.naiveTtfa, 50);
      figures[`naive_ttfa_p95_ms${suffix}`] = p(t.naiveTtfa, 95);
      figures[`naive_skip_p50_ms${suffix}`] = p(t.naiveSkip, 50);
      figures[`naive_skip_p95_ms${suffix}`] = p(t.naiveSkip, 95);
      figures[`skip_speedup${suffix}`] =
        Math.round((percentile(t.naiveSkip, 95) / Math.max(1, percentile(t.skip, 95))) * 10) / 10;
      figures[`ttfa_speedup${suffix}`] =
        Math.round((percentile(t.naiveTtfa, 95) / Math.max(1, percentile(t.ttfa, 95))) * 10) / 10;
      // Every trial, rounded, for reading a p95 against its sample.
      const r = (xs: number[]) => xs.map((x) => Math.round(x));
      samples[net] = {
        ttfa: r(t.ttfa),
        skip: r(t.skip),
        seek: r(t.seek),
        naive_ttfa: r(t.naiveTtfa),
        naive_skip: r(t.naiveSkip),
      };
      rows.push({
        network: net,
        ttfa_p50: p(t.ttfa, 50),
        ttfa_p95: p(t.ttfa, 95),
        naive_ttfa_p95: p(t.naiveTtfa, 95),
        skip_p50: p(t.skip, 50),
        skip_p95: p(t.skip, 95),
        naive_skip_p95: p(t.naiveSkip, 95),
        seek_p95: p(t.seek, 95),
        skip_speedup: figures[`skip_speedup${suffix}`]!,
      });
      if (net === 'unthrottled') {
        const gaps: number[] = [];
        for (let i = 0; i < trials; i++) gaps.push(await gapRound(page, pa));
        figures.gap_p50_ms = Math.round(percentile(gaps, 50) * 100) / 100;
        figures.gap_p95_ms = Math.round(percentile(gaps, 95) * 100) / 100;
        figures.gap_max_ms = Math.round(Math.max(...gaps) * 100) / 100;
        await silence(page);
        figures.screenshot = await screenshot(browser, page, pa).then((f) =>
          f.slice(join(here, '..').length + 1),
        );
      }
      await page.context().close();
    }
  } finally {
    await browser.close();
    naive.server.close();
    await pa.close();
  }
  // The keys the issue names for Fast 4G (the `_4g` figures above) under their short names too.
  figures.trials = trials;
  figures.load_avg_1m = Math.round(Math.max(...load) * 100) / 100;
  figures.duration_s = Math.round((Date.now() - started) / 1000);
  figures.targets = 'skip_p95_ms_4g <= 50; ttfa_p95_ms_4g <= 500; gap_p95_ms <= 10; skip_speedup_4g >= 5';
  printTable(rows);
  console.log(
    `gap p50 ${figures.gap_p50_ms} ms, p95 ${figures.gap_p95_ms} ms, max ${figures.gap_max_ms} ms; load ${figures.load_avg_1m}`,
  );
  writeResults('player', { ...figures, samples_ms: samples });
}
