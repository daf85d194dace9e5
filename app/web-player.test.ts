/**
 * The web player end to end in a real browser (Debian's chromium through playwright-core):
 * the page at `/` of the real app, real Opus chunks through Media Source Extensions, and what
 * is heard measured on the samples the audio element puts out (player/output-probe.ts).
 * Tracks are level-coded tones (testkit/web-player.ts), so "the next track is heard" is a
 * level step on the output, not an event.
 */
import type { Browser, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addListener,
  launchChromium,
  openPlayer,
  startPlayerApp,
  tone,
  type PlayerApp,
} from '../testkit/web-player.ts';
import { waitFor } from '../testkit/pipeline.ts';

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
  // Each test plays as its own listener: a session (its queue, its active device) outlives
  // the test's pages, and must not steer the next test.
  for (const id of ['wp-play', 'wp-queue', 'wp-origin', 'wp-autoplay']) await addListener(pa, id);
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
    const page = await openPlayer(browser, pa.baseUrl, { listener: 'wp-play' });

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
    const other = await openPlayer(browser, pa.baseUrl, { listener: 'wp-play' });
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

  it('web player - the queue: the whole user queue shown; move and remove by keyboard; an edit on a stale view is refused, never hits another entry', async () => {
    const page = await openPlayer(browser, pa.baseUrl, { listener: 'wp-queue' });
    await page.getByRole('button', { name: 'Play Quiet One by Test Tones' }).first().click();
    await heard(page);
    // Paused, so no track ends meanwhile and takes the queue's head.
    await page.getByRole('button', { name: 'Pause' }).click();
    await until(page, (p) => p.client.state.is_playing === false);
    const queued = () => page.locator('#queue li.queued .title').allTextContents();
    // Three adds, sent at once: they land in the order sent (a known track added behind one
    // whose rights are still loading waits for it) and all show, past the state's preview.
    for (const title of ['Loud Two', 'Quiet One', 'Loud Two'])
      await page
        .getByRole('button', { name: `Add ${title} by Test Tones to the queue` })
        .first()
        .click();
    await until(page, (p) => p.queue.view?.userQueueLength === 3 && !p.queue.busy);
    expect(await queued()).toEqual(['Loud Two', 'Quiet One', 'Loud Two']);
    const list = page.getByRole('list', { name: 'Queue' });
    await expect(
      list.getByRole('button', { name: 'Move Loud Two up (queue entry 1)' }).isDisabled(),
    ).resolves.toBe(true);

    // By keyboard: focus a button, Enter; the focus follows the entry moved.
    await list.getByRole('button', { name: 'Move Quiet One up (queue entry 2)' }).focus();
    await page.keyboard.press('Enter');
    await until(page, (p) => p.queue.view?.queue[0]?.name === 'Quiet One' && !p.queue.busy);
    expect(await queued()).toEqual(['Quiet One', 'Loud Two', 'Loud Two']);
    const focused = () =>
      page.evaluate(`document.activeElement?.getAttribute('aria-label')`) as Promise<string | null>;
    expect(await focused()).toBe('Move Quiet One down (queue entry 1)');
    await page.keyboard.press('Enter');
    await until(page, (p) => p.queue.view?.queue[1]?.name === 'Quiet One' && !p.queue.busy);
    expect(await queued()).toEqual(['Loud Two', 'Quiet One', 'Loud Two']);
    expect(await focused()).toBe('Move Quiet One down (queue entry 2)');
    await list.getByRole('button', { name: 'Remove Loud Two from the queue (entry 3)' }).focus();
    await page.keyboard.press('Enter');
    await until(page, (p) => p.queue.view?.userQueueLength === 2 && !p.queue.busy);
    expect(await queued()).toEqual(['Loud Two', 'Quiet One']);

    // A stale view: another client removes entry 1 while this page's reread is held back;
    // the page's remove of entry 1 (Loud Two, as it last saw) is refused, not applied to
    // Quiet One, which is there now; the page then shows the queue as it is.
    const held: Array<() => Promise<void>> = [];
    let hold = true;
    await page.route('**/v1/me/player/queue*', (route) => {
      if (hold && route.request().method() === 'GET') held.push(() => route.continue());
      else return route.continue();
    });
    const status = await probe(page, (p) => {
      const q = new URLSearchParams({ index: '0', device_id: p.client.deviceId });
      return fetch(`/v1/me/player/queue?${q}`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${p.queue.deps.bearer()}` },
      }).then((r) => r.status);
    });
    expect(status).toBe(204);
    await until(page, (p) => p.queue.view?.queue[0]?.name === 'Loud Two'); // still the old view
    await list.getByRole('button', { name: 'Remove Loud Two from the queue (entry 1)' }).click();
    await page.getByText('the queue changed meanwhile').waitFor({ timeout: 15_000 });
    hold = false;
    for (const go of held.splice(0)) await go();
    await until(page, (p) => p.queue.view?.userQueueLength === 1 && !p.queue.busy);
    expect(await queued()).toEqual(['Quiet One']);
    await page.context().close();
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
    const page = await openPlayer(browser, pa.baseUrl, { listener: 'wp-origin' });
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

  it('web player - a tab never clicked in, under a real autoplay policy: the refused start asks to click, the click plays', async () => {
    const strict = await launchChromium('user-gesture-required');
    try {
      const page = await strict.newPage();
      // Playwright's own evaluations and locators run as a user gesture (they would unlock
      // audio): until the click, the page is read through CDP's Runtime.evaluate, which does not.
      const cdp = await page.context().newCDPSession(page);
      const ask = async <T>(expression: string): Promise<T> => {
        const r = await cdp.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
        return r.result.value as T;
      };
      const waitUntil = (expression: string) => waitFor(expression, () => ask<boolean>(`!!(${expression})`));
      // `?listener=` signs in without a click.
      await page.goto(`${pa.baseUrl}/?listener=wp-autoplay`);
      await waitUntil(`window.__player?.client.state && document.querySelector('#catalog li')`);
      const deviceId = await ask<string>('window.__player.client.deviceId');
      // A remote (the Web API) starts playback on it.
      const { token } = (await (await fetch(`${pa.baseUrl}/dev/token?user=wp-autoplay`)).json()) as {
        token: string;
      };
      const res = await fetch(`${pa.baseUrl}/v1/me/player/play?device_id=${deviceId}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ uris: [`spotify:track:${pa.tracks.quiet}`] }),
      });
      expect(res.status).toBe(204);
      await waitUntil('window.__player.engine.autoplayBlocked');
      expect(await ask('navigator.userActivation.hasBeenActive')).toBe(false);
      expect(await ask(`document.getElementById('enable-audio').hidden`)).toBe(false);
      expect(await ask('window.__player.probe.onsets.length')).toBe(0);
      // The click is the gesture the browser waits for.
      const prompt = page.getByRole('button', { name: 'Click to enable audio' });
      await prompt.click();
      await heard(page);
      await prompt.waitFor({ state: 'hidden', timeout: 5_000 });
      expect(await probe(page, (p) => p.engine.autoplayBlocked)).toBe(false);
    } finally {
      await strict.close();
    }
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
