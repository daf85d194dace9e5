/**
 * The HTTP API against its OpenAPI description, end to end over a real socket to the real
 * app: the document is served without a token; every route the server registers is in it;
 * every documented operation answers every status it documents (a trigger per status below,
 * and a documented status without one fails the test), with a body that validates against
 * the documented schema, error bodies `{error: {status, code, message}}` included.
 */
import { join } from 'node:path';
import { Compile } from 'typebox/compile';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from './start-app.ts';
import { startTestApp } from '../testkit/test-app.ts';
import { rawSocket, withTimeout, type RawSocket } from '../testkit/raw-socket.ts';
import { PROTOCOL_VERSION } from '../protocol/version.ts';
import { checkDocBlock } from '../testkit/doc-block.ts';

type Json = Record<string, any>;

let app: App;
let stop: (() => Promise<void>) | undefined;
let doc: Json;
const tokens: Record<string, string> = {};
/** A private playlist of u1 that u2 may not see; one made to be deleted. */
let priv = '';
let doomed = '';
let chunkPath = '';
let device: RawSocket | undefined;

interface Call {
  method?: string;
  path: string;
  as?: 'u1' | 'u2' | 'none';
  body?: unknown;
  headers?: Record<string, string>;
}

async function call(c: Call): Promise<{ status: number; body: unknown; type: string | null }> {
  const headers: Record<string, string> = { ...c.headers };
  const as = c.as ?? 'u1';
  if (as !== 'none') headers.authorization = `Bearer ${tokens[as]}`;
  if (c.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${app.server.httpUrl}${c.path}`, {
    method: c.method ?? 'GET',
    headers,
    ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
  });
  const text = await res.text();
  const type = res.headers.get('content-type');
  return { status: res.status, type, body: type?.includes('json') && text ? JSON.parse(text) : text };
}

beforeAll(async () => {
  ({ app, stop } = await startTestApp('http-api-', { RATE_LIMIT: '1000/1000' }));
  for (const u of app.demo.users)
    tokens[u.id] = await app.server.auth.mint({ userId: u.id, plan: u.plan, country: u.country });
  const made = await call({
    method: 'POST',
    path: '/v1/users/u1/playlists',
    body: { name: 'Mine', public: false },
  });
  priv = (made.body as { id: string }).id;
  await call({
    method: 'POST',
    path: `/v1/playlists/${priv}/tracks`,
    body: { uris: app.demo.trackUris.slice(0, 3) },
  });
  doomed = (
    (await call({ method: 'POST', path: '/v1/users/u1/playlists', body: { name: 'Doomed' } })).body as {
      id: string;
    }
  ).id;
  const file = (await app.stores.catalog.getAudioFiles(app.demo.trackUris[0]!.split(':')[2]!))[0]!;
  const path = `/o/${file.chunks[0]!.key}`;
  chunkPath = app.server.signer.sign(path, Date.now() + 600_000);
  // A device of u1 playing, for the player routes' answers.
  device = rawSocket(app.server.wsUrl);
  await device.opened;
  device.send({
    t: 'hello',
    id: 1,
    token: tokens.u1!,
    device: { id: 'doc-d1', name: 'doc', type: 'computer' },
    protocol: PROTOCOL_VERSION,
  });
  await device.frame((f) => f.t === 'welcome');
  const played = await call({
    method: 'PUT',
    path: '/v1/me/player/play?device_id=doc-d1',
    body: { uris: app.demo.trackUris.slice(0, 4) },
  });
  expect(played.status).toBe(204);
  // Queued tracks for the queue edits to act on (a skip takes one).
  for (const t of ['demo05', 'demo06', 'demo07', 'demo08'])
    expect((await call({ method: 'POST', path: `/v1/me/player/queue?uri=spotify:track:${t}` })).status).toBe(
      204,
    );
  const got = await call({ path: '/v1/openapi.json', as: 'none' });
  expect(got.status).toBe(200);
  doc = got.body as Json;
});

afterAll(async () => {
  device?.ws.close();
  await stop?.();
});

const NOPE = '/v1/playlists/no-such-playlist';
const P = () => `/v1/playlists/${priv}`;
const track = (i: number) => app.demo.trackUris[i]!;
const unknownObject = () => app.server.signer.sign(`/o/${'0'.repeat(64)}`, Date.now() + 600_000);

/** The Web API player (session/http/player-api.ts): u1 has a device playing, u2 is free and has none. */
const NO_DEVICE = 'device_id=no-such-device';
const PLAYER_COMMANDS: [string, string, string, unknown?][] = [
  ['put', '/v1/me/player', '', { device_ids: ['doc-d1'], play: true }],
  [
    'put',
    '/v1/me/player/play',
    '',
    { uris: ['spotify:track:demo02', 'spotify:track:demo03', 'spotify:track:demo05'] },
  ],
  ['put', '/v1/me/player/pause', ''],
  ['post', '/v1/me/player/next', ''],
  ['post', '/v1/me/player/previous', ''],
  ['put', '/v1/me/player/seek', 'position_ms=1000'],
  ['put', '/v1/me/player/repeat', 'state=context'],
  ['put', '/v1/me/player/shuffle', 'state=false'],
  ['put', '/v1/me/player/volume', 'volume_percent=50'],
  ['post', '/v1/me/player/queue', 'uri=spotify:track:demo03'],
  ['put', '/v1/me/player/queue', '', { from: 0, to: 0 }],
  ['delete', '/v1/me/player/queue', 'index=0'],
];
const PLAYER_TRIGGERS: Record<string, () => Call> = {
  ...Object.fromEntries(
    PLAYER_COMMANDS.flatMap(([method, path, query, body]) => {
      const at = (q: string) => `${path}${q ? `?${q}` : ''}`;
      const M = method.toUpperCase();
      const ok: Call = { method: M, path: at(query), ...(body ? { body } : {}) };
      const transfer = path === '/v1/me/player';
      return [
        [`${method} ${path} 204`, () => ok],
        [`${method} ${path} 401`, () => ({ ...ok, as: 'none' as const })],
        [`${method} ${path} 403`, () => ({ ...ok, as: 'u2' as const })],
        [
          `${method} ${path} 404`,
          () =>
            transfer
              ? { method: M, path, body: { device_ids: ['no-such-device'] } }
              : { ...ok, path: at([query, NO_DEVICE].filter(Boolean).join('&')) },
        ],
        [
          `${method} ${path} 400`,
          () =>
            transfer || path.endsWith('/play') || body
              ? { method: M, path, body: { device_ids: 7, uris: 7, from: -1 } }
              : { method: M, path: `${path}?device_id=` },
        ],
      ];
    }),
  ),
  'get /v1/me/player 200': () => ({ path: '/v1/me/player?min_version=0' }),
  'get /v1/me/player 204': () => ({ path: '/v1/me/player', as: 'u2' }),
  'get /v1/me/player 400': () => ({ path: '/v1/me/player?min_version=x' }),
  'get /v1/me/player 401': () => ({ path: '/v1/me/player', as: 'none' }),
  'get /v1/me/player/events 401': () => ({ path: '/v1/me/player/events', as: 'none' }),
  'post /v1/me/player/events/ticket 200': () => ({ method: 'POST', path: '/v1/me/player/events/ticket' }),
  'post /v1/me/player/events/ticket 401': () => ({
    method: 'POST',
    path: '/v1/me/player/events/ticket',
    as: 'none',
  }),
  'get /v1/me/player/currently-playing 200': () => ({ path: '/v1/me/player/currently-playing' }),
  'get /v1/me/player/currently-playing 204': () => ({ path: '/v1/me/player/currently-playing', as: 'u2' }),
  'get /v1/me/player/currently-playing 400': () => ({
    path: '/v1/me/player/currently-playing?market=' + 'x'.repeat(0) + '&market',
  }),
  'get /v1/me/player/currently-playing 401': () => ({ path: '/v1/me/player/currently-playing', as: 'none' }),
  'get /v1/me/player/devices 200': () => ({ path: '/v1/me/player/devices' }),
  'get /v1/me/player/devices 401': () => ({ path: '/v1/me/player/devices', as: 'none' }),
  'get /v1/me/player/queue 200': () => ({ path: '/v1/me/player/queue' }),
  'get /v1/me/player/queue 401': () => ({ path: '/v1/me/player/queue', as: 'none' }),
  'get /v1/me/player/recently-played 200': () => ({ path: '/v1/me/player/recently-played?limit=5' }),
  'get /v1/me/player/recently-played 400': () => ({ path: '/v1/me/player/recently-played?limit=0' }),
  'get /v1/me/player/recently-played 401': () => ({ path: '/v1/me/player/recently-played', as: 'none' }),
  'put /v1/me/listenbrainz 200': () => ({ method: 'PUT', path: '/v1/me/listenbrainz', body: { token: 't' } }),
  'put /v1/me/listenbrainz 400': () => ({
    method: 'PUT',
    path: '/v1/me/listenbrainz',
    body: { token: 't', endpoint: 'http://169.254.169.254' },
  }),
  'put /v1/me/listenbrainz 401': () => ({ method: 'PUT', path: '/v1/me/listenbrainz', as: 'none' }),
  'get /v1/me/listenbrainz 200': () => ({ path: '/v1/me/listenbrainz' }),
  'get /v1/me/listenbrainz 401': () => ({ path: '/v1/me/listenbrainz', as: 'none' }),
  'get /v1/me/listenbrainz 404': () => ({ path: '/v1/me/listenbrainz', as: 'u2' }),
  'delete /v1/me/listenbrainz 204': () => ({ method: 'DELETE', path: '/v1/me/listenbrainz' }),
  'delete /v1/me/listenbrainz 401': () => ({ method: 'DELETE', path: '/v1/me/listenbrainz', as: 'none' }),
  'get /v1/tracks/{id} 200': () => ({ path: '/v1/tracks/demo01' }),
  'get /v1/tracks/{id} 400': () => ({ path: '/v1/tracks/demo01?market=sweden' }),
  'get /v1/tracks/{id} 401': () => ({ path: '/v1/tracks/demo01', as: 'none' }),
  'get /v1/tracks/{id} 404': () => ({ path: '/v1/tracks/nope' }),
  'get /v1/tracks 200': () => ({ path: '/v1/tracks?ids=demo01,demo02' }),
  'get /v1/tracks 400': () => ({ path: '/v1/tracks' }),
  'get /v1/tracks 401': () => ({ path: '/v1/tracks?ids=demo01', as: 'none' }),
};

/** One request per documented `METHOD path status`: what makes the server answer it. */
const TRIGGERS: Record<string, () => Call> = {
  'get /v1/catalog/tracks 200': () => ({ path: '/v1/catalog/tracks?limit=5' }),
  'get /v1/catalog/tracks 400': () => ({ path: '/v1/catalog/tracks?limit=0' }),
  'get /v1/catalog/tracks 401': () => ({ path: '/v1/catalog/tracks', as: 'none' }),
  'get / 200': () => ({ path: '/', as: 'none' }),
  'get /dev/token 200': () => ({ path: '/dev/token?user=u1', as: 'none' }),
  'get /dev/token 400': () => ({ path: '/dev/token?user=u1&ttl_s=0', as: 'none' }),
  'get /dev/token 404': () => ({ path: '/dev/token?user=nobody', as: 'none' }),
  'get /v1/users/{user_id}/playlists 200': () => ({ path: '/v1/users/u1/playlists' }),
  'get /v1/users/{user_id}/playlists 401': () => ({ path: '/v1/users/u1/playlists', as: 'none' }),
  'get /v1/users/{user_id}/playlists 403': () => ({ path: '/v1/users/u2/playlists' }),
  'post /v1/users/{user_id}/playlists 201': () => ({
    method: 'POST',
    path: '/v1/users/u1/playlists',
    body: { name: 'New' },
  }),
  'post /v1/users/{user_id}/playlists 400': () => ({
    method: 'POST',
    path: '/v1/users/u1/playlists',
    body: {},
  }),
  'post /v1/users/{user_id}/playlists 401': () => ({
    method: 'POST',
    path: '/v1/users/u1/playlists',
    as: 'none',
  }),
  'post /v1/users/{user_id}/playlists 403': () => ({
    method: 'POST',
    path: '/v1/users/u2/playlists',
    body: { name: 'x' },
  }),
  'get /v1/playlists/{playlist_id} 200': () => ({ path: P() }),
  'get /v1/playlists/{playlist_id} 400': () => ({ path: `${P()}?limit=0` }),
  'get /v1/playlists/{playlist_id} 401': () => ({ path: P(), as: 'none' }),
  'get /v1/playlists/{playlist_id} 403': () => ({ path: P(), as: 'u2' }),
  'get /v1/playlists/{playlist_id} 404': () => ({ path: NOPE }),
  'put /v1/playlists/{playlist_id} 200': () => ({ method: 'PUT', path: P(), body: { description: 'mine' } }),
  'put /v1/playlists/{playlist_id} 400': () => ({ method: 'PUT', path: P(), body: { public: 'no' } }),
  'put /v1/playlists/{playlist_id} 401': () => ({ method: 'PUT', path: P(), as: 'none', body: {} }),
  'put /v1/playlists/{playlist_id} 403': () => ({ method: 'PUT', path: P(), as: 'u2', body: { name: 'x' } }),
  'put /v1/playlists/{playlist_id} 404': () => ({ method: 'PUT', path: NOPE, body: { name: 'x' } }),
  'delete /v1/playlists/{playlist_id} 200': () => ({ method: 'DELETE', path: `/v1/playlists/${doomed}` }),
  'delete /v1/playlists/{playlist_id} 401': () => ({ method: 'DELETE', path: P(), as: 'none' }),
  'delete /v1/playlists/{playlist_id} 403': () => ({ method: 'DELETE', path: P(), as: 'u2' }),
  'delete /v1/playlists/{playlist_id} 404': () => ({ method: 'DELETE', path: NOPE }),
  'put /v1/playlists/{playlist_id}/collaborators 200': () => ({
    method: 'PUT',
    path: `${P()}/collaborators`,
    body: { collaborators: [] },
  }),
  'put /v1/playlists/{playlist_id}/collaborators 400': () => ({
    method: 'PUT',
    path: `${P()}/collaborators`,
    body: {},
  }),
  'put /v1/playlists/{playlist_id}/collaborators 401': () => ({
    method: 'PUT',
    path: `${P()}/collaborators`,
    as: 'none',
  }),
  'put /v1/playlists/{playlist_id}/collaborators 403': () => ({
    method: 'PUT',
    path: `${P()}/collaborators`,
    as: 'u2',
    body: { collaborators: ['u2'] },
  }),
  'put /v1/playlists/{playlist_id}/collaborators 404': () => ({
    method: 'PUT',
    path: `${NOPE}/collaborators`,
    body: { collaborators: [] },
  }),
  'get /v1/playlists/{playlist_id}/tracks 200': () => ({ path: `${P()}/tracks?offset=1&limit=1` }),
  'get /v1/playlists/{playlist_id}/tracks 400': () => ({ path: `${P()}/tracks?offset=x` }),
  'get /v1/playlists/{playlist_id}/tracks 401': () => ({ path: `${P()}/tracks`, as: 'none' }),
  'get /v1/playlists/{playlist_id}/tracks 403': () => ({ path: `${P()}/tracks`, as: 'u2' }),
  'get /v1/playlists/{playlist_id}/tracks 404': () => ({ path: `${NOPE}/tracks` }),
  'post /v1/playlists/{playlist_id}/tracks 201': () => ({
    method: 'POST',
    path: `${P()}/tracks`,
    body: { uris: [track(4)] },
  }),
  'post /v1/playlists/{playlist_id}/tracks 400': () => ({
    method: 'POST',
    path: `${P()}/tracks`,
    body: { uris: ['spotify:album:x'] },
  }),
  'post /v1/playlists/{playlist_id}/tracks 401': () => ({
    method: 'POST',
    path: `${P()}/tracks`,
    as: 'none',
  }),
  'post /v1/playlists/{playlist_id}/tracks 403': () => ({
    method: 'POST',
    path: `${P()}/tracks`,
    as: 'u2',
    body: { uris: [track(0)] },
  }),
  'post /v1/playlists/{playlist_id}/tracks 404': () => ({
    method: 'POST',
    path: `${NOPE}/tracks`,
    body: { uris: [track(0)] },
  }),
  'delete /v1/playlists/{playlist_id}/tracks 200': () => ({
    method: 'DELETE',
    path: `${P()}/tracks`,
    body: { tracks: [{ uri: track(4) }] },
  }),
  'delete /v1/playlists/{playlist_id}/tracks 400': () => ({
    method: 'DELETE',
    path: `${P()}/tracks`,
    body: {},
  }),
  'delete /v1/playlists/{playlist_id}/tracks 401': () => ({
    method: 'DELETE',
    path: `${P()}/tracks`,
    as: 'none',
  }),
  'delete /v1/playlists/{playlist_id}/tracks 403': () => ({
    method: 'DELETE',
    path: `${P()}/tracks`,
    as: 'u2',
    body: { tracks: [{ uri: track(0) }] },
  }),
  'delete /v1/playlists/{playlist_id}/tracks 404': () => ({
    method: 'DELETE',
    path: `${NOPE}/tracks`,
    body: { tracks: [{ uri: track(0) }] },
  }),
  'put /v1/playlists/{playlist_id}/tracks 200': () => ({
    method: 'PUT',
    path: `${P()}/tracks`,
    body: { range_start: 0, insert_before: 2 },
  }),
  'put /v1/playlists/{playlist_id}/tracks 400': () => ({
    method: 'PUT',
    path: `${P()}/tracks`,
    body: { range_start: -1 },
  }),
  'put /v1/playlists/{playlist_id}/tracks 401': () => ({ method: 'PUT', path: `${P()}/tracks`, as: 'none' }),
  'put /v1/playlists/{playlist_id}/tracks 403': () => ({
    method: 'PUT',
    path: `${P()}/tracks`,
    as: 'u2',
    body: { range_start: 0, insert_before: 2 },
  }),
  'put /v1/playlists/{playlist_id}/tracks 404': () => ({
    method: 'PUT',
    path: `${NOPE}/tracks`,
    body: { range_start: 0, insert_before: 1 },
  }),
  'get /v1/me/history 200': () => ({ path: '/v1/me/history?limit=5' }),
  'get /v1/me/history 400': () => ({ path: '/v1/me/history?limit=0' }),
  'get /v1/me/history 401': () => ({ path: '/v1/me/history', as: 'none' }),
  'get /v1/me/royalties 200': () => ({ path: '/v1/me/royalties' }),
  'get /v1/me/royalties 400': () => ({ path: '/v1/me/royalties?month=2026-13' }),
  'get /v1/me/royalties 401': () => ({ path: '/v1/me/royalties', as: 'none' }),
  ...PLAYER_TRIGGERS,
  'get /healthz 200': () => ({ path: '/healthz', as: 'none' }),
  'get /readyz 200': () => ({ path: '/readyz', as: 'none' }),
  'get /metrics 200': () => ({ path: '/metrics', as: 'none' }),
  'get /v1/openapi.json 200': () => ({ path: '/v1/openapi.json', as: 'none' }),
  'get /o/{key} 200': () => ({ path: chunkPath, as: 'none' }),
  'get /o/{key} 206': () => ({ path: chunkPath, as: 'none', headers: { range: 'bytes=0-9' } }),
  'get /o/{key} 304': () => ({
    path: chunkPath,
    as: 'none',
    headers: { 'if-none-match': `"${chunkPath.slice(3, 67)}"` },
  }),
  'get /o/{key} 403': () => ({ path: chunkPath.split('?')[0]!, as: 'none' }),
  'get /o/{key} 404': () => ({ path: unknownObject(), as: 'none' }),
  'get /o/{key} 416': () => ({ path: chunkPath, as: 'none', headers: { range: 'bytes=99999999-' } }),
  'head /o/{key} 200': () => ({ method: 'HEAD', path: chunkPath, as: 'none' }),
  'head /o/{key} 206': () => ({
    method: 'HEAD',
    path: chunkPath,
    as: 'none',
    headers: { range: 'bytes=0-9' },
  }),
  'head /o/{key} 304': () => ({
    method: 'HEAD',
    path: chunkPath,
    as: 'none',
    headers: { 'if-none-match': `"${chunkPath.slice(3, 67)}"` },
  }),
  'head /o/{key} 403': () => ({ method: 'HEAD', path: chunkPath.split('?')[0]!, as: 'none' }),
  'head /o/{key} 404': () => ({ method: 'HEAD', path: unknownObject(), as: 'none' }),
  'head /o/{key} 416': () => ({
    method: 'HEAD',
    path: chunkPath,
    as: 'none',
    headers: { range: 'bytes=99999999-' },
  }),
};

/** Documented answers no test can cause on a healthy server, with why. */
const NOT_TRIGGERED: Record<string, string> = {
  ...Object.fromEntries(
    [
      ...PLAYER_COMMANDS.map(([m, p]) => `${m} ${p}`),
      'get /v1/me/player',
      'get /v1/me/player/currently-playing',
      'get /v1/me/player/devices',
      'get /v1/me/player/queue',
      'get /v1/me/player/recently-played',
      'get /v1/tracks/{id}',
      'get /v1/tracks',
      'post /v1/me/player/events/ticket',
    ].map((op) => [
      `${op} 429`,
      'the rate limit: app/player-api-endpoints.test.ts spends a listener’s budget',
    ]),
  ),
  'get /v1/me/player/events 200': 'a stream that never ends: app/player-api.test.ts reads it',
  'get /readyz 503': 'needs NATS unreachable (app/nats-outage.engine.test.ts checks it)',
  'get /v1/ws 101': 'a WebSocket upgrade, checked in its own test below',
};

/** The schema with every `$ref` to a component inlined. */
function deref(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(deref);
  if (schema === null || typeof schema !== 'object') return schema;
  const ref = (schema as { $ref?: string }).$ref;
  if (ref) return deref(doc.components.schemas[ref.replace('#/components/schemas/', '')]);
  return Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, deref(v)]));
}

const operations = () =>
  Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).map(([method, op]) => ({ path, method, op: op as Json })),
  );

describe('http api - the OpenAPI description', () => {
  it('http api - /v1/openapi.json is OpenAPI 3.1, served without a token, with the Bearer scheme', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(doc.components.schemas)).toContain('Error');
  });

  it('http api - every route the server registers is in the document', () => {
    const documented = new Set(Object.keys(doc.paths).map((p) => p.replace(/\{(\w+)\}/g, ':$1')));
    for (const pattern of app.server.httpRoutes) {
      if (pattern === '/v1/*') {
        // The wildcard mounts the route table; the table is the document's /v1 paths.
        expect([...documented].filter((p) => p.startsWith('/v1/')).length).toBeGreaterThan(5);
        continue;
      }
      expect(documented, pattern).toContain(pattern);
    }
    // The origin's routes (mounted on the same app by start-app).
    expect(documented).toContain('/o/:key');
  });

  it('http api - an undocumented /v1 path or method answers 404/405 with the error body', async () => {
    expect(await call({ path: '/v1/nothing/here' })).toMatchObject({
      status: 404,
      body: { error: { status: 404, code: 'not_found', message: expect.any(String) } },
    });
    expect(await call({ method: 'POST', path: `/v1/playlists/${priv}` })).toMatchObject({
      status: 405,
      body: { error: { status: 405, code: 'bad_request' } },
    });
    expect(await call({ path: '/v1/playlists/%E0%A4%A' })).toMatchObject({
      status: 400,
      body: { error: { status: 400, code: 'bad_request' } },
    });
  });

  it('http api - every documented status of every operation answers, with a body of the documented schema', async () => {
    const untested: string[] = [];
    for (const { path, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (status === 'default') continue;
        const key = `${method} ${path} ${status}`;
        const trigger = TRIGGERS[key];
        if (!trigger) {
          if (!NOT_TRIGGERED[key]) untested.push(key);
          continue;
        }
        const res = await call(trigger());
        expect(res.status, `${key}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(Number(status));
        const schema = (response as Json).content?.['application/json']?.schema;
        if (schema && method !== 'head') {
          expect(res.type, key).toMatch(/application\/json/);
          const validator = Compile(deref(schema) as never);
          expect(validator.Check(res.body), `${key}: ${JSON.stringify(validator.Errors(res.body)[0])}`).toBe(
            true,
          );
          if (Number(status) >= 400 && path.startsWith('/v1/'))
            expect((res.body as { error: { status: number } }).error.status).toBe(Number(status));
        }
      }
    }
    expect(untested, 'documented statuses no trigger causes').toEqual([]);
    // No trigger is left over for an answer the document does not list.
    const documented = new Set(
      operations().flatMap(({ path, method, op }) =>
        Object.keys(op.responses).map((s) => `${method} ${path} ${s}`),
      ),
    );
    expect(Object.keys(TRIGGERS).filter((k) => !documented.has(k))).toEqual([]);
  });

  it('http api - README.md lists every documented route', async () => {
    const rows = operations().map(({ path, method, op }) => {
      const ok = Object.keys(op.responses).filter((st) => /^[123]/.test(st));
      const auth = op.security && op.security.length === 0 ? 'none' : 'Bearer';
      return `| ${method.toUpperCase()} | \`${path}\` | ${auth} | ${ok.join(', ')} | ${op.summary} |`;
    });
    const table = [
      '| method | path | auth | success | what |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
    ].join('\n');
    const stale = await checkDocBlock(join(import.meta.dirname, '..', 'README.md'), 'http-routes', table);
    expect(stale).toBeUndefined();
  });

  it('http api - the documented device socket upgrades without a token header', async () => {
    const s = rawSocket(app.server.wsUrl);
    await withTimeout(s.opened, 'the upgrade');
    s.ws.close();
  });
});
