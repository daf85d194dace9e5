/**
 * Scrobbles port contract (storage/scrobbles.ts), run against every adapter:
 * scrobbles.test.ts (LMDB) and scrobbles.engine.test.ts (CQL node).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScrobbleStore } from './scrobbles.ts';
import { storageErrorCode, type OpenedPort, type PortFactory } from '../testkit/store-engines.ts';

const link = (userId: string, token = 'tok-1') => ({
  userId,
  endpoint: 'https://api.listenbrainz.org',
  token,
  linkedAt: 1_700_000_000_000,
});

export function scrobblesContract(adapter: string, open: PortFactory<ScrobbleStore>): void {
  describe(`scrobbles contract (${adapter})`, () => {
    let opened: OpenedPort<ScrobbleStore>;
    let s: ScrobbleStore;
    beforeAll(async () => {
      opened = await open();
      s = opened.port;
    });
    afterAll(() => opened?.close());

    it('scrobbles - a link reads back active; relinking replaces it; unknown is undefined', async () => {
      await s.putLink(link('u1'));
      expect(await s.getLink('u1')).toEqual({ ...link('u1'), active: true });
      await s.putLink(link('u1', 'tok-2'));
      expect((await s.getLink('u1'))?.token).toBe('tok-2');
      expect(await s.getLink('nobody')).toBeUndefined();
    });

    it('scrobbles - deactivating forgets the token and keeps the reason; relinking activates again', async () => {
      await s.putLink(link('u2'));
      await s.deactivateLink('u2', 'token rejected (401)', 1_700_000_001_000);
      expect(await s.getLink('u2')).toEqual({
        ...link('u2', ''),
        linkedAt: 1_700_000_001_000,
        active: false,
        unlinkedReason: 'token rejected (401)',
      });
      await s.deactivateLink('ghost', 'x', 1);
      expect(await s.getLink('ghost')).toBeUndefined();
      await s.putLink(link('u2', 'tok-3'));
      expect(await s.getLink('u2')).toEqual({ ...link('u2', 'tok-3'), active: true });
      await s.deleteLink('u2');
      await s.deleteLink('u2');
      expect(await s.getLink('u2')).toBeUndefined();
    });

    it('scrobbles - submitted plays are recorded once, idempotently', async () => {
      expect(await s.submittedPlays(['p1', 'p2'])).toEqual(new Set());
      await s.markSubmitted(['p1', 'p3'], 5);
      await s.markSubmitted(['p1'], 6);
      expect(await s.submittedPlays(['p1', 'p2', 'p3'])).toEqual(new Set(['p1', 'p3']));
      expect(await s.submittedPlays([])).toEqual(new Set());
    });

    it('scrobbles - bad input is bad_request and stores nothing', async () => {
      expect(await storageErrorCode(s.putLink({ ...link('b1'), token: '' }))).toBe('bad_request');
      expect(await storageErrorCode(s.putLink({ ...link('b2'), endpoint: 'ftp://x' }))).toBe('bad_request');
      expect(await storageErrorCode(s.putLink({ ...link(''), token: 't' }))).toBe('bad_request');
      expect(await storageErrorCode(s.markSubmitted([''], 1))).toBe('bad_request');
      expect(await s.getLink('b1')).toBeUndefined();
      expect(await s.getLink('b2')).toBeUndefined();
    });

    it('scrobbles - links and submitted plays survive a restart', async () => {
      await s.putLink(link('dur'));
      await s.markSubmitted(['pdur'], 7);
      s = await opened.reopen();
      expect((await s.getLink('dur'))?.active).toBe(true);
      expect(await s.submittedPlays(['pdur'])).toEqual(new Set(['pdur']));
    });
  });
}
