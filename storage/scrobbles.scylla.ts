/** CQL scrobbles adapter (tables `scrobble_links`, `scrobbled_plays`; storage/schema-scrobbles.cql). */
import type { Client } from 'cassandra-driver';
import { checkId } from './catalog-validate.ts';
import { exec, IDEMPOTENT_WRITE, READ } from './cql-client.ts';
import { checkPlayIds, type ScrobbleStore, validateLink } from './scrobbles.ts';

export function createScyllaScrobbles(client: Client, ks: string): ScrobbleStore {
  const putLink = `INSERT INTO ${ks}.scrobble_links (user_id, endpoint, user_token, linked_at, active, unlinked_reason) VALUES (?, ?, ?, ?, true, null)`;
  const getLink = `SELECT * FROM ${ks}.scrobble_links WHERE user_id = ?`;
  const deactivate = `UPDATE ${ks}.scrobble_links SET user_token = '', active = false, unlinked_reason = ?, linked_at = ? WHERE user_id = ?`;
  const del = `DELETE FROM ${ks}.scrobble_links WHERE user_id = ?`;
  const getPlay = `SELECT play_id FROM ${ks}.scrobbled_plays WHERE play_id = ?`;
  const putPlay = `INSERT INTO ${ks}.scrobbled_plays (play_id, submitted_at) VALUES (?, ?)`;
  return {
    async putLink(l) {
      validateLink(l);
      await exec(client, putLink, [l.userId, l.endpoint, l.token, l.linkedAt], IDEMPOTENT_WRITE);
    },
    async getLink(userId) {
      const r = (await exec(client, getLink, [userId], READ)).first();
      if (!r) return undefined;
      return {
        userId: r.user_id,
        endpoint: r.endpoint,
        token: r.user_token ?? '',
        linkedAt: Number(r.linked_at),
        active: r.active === true,
        ...(r.unlinked_reason ? { unlinkedReason: r.unlinked_reason } : {}),
      };
    },
    async deactivateLink(userId, reason, at) {
      checkId('user id', userId);
      // An UPDATE would create the row: only a link that exists is deactivated.
      if (!(await exec(client, getLink, [userId], READ)).first()) return;
      await exec(client, deactivate, [reason, at, userId], IDEMPOTENT_WRITE);
    },
    async deleteLink(userId) {
      checkId('user id', userId);
      await exec(client, del, [userId], IDEMPOTENT_WRITE);
    },
    async submittedPlays(playIds) {
      checkPlayIds(playIds);
      const found = await Promise.all(
        playIds.map(async (id) => ((await exec(client, getPlay, [id], READ)).first() ? id : undefined)),
      );
      return new Set(found.filter((id): id is string => id !== undefined));
    },
    async markSubmitted(playIds, at) {
      checkPlayIds(playIds);
      await Promise.all(playIds.map((id) => exec(client, putPlay, [id, at], IDEMPOTENT_WRITE)));
    },
  };
}
