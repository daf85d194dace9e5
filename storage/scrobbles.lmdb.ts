/** Embedded scrobbles adapter: tables `scrobble_links` [userId] and `scrobbled_plays` [playId]. */
import { type EmbeddedEnv, openTable } from './lmdb-env.ts';
import { checkPlayIds, type ScrobbleLink, type ScrobbleStore, validateLink } from './scrobbles.ts';
import { checkId } from './catalog-validate.ts';

export function createLmdbScrobbles(env: EmbeddedEnv): ScrobbleStore {
  const links = openTable<ScrobbleLink>(env, 'scrobble_links');
  const plays = openTable<number>(env, 'scrobbled_plays');
  return {
    async putLink(link) {
      validateLink(link);
      await links.put([link.userId], { ...link, active: true });
    },
    async getLink(userId) {
      return links.get([userId]);
    },
    async deactivateLink(userId, reason, at) {
      checkId('user id', userId);
      const l = links.get([userId]);
      if (!l) return;
      await links.put([userId], { ...l, token: '', active: false, unlinkedReason: reason, linkedAt: at });
    },
    async deleteLink(userId) {
      checkId('user id', userId);
      await links.remove([userId]);
    },
    async submittedPlays(playIds) {
      checkPlayIds(playIds);
      return new Set(playIds.filter((id) => plays.get([id]) !== undefined));
    },
    async markSubmitted(playIds, at) {
      checkPlayIds(playIds);
      await env.transaction(() => {
        for (const id of playIds) void plays.put([id], at);
      });
    },
  };
}
