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
