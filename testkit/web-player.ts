/**
 * The web player under a real browser, for its end-to-end tests and its benchmark: the real
 * app (embedded engines, fixture catalog) with a few synthesized tones ingested through the
 * real ladder, the player page built, and Debian's Chromium driven by playwright-core (which
 * downloads no browser of its own). Network throttling through CDP.
 *
 * Tones: level-coded, so a measurement can tell which track (or which half of a track) is
 * sounding from the samples alone: each track is a 440 Hz sine at its own amplitude.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { parseConfig } from '../app/config.ts';
import { startApp, type App } from '../app/start-app.ts';
import { locateTools } from '../origin/ingest/ffmpeg.ts';
import { Ingester } from '../origin/ingest/ingest.ts';
import { defaultIngestOptions } from '../origin/ingest/ladder.ts';
import type { RightsSpec } from '../origin/ingest/rights-sidecar.ts';
import { ObjectStore } from '../origin/object-store.ts';
import { buildPlayer } from '../player/build.ts';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Network profiles (Chrome DevTools' presets): latency ms, download and upload bytes/s. */
export const NETWORKS = {
  unthrottled: undefined,
  '4g': { latency: 165, downloadThroughput: 1_012_500, uploadThroughput: 1_012_500 },
  '3g': { latency: 562.5, downloadThroughput: 180_000, uploadThroughput: 84_375 },
} as const;
export type NetworkName = keyof typeof NETWORKS;

export interface ToneSpec {
  key: string;
  title: string;
  seconds: number;
  /** aevalsrc expression of the mono signal. */
  expr: string;
  rights?: RightsSpec[];
  /** Position on the one test album (album contexts play in this order). */
  trackNumber?: number;
}

/** A sine at amplitude `amp`, or `amp` until `switchS` and `amp2` after it. */
export const tone = (amp: number, switchS?: number, amp2?: number): string =>
  switchS === undefined ? `${amp}*sin(2*PI*440*t)` : `if(lt(t,${switchS}),${amp},${amp2})*sin(2*PI*440*t)`;

export interface PlayerApp {
  app: App;
  baseUrl: string;
  /** Track ids by tone key. */
  tracks: Record<string, string>;
  /** The app's audio objects (init segments and chunks). */
  objects: ObjectStore;
  close(): Promise<void>;
}

/** The app with the tones ingested and the player page built. */
export async function startPlayerApp(
  tones: readonly ToneSpec[],
  env: Record<string, string> = {},
): Promise<PlayerApp> {
  const dir = mkdtempSync(join(tmpdir(), 'web-player-'));
  const config = parseConfig({
    PORT: '0',
    DATA_DIR: join(dir, 'data'),
    LOG_LEVEL: 'silent',
    DEMO_MODE: 'on',
    ...env,
  });
  const [app] = await Promise.all([startApp(config, { demo: 'fixture' }), buildPlayer()]);
  try {
    const tools = locateTools(process.env);
    const objects = new ObjectStore(config.layout.objects);
    const ingester = new Ingester({
      catalog: app.stores.catalog,
      objects,
      tools,
      options: { ...defaultIngestOptions(), workers: 1, opusComplexity: 5 },
      scratchDir: dir,
    });
    const tracks: Record<string, string> = {};
    for (const t of tones) {
      const source = join(dir, `${t.key}.flac`);
      execFileSync(tools.ffmpeg, [
        ...['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi'],
        ...['-i', `aevalsrc='${t.expr}':s=48000:d=${t.seconds}`, '-ac', '2', source],
      ]);
      const outcome = await ingester.ingest({
        path: source,
        trackId: `tone-${t.key}`,
        metadata: {
          title: t.title,
          artistName: 'Test Tones',
          albumName: 'Level Coded',
          trackNumber: t.trackNumber ?? 1,
        },
        rights: t.rights ?? [{ territory: '*', allowed: true }],
      });
      if (outcome.status === 'failed') throw new Error(`ingesting ${t.key} failed: ${outcome.reason}`);
      tracks[t.key] = outcome.trackId;
    }
    return {
      app,
      baseUrl: app.server.httpUrl,
      tracks,
      objects,
      async close() {
        await app.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/**
 * One more demo listener, so each browser test has a session of its own: a listener's
 * session (its queue, its active device) outlives the test's pages, and one test's leftovers
 * must not steer the next.
 */
export async function addListener(
  pa: PlayerApp,
  id: string,
  plan: 'free' | 'premium' = 'premium',
  country = 'SE',
): Promise<string> {
  await pa.app.stores.users.putUser({ id, displayName: `Test ${id}`, plan, country, quality: 'high' });
  pa.app.demo.users.push({ id, plan, country });
  return id;
}

/**
 * Debian's Chromium, or a clear failure naming the package. Autoplay is allowed unless
 * `autoplay` says otherwise (`user-gesture-required` is a real browser's policy for a tab
 * nobody has clicked in).
 */
export async function launchChromium(
  autoplay: 'no-user-gesture-required' | 'user-gesture-required' = 'no-user-gesture-required',
): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH))
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}: the web player's browser tests need it ` +
        '(apt-get install chromium; .ci/run installs it on a fresh machine)',
    );
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [`--autoplay-policy=${autoplay}`],
  });
}

/**
 * Throttles a page's traffic like the network named. CDP's emulation delays HTTP but, as
 * measured here (Chromium 156), not WebSocket messages: without more, a command's round
 * trip would cost nothing. So the device socket is relayed with half the latency added each
 * way (its frames are small: the bandwidth limit does not matter for them).
 */
export async function throttle(page: Page, network: NetworkName): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  const n = NETWORKS[network];
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: n?.latency ?? 0,
    downloadThroughput: n?.downloadThroughput ?? -1,
    uploadThroughput: n?.uploadThroughput ?? -1,
  });
  if (!n) return;
  const half = n.latency / 2;
  await page.routeWebSocket(/\/v1\/ws$/, (ws) => {
    const server = ws.connectToServer();
    // Equal delays keep the order of the frames.
    ws.onMessage((m) => void setTimeout(() => server.send(m), half));
    server.onMessage((m) => void setTimeout(() => ws.send(m), half));
  });
}

/** Opens the player as a demo listener and waits for it to be connected with the library shown. */
export async function openPlayer(
  browser: Browser,
  baseUrl: string,
  opts: { listener?: string; tokenTtlS?: number; network?: NetworkName } = {},
): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  const page = await context.newPage();
  if (opts.network) await throttle(page, opts.network);
  const q = new URLSearchParams({ listener: opts.listener ?? 'u1' });
  if (opts.tokenTtlS) q.set('token_ttl_s', String(opts.tokenTtlS));
  await page.goto(`${baseUrl}/?${q}`);
  await page.locator('#app:not([hidden])').waitFor({ timeout: 20_000 });
  await page.locator('#catalog li').first().waitFor({ timeout: 20_000 });
  return page;
}
