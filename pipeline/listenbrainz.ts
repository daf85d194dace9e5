/**
 * The ListenBrainz `submit-listens` call (https://listenbrainz.readthedocs.io, "Submitting
 * listens"): `POST {endpoint}/1/submit-listens`, `Authorization: Token <user token>`, a body
 * `{listen_type, payload}` with `playing_now` (one listen, no `listened_at`), `single` (one)
 * or `import` (several, at most MAX_LISTENS_PER_REQUEST). ListenBrainz itself keeps one
 * listen per (user, listened_at, track), so a listen sent again is not counted again.
 */
export const MAX_LISTENS_PER_REQUEST = 1000;
const REQUEST_TIMEOUT_MS = 10_000;

export type ListenType = 'playing_now' | 'single' | 'import';

export interface Listen {
  /** Unix seconds the listen began; absent for playing_now. */
  listened_at?: number;
  track_metadata: {
    artist_name: string;
    track_name: string;
    release_name?: string;
    additional_info?: Record<string, string | number>;
  };
}

export type SubmitResult =
  { ok: true } | { ok: false; status: number; message: string; retryAfterMs?: number };

/** One submit-listens call; never throws (a network failure is status 0). */
export async function submitListens(
  endpoint: string,
  token: string,
  listenType: ListenType,
  payload: readonly Listen[],
  fetchFn: typeof fetch = fetch,
): Promise<SubmitResult> {
  try {
    const res = await fetchFn(`${endpoint.replace(/\/+$/, '')}/1/submit-listens`, {
      method: 'POST',
      headers: { authorization: `Token ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ listen_type: listenType, payload }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text().catch(() => '');
    if (res.ok) return { ok: true };
    // ListenBrainz says when to come back: X-RateLimit-Reset-In (s); Retry-After too.
    const reset = Number(res.headers.get('x-ratelimit-reset-in') ?? res.headers.get('retry-after'));
    return {
      ok: false,
      status: res.status,
      message: text.slice(0, 300) || res.statusText,
      ...(Number.isFinite(reset) && reset > 0 ? { retryAfterMs: reset * 1000 } : {}),
    };
  } catch (err) {
    return { ok: false, status: 0, message: err instanceof Error ? err.message : String(err) };
  }
}
