/**
 * The HTTP side of the page: the demo listener picker (`/dev/token`, demo mode only) and the
 * /v1 API (the listener's playlists, the catalog with what they may play) with the token.
 */

export interface DemoListener {
  id: string;
  plan: string;
  country: string;
}

export interface TrackInfo {
  id: string;
  uri: string;
  name: string;
  duration_ms: number;
  artists: { id: string; name: string; uri: string }[];
  album: { id: string; name: string; uri: string };
}

export interface CatalogEntry {
  track: TrackInfo;
  is_playable: boolean;
  restrictions?: { reason: string; message: string };
}

export interface PlaylistInfo {
  id: string;
  uri: string;
  name: string;
  tracks: TrackInfo[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(path: string, token?: string): Promise<T> {
  const res = await fetch(path, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.message ?? `HTTP ${res.status} for ${path}`);
  return body as T;
}

/** The Web API's queue: the user queue (its first `user_queue_length` entries), then what follows. */
export interface QueueView {
  /** The listener's state version this view is of (`Player-State-Version`). */
  version: number;
  queue: TrackInfo[];
  userQueueLength: number;
}

const stateVersion = (res: Response) => Number(res.headers.get('player-state-version') ?? -1);

async function failure(res: Response, what: string): Promise<ApiError> {
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  return new ApiError(res.status, body.error?.message ?? `HTTP ${res.status} for ${what}`);
}

export async function queue(token: string): Promise<QueueView> {
  const res = await fetch('/v1/me/player/queue', { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw await failure(res, 'GET /v1/me/player/queue');
  const body = (await res.json()) as { queue: TrackInfo[]; user_queue_length?: number };
  return { version: stateVersion(res), queue: body.queue, userQueueLength: body.user_queue_length ?? 0 };
}

/**
 * A Web API queue edit (the device protocol only adds): answered once the listener's actor
 * has applied it, with the state version it made. `expect` is the track seen at the index,
 * so an edit made on a view that went stale is refused (409) rather than hitting another entry.
 */
async function queueEdit(token: string, method: 'PUT' | 'DELETE', query: URLSearchParams, body?: unknown) {
  const res = await fetch(`/v1/me/player/queue?${query}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw await failure(res, `${method} /v1/me/player/queue`);
  return stateVersion(res);
}

export const removeQueued = (token: string, deviceId: string, index: number, expect: string) =>
  queueEdit(token, 'DELETE', new URLSearchParams({ index: String(index), expect, device_id: deviceId }));

export const moveQueued = (token: string, deviceId: string, from: number, to: number, expect: string) =>
  queueEdit(token, 'PUT', new URLSearchParams({ device_id: deviceId }), { from, to, expect });

/** The demo listeners, or undefined when the server is not in demo mode. */
export async function demoListeners(): Promise<DemoListener[] | undefined> {
  try {
    return (await getJson<{ listeners: DemoListener[] }>('/dev/token')).listeners;
  } catch {
    return undefined;
  }
}

export async function demoToken(userId: string, ttlS?: number): Promise<string> {
  const q = new URLSearchParams({ user: userId, ...(ttlS ? { ttl_s: String(ttlS) } : {}) });
  return (await getJson<{ token: string }>(`/dev/token?${q}`)).token;
}

/** The user id a token names (its `sub`); the server checks the signature, not us. */
export function tokenUser(token: string): string | undefined {
  try {
    const payload = token.split('.')[1]!.replace(/-/g, '+').replace(/_/g, '/');
    return (JSON.parse(atob(payload)) as { sub?: string }).sub;
  } catch {
    return undefined;
  }
}

export async function catalog(token: string): Promise<CatalogEntry[]> {
  const out: CatalogEntry[] = [];
  let next: string | null = '/v1/catalog/tracks?limit=100';
  while (next) {
    const page: { items: CatalogEntry[]; next: string | null } = await getJson(next, token);
    out.push(...page.items);
    next = page.next ? new URL(page.next).pathname + new URL(page.next).search : null;
  }
  return out;
}

export async function playlists(token: string, userId: string): Promise<PlaylistInfo[]> {
  const own = await getJson<{ items: { id: string }[] }>(
    `/v1/users/${encodeURIComponent(userId)}/playlists`,
    token,
  );
  return Promise.all(
    own.items.map(async ({ id }) => {
      const p = await getJson<{
        id: string;
        uri: string;
        name: string;
        tracks: { items: { track: TrackInfo | null }[] };
      }>(`/v1/playlists/${encodeURIComponent(id)}`, token);
      return {
        id: p.id,
        uri: p.uri,
        name: p.name,
        tracks: p.tracks.items.flatMap((i) => (i.track ? [i.track] : [])),
      };
    }),
  );
}
