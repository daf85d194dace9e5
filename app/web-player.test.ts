/**
 * The web player end to end in a real browser (Debian's chromium through playwright-core):
 * the page at `/` of the real app, real Opus chunks through Media Source Extensions, and what
 * is heard measured on the samples the audio element puts out (player/output-probe.ts).
 * Tracks are level-coded tones (testkit/web-player.ts), so "the next track is heard" is a
 * level step on the output, not an event.
 */
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, openPlayer, startPlayerApp, tone, type PlayerApp } from '../testkit/web-player.ts';

let pa: PlayerApp;
let browser: Browser;

beforeAll(async () => {
  [pa, browser] = await Promise.all([
    startPlayerApp([
      { key: 'quiet', title: 'Quiet One', seconds: 12, expr: tone(0.1), trackNumber: 1 },
      { key: 'loud', title: 'Loud Two', seconds: 12, expr: tone(0.4), trackNumber: 2 },
      {
        key: 'blocked',
        title: 'Not In Sweden',
        seconds: 3,
        expr: tone(0.2),
        trackNumber: 3,
        rights: [
          { territory: '*', allowed: true },
          { territory: 'SE', allowed: false },
        ],
      },
    ]),
    launchChromium(),
  ]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await pa?.close();
});

/** Reads the running player (window.__player) in the page; `arg` is passed in as JSON. */
function probe<T>(page: Page, read: (p: any, arg?: any) => T, arg?: unknown): Promise<T> {
  return page.evaluate(`(${read.toString()})(window.__player, ${JSON.stringify(arg)})`) as Promise<T>;
}

async function until(page: Page, cond: (p: any, arg?: any) => unknown, arg?: unknown): Promise<void> {
  await page.waitForFunction(`(${cond.toString()})(window.__player, ${JSON.stringify(arg)})`, undefined, {
    timeout: 15_000,
    polling: 20,
  });
}

const heard = (page: Page) => until(page, (p) => p.probe.onsets.length > 0);

describe('web player in chromium', () => {
  it('web player - play is heard, a skip plays the prefetched next track from memory, a transfer plays on from the position', async () => {
    const page = await openPlayer(browser, pa.baseUrl);

    // A region-blocked track is greyed with its reason and cannot be played.
    const blocked = page.locator(`li[data-track="${pa.tracks.blocked}"]`).first();
    await expect(blocked.getAttribute('class')).resolves.toContain('blocked');
    await expect(blocked.textContent()).resolves.toContain('not licensed in your country');
    await expect(blocked.getByRole('button', { name: /^Play / }).isDisabled()).resolves.toBe(true);

    // Play the album from its first track: audio comes out.
    await page.getByRole('button', { name: 'Play Quiet One by Test Tones' }).first().click();
    await heard(page);
    expect(await probe(page, (p) => p.client.state.track?.id)).toBe(pa.tracks.quiet);

    // The next track's start is prefetched (verified chunk 0 and init in the SDK's cache).
    await until(page, (p) => {
      const pf = p.engine.prefetch;
      const item = pf?.items.find((i: any) => i.position === 1);
      return item && p.cache.has(item.urls[0]) && (!item.init_url || p.cache.has(item.init_url));
    });
    const firstChunk = await probe(
      page,
      (p) => p.engine.prefetch.items.find((i: any) => i.position === 1).urls[0],
    );
    expect(firstChunk).toContain('/o/');
    const after: string[] = [];
    const onRequest = (r: Request) => after.push(r.url());
    page.on('request', onRequest);
    const stepsBefore = await probe(page, (p) => p.probe.steps.length);
    await page.getByRole('button', { name: 'Next track' }).click();
    // The loud track is heard: a level step up to its level.
    await until(page, (p, from) => p.probe.steps.slice(from).some((s: any) => s.peak > 0.15), stepsBefore);
    page.off('request', onRequest);
    expect(await probe(page, (p) => p.engine.lastStart)).toEqual({
      trackId: pa.tracks.loud,
      fromMemory: true,
    });
    const path = (u: string) => new URL(u).pathname;
    expect(after.map(path)).not.toContain(path(firstChunk));
    await until(page, (p) => p.client.state.track?.id && p.engine.playId === p.client.state.play_id);
    expect(await probe(page, (p) => p.client.state.track.id)).toBe(pa.tracks.loud);

    // A second tab is a second device: transfer there, it plays on from the position.
    const other = await openPlayer(browser, pa.baseUrl);
    const otherId = await probe(other, (p) => p.client.deviceId);
    await until(page, (p) => p.client.state.devices.length === 2);
    await page.waitForTimeout(1000); // some position into the track before the transfer
    const at = await probe(page, (p) => p.engine.positionMs);
    await page
      .locator(`li[data-device="${otherId}"]`)
      .getByRole('button', { name: /^Transfer/ })
      .click();
    await heard(other);
    const there = await probe(other, (p) => ({ pos: p.engine.positionMs, track: p.engine.current?.trackId }));
    expect(there.track).toBe(pa.tracks.loud);
    expect(there.pos).toBeGreaterThanOrEqual(at - 500);
    expect(there.pos).toBeLessThan(at + 3000);
    // The first tab stopped: it is a remote now.
    await until(page, (p) => p.engine.audio.paused && p.client.state.active_device_id !== p.client.deviceId);
    // The first tab shows the state the other pushes (live): pause there, seen here.
    await other.getByRole('button', { name: 'Pause' }).click();
    await until(page, (p) => p.client.state.is_playing === false);
    await Promise.all([page.context().close(), other.context().close()]);
  }, 90_000);

  it('web player - a token expiring mid-session: the player gets a fresh one and plays on without a stop', async () => {
    const page = await openPlayer(browser, pa.baseUrl, { listener: 'u2', tokenTtlS: 2 });
    const closes: number[] = [];
    await page.exposeFunction('__onClose', (code: number) => closes.push(code));
    await page.evaluate(`window.__player.client.on('close', (c) => window.__onClose(c.code))`);
    await page.getByRole('button', { name: 'Play Quiet One by Test Tones' }).first().click();
    await heard(page);
    // Past the token's life: the next command (a progress report) is refused with
    // token_expired, the socket closes 4400, the SDK reconnects with a fresh token.
    await page.waitForTimeout(3000);
    await page.getByRole('button', { name: 'Shuffle' }).click();
    await until(page, (p) => p.client.state.shuffle === true);
    await page.waitForTimeout(3000);
    await page.getByRole('button', { name: 'Shuffle' }).click();
    await until(page, (p) => p.client.state.shuffle === false);
    expect(closes).toContain(4400);
    // Heard once, never a silence since.
    expect(await probe(page, (p) => p.probe.onsets.length)).toBe(1);
    expect(await probe(page, (p) => p.engine.audio.paused)).toBe(false);
    await page.context().close();
  }, 60_000);

  it('web player - the origin refusing a URL once: fresh URLs through the SDK, no audible stop', async () => {
    const page = await openPlayer(browser, pa.baseUrl);
    const refused: string[] = [];
    const seen: string[] = [];
    let target: string | undefined;
    await page.route('**/o/**', async (route) => {
      const url = route.request().url();
      seen.push(url);
      if (!target && refused.length === 0) {
        const urls: string[] = await probe(page, (p) => p.engine.current?.frame?.urls ?? []);
        // The first fetch of a later chunk of the playing track is refused.
        if (urls.slice(1).includes(url)) target = url;
      }
      if (url === target && refused.length === 0) {
        refused.push(url);
        return route.fulfill({ status: 403, body: '{"error":"forbidden"}' });
      }
      return route.continue();
    });
    let playbacks = 0;
    await page.exposeFunction('__onPlayback', () => playbacks++);
    await page.evaluate(`window.__player.client.on('playback', () => window.__onPlayback())`);
    await page.getByRole('button', { name: 'Play Quiet One by Test Tones' }).first().click();
    await heard(page);
    await until(page, (p) => p.engine.current?.complete === true);
    expect(refused).toHaveLength(1);
    const key = new URL(refused[0]!).pathname;
    // The same chunk fetched again after a second playback frame brought its URL anew.
    expect(seen.filter((u) => new URL(u).pathname === key).length).toBeGreaterThanOrEqual(2);
    expect(playbacks).toBeGreaterThanOrEqual(2);
    await page.waitForTimeout(500);
    expect(await probe(page, (p) => p.probe.onsets.length)).toBe(1);
    await page.context().close();
  }, 60_000);

  it('web player - a browser without Opus in Media Source Extensions gets a clear message', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.addInitScript('MediaSource.isTypeSupported = () => false');
    await page.goto(`${pa.baseUrl}/`);
    const alert = page.getByRole('alert').first();
    await alert.waitFor();
    expect(await alert.textContent()).toContain('cannot play Opus audio');
    await context.close();
  }, 30_000);
});
