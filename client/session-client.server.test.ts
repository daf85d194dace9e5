/**
 * SessionClient's reconnect against the real app on a free port: commands issued while it
 * reconnects are held and acked after the welcome (not refused hello_required), and what an
 * expired or bad token does with a fixed token and with a provider. No sleeps.
 */
import WebSocket from 'ws';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../protocol/close-codes.ts';
import type { SessionState } from '../protocol/messages.ts';
import { ConnectionClosedError } from './errors.ts';
import { SessionClient, type SessionClientOptions, type WebSocketCtor } from './session-client.ts';
import { useTestApp } from '../testkit/test-app.ts';

const app = useTestApp('sdk-e2e-');

const mint = (ttlS?: number) => app.server.auth.mint({ userId: 'u1', plan: 'premium', country: 'SE' }, ttlS);

/** A client on `ws` that counts the sockets it opens. */
function client(id: string, token: SessionClientOptions['token']) {
  let opened = 0;
  class CountingWs extends WebSocket {
    constructor(url: string) {
      super(url);
      opened++;
    }
  }
  const c = new SessionClient({
    url: app.server.wsUrl,
    token,
    device: { id, name: id, type: 'computer' },
    WebSocket: CountingWs as unknown as WebSocketCtor,
    reconnect: { minDelayMs: 5, maxDelayMs: 20 },
  });
  return { c, sockets: () => opened };
}

describe('SessionClient against a real server', () => {
  it('reconnect - commands issued while it reconnects are held, then sent after the welcome and acked', async () => {
    const { c } = client('sdk-held', await mint());
    await c.connect();
    const version = c.state!.version;
    const held: Promise<unknown>[] = [];
    const closed = c.waitFor('close');
    const resumed = c.waitFor('welcome', { timeoutMs: 10_000 });
    // Issued at the close and at the reconnect's start, before any welcome.
    c.once('close', () => held.push(c.shuffle(true)));
    c.once('reconnecting', () => held.push(c.repeat('context'), c.ping()));
    c.sendRaw(new Uint8Array(32 * 1024));
    expect((await closed).code).toBe(CLOSE_CODES.frame_too_large.code);
    expect((await resumed).resumed).toBe(true);
    await Promise.all(held);
    expect(held).toHaveLength(3);
    const done = (s: SessionState) => s.shuffle && s.repeat === 'context';
    const applied = done(c.state!) ? c.state! : await c.waitFor('state', { filter: done });
    expect(applied.version).toBeGreaterThan(version);
    c.close();
  });

  it('reauth - an expired fixed token ends at once; a provider gets one fresh try, then ends', async () => {
    const fixed = client('sdk-expired', await mint(-60));
    const fixedEnded = fixed.c.waitFor('ended');
    const err = await fixed.c.connect().catch((e: Error) => e);
    expect(err).toBeInstanceOf(ConnectionClosedError);
    expect((err as ConnectionClosedError).closeCode).toBe(CLOSE_CODES.token_expired.code);
    expect((await fixedEnded).reason).toBe('token_rejected');
    expect(fixed.sockets()).toBe(1);

    // Expired first, then a fresh one: connect() reports the first attempt, the second welcomes.
    let calls = 0;
    const fresh = client('sdk-fresh', () => mint(++calls === 1 ? -60 : 3600));
    const welcomed = fresh.c.waitFor('welcome');
    await expect(fresh.c.connect()).rejects.toMatchObject({ closeCode: CLOSE_CODES.token_expired.code });
    await welcomed;
    expect(calls).toBe(2);
    fresh.c.close();

    // A provider whose tokens are all expired: one reconnect, then it ends.
    const stale = client('sdk-stale', () => mint(-60));
    const staleEnded = stale.c.waitFor('ended');
    await stale.c.connect().catch(() => {});
    expect((await staleEnded).reason).toBe('token_rejected');
    expect(stale.sockets()).toBe(2);
  });

  it('renewUrls - the playing device gets its play again (same play id) on a fresh hello', async () => {
    const { c, sockets } = client('sdk-renew', await mint());
    await c.connect();
    const first = c.waitFor('playback');
    await c.play({ uris: [app.demo.trackUris[0]!] });
    const playing = await first;
    const again = c.waitFor('playback', { timeoutMs: 10_000 });
    const welcome = await c.renewUrls();
    expect(welcome.resumed).toBe(false);
    const renewed = await again;
    expect(renewed.play_id).toBe(playing.play_id);
    expect(renewed.urls).toHaveLength(playing.urls.length);
    expect(sockets()).toBe(2);
    // Still a working connection: commands are acked.
    await c.pause();
    c.close();
  });

  it('close codes - a bad token (4500, terminal) ends without a second attempt', async () => {
    const { c, sockets } = client('sdk-bad', 'x.y.z');
    const ended = c.waitFor('ended');
    await expect(c.connect()).rejects.toMatchObject({ closeCode: CLOSE_CODES.bad_token.code });
    expect(await ended).toMatchObject({ reason: 'terminal_close', closeCode: CLOSE_CODES.bad_token.code });
    expect(sockets()).toBe(1);
  });
});
