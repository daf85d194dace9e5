/**
 * The audio path: Media Source Extensions with one `audio/webm; codecs="opus"` SourceBuffer in
 * segments mode, fed with the chunks the session server's frames name.
 *
 * Timeline: every placed track gets a start `startS` on the media timeline where its first
 * audible sample plays; chunk timestamps are the track's raw encoded timeline (pre-skip
 * included), so `timestampOffset = startS - preSkip`, and the append window
 * [startS, startS + duration] trims the Opus pre-skip at the front and the encoder padding
 * at the end. The next track is placed at the exact end of the current one (gapless); a
 * skip, a new play or a seek outside what is buffered places the track in a fresh region
 * after everything buffered and jumps there (a seek inside the buffered range is instant).
 *
 * Start: chunk 0 at the start bitrate (`first_chunk`), chunk 1 on at `bitrate_kbps` (its own
 * init segment appended before it). A prefetched next track (the SDK's prefetch cache holds
 * its verified chunk 0 and init segment) starts from memory: on a skip this device jumps to
 * it at once and tells the server; the server's `playback` for it then only adds URLs.
 * Bounded: what played more than KEEP_BEHIND_S ago is removed (Chromium's audio quota is
 * about 12 MiB). A 403 on a chunk asks the SDK for fresh URLs (`renewUrls`) while the
 * buffered audio plays on.
 */
import type { SessionClient } from '../client/session-client.ts';
import type { ChunkFetchResult, PrefetchCache } from '../client/prefetch-cache.ts';
import type { PlaybackFrame, PrefetchFrame, SessionState, TrackMeta } from '../protocol/messages.ts';

export const MIME = 'audio/webm; codecs="opus"';
/** Opus runs at 48 kHz; gapless sample counts are in that unit. */
const OPUS_RATE = 48_000;
/** libopus' pre-skip, for a prefetched track whose playback frame has not come yet. */
const DEFAULT_PRE_SKIP = 312;
const BUFFER_AHEAD_S = 12;
const KEEP_BEHIND_S = 8;
const PROGRESS_EVERY_MS = 5000;
/** A remote seek (another device moved the position) larger than this is followed here. */
const FOLLOW_DRIFT_MS = 1500;

export class UnsupportedBrowserError extends Error {
  override readonly name = 'UnsupportedBrowserError';
}

/** Whether this browser can play our audio at all. */
export function checkSupport(): void {
  const MS = (globalThis as { MediaSource?: typeof MediaSource }).MediaSource;
  if (!MS)
    throw new UnsupportedBrowserError(
      'this browser has no Media Source Extensions: the player cannot play audio',
    );
  if (!MS.isTypeSupported(MIME))
    throw new UnsupportedBrowserError(
      `this browser cannot play Opus audio in WebM through Media Source Extensions (${MIME})`,
    );
}

/** One track placed on the media timeline. */
interface Placement {
  trackId: string;
  track: TrackMeta | undefined;
  /** Known once the server's playback for it came (a prefetched start has none before). */
  playId: string | undefined;
  frame: PlaybackFrame | undefined;
  /** URLs known before the playback frame: the prefetch item's chunks and init segment. */
  prefetched: { urls: string[]; initUrl: string | null; kbps: number } | undefined;
  startS: number;
  durationS: number;
  preSkipS: number;
  chunkS: number;
  chunkCount: number;
  /** The next chunk index to append. */
  nextChunk: number;
  /** A fetch or append for it is under way. */
  busy: boolean;
  /** All chunks appended. */
  complete: boolean;
  /** `ended` was sent for it. */
  ended: boolean;
  /** Being placed (jumpTo): the element still holds the old position until it is done. */
  starting: boolean;
}

export interface EngineEvents {
  onError(message: string): void;
  onChange(): void;
  /** The browser refused to start audio (its autoplay policy: no click in this tab yet). */
  onAutoplayBlocked(): void;
}

export class AudioEngine {
  private sb: SourceBuffer | undefined;
  private readonly ready: Promise<void>;
  private ops: Promise<unknown> = Promise.resolve();
  private current: Placement | undefined;
  private following: Placement | undefined;
  private prefetch: PrefetchFrame | undefined;
  private state: SessionState | undefined;
  /** Init segment (by URL path) whose config the SourceBuffer last got. */
  private lastInit: string | undefined;
  private progressTimer: ReturnType<typeof setInterval> | undefined;
  private renewing: Promise<unknown> | undefined;
  private bandwidthKbps = 0;
  /** Chunk fetches that went to the network (not served from memory). */
  networkFetches = 0;
  /** The browser's autoplay policy refused the last start (cleared by one that works). */
  autoplayBlocked = false;
  /** The last start of a track here, and whether its first chunk and init came from memory. */
  lastStart: { trackId: string; fromMemory: boolean } | undefined;
  private stopped = true;

  constructor(
    readonly audio: HTMLAudioElement,
    private readonly client: SessionClient,
    private readonly cache: PrefetchCache,
    private readonly events: EngineEvents,
  ) {
    checkSupport();
    const ms = new MediaSource();
    this.ready = new Promise((resolve) => {
      ms.addEventListener(
        'sourceopen',
        () => {
          this.sb = ms.addSourceBuffer(MIME);
          this.sb.mode = 'segments';
          resolve();
        },
        { once: true },
      );
    });
    audio.src = URL.createObjectURL(ms);
    audio.addEventListener('timeupdate', () => this.tick());
    audio.addEventListener('waiting', () => this.pump());
    client.on('playback', (f) => void this.onPlayback(f));
    client.on('prefetch', (f) => {
      this.prefetch = f;
      this.pump();
    });
    client.on('state', (s) => this.onState(s));
  }

  get playId(): string | undefined {
    return this.current?.playId;
  }

  /** Position in the current track, ms. */
  get positionMs(): number {
    const c = this.current;
    if (!c) return 0;
    return Math.max(0, Math.min(c.durationS, this.audio.currentTime - c.startS)) * 1000;
  }

  get isActive(): boolean {
    return !!this.state && this.state.active_device_id === this.client.deviceId;
  }

  // ---- commands from the UI ------------------------------------------------------------

  /**
   * Next: when the next track's start is in memory, it plays now and the server is told; the
   * server's playback for it then brings the rest of its URLs.
   */
  async next(): Promise<void> {
    if (this.isActive && this.current) {
      const f = this.following;
      if (f && f.nextChunk > 0) {
        // Already appended right after the current track: jump into it.
        this.lastStart = { trackId: f.trackId, fromMemory: true };
        this.current = f;
        this.following = undefined;
        f.ended = false;
        this.audio.currentTime = f.startS;
        if (this.audio.paused) await this.startElement();
        this.events.onChange();
      } else {
        const placed = await this.placePrefetched(true);
        if (placed) await this.jumpTo(placed, 0);
      }
    }
    await this.client.next();
  }

  async seek(positionMs: number): Promise<void> {
    if (this.isActive && this.current) await this.seekLocal(this.current, positionMs);
    await this.client.seek(Math.round(positionMs));
  }

  // ---- frames from the server ----------------------------------------------------------

  private async onPlayback(f: PlaybackFrame): Promise<void> {
    await this.ready;
    this.stopped = false;
    const cur = this.current;
    if (cur && cur.playId === f.play_id) {
      // Renewed URLs (or a quality change): keep playing, fetch on with the new ones.
      cur.frame = f;
      this.setGain(f);
      // `previous` within the first seconds restarts the same play.
      if (Math.abs(f.position_ms - this.positionMs) > FOLLOW_DRIFT_MS)
        await this.seekLocal(cur, f.position_ms);
      this.pump();
      return;
    }
    // The track this device already plays from memory (a skip or a gapless continuation).
    for (const p of [cur, this.following]) {
      if (p && p.playId === undefined && p.trackId === f.track.id && f.position_ms < 1000) {
        this.adopt(p, f);
        this.pump();
        return;
      }
    }
    // A new play, a transfer to this device, or the server chose another track.
    const placement = this.placementOf(f);
    this.following = undefined;
    await this.jumpTo(placement, f.position_ms, f.is_playing);
  }

  private onState(s: SessionState): void {
    const was = this.state;
    this.state = s;
    const me = s.devices.find((d) => d.id === this.client.deviceId);
    if (me) this.events.onChange();
    if (s.active_device_id !== this.client.deviceId) {
      if (!this.stopped) this.stop();
      return;
    }
    const c = this.current;
    // While a track is being placed the element still plays the old position: jumpTo applies
    // the newest state when it is done.
    if (!c || c.playId !== s.play_id || !c.playId || c.starting) return;
    if (s.is_playing && this.audio.paused) void this.startElement();
    if (!s.is_playing && !this.audio.paused) this.audio.pause();
    // Another device seeked: a jump in the server's own timeline (its anchor moved otherwise
    // than time passing). Re-anchoring alone (pause, progress) is not followed: the server's
    // clock runs from the playback frame, ahead of what this device has played.
    if (was && was.play_id === s.play_id && s.position.at !== was.position.at) {
      const carried = was.position.position_ms + (was.is_playing ? s.position.at - was.position.at : 0);
      const now = s.position.position_ms + (s.is_playing ? Date.now() - s.position.at : 0);
      // ...and lands away from here (a re-anchor on this device's own report does not).
      if (
        Math.abs(s.position.position_ms - carried) > FOLLOW_DRIFT_MS &&
        Math.abs(now - this.positionMs) > FOLLOW_DRIFT_MS
      )
        void this.seekLocal(c, now);
    }
  }

  /** This device is no longer the active one: silence, and forget what was placed. */
  stop(): void {
    this.stopped = true;
    this.audio.pause();
    this.current = undefined;
    this.following = undefined;
    clearInterval(this.progressTimer);
    this.progressTimer = undefined;
    this.events.onChange();
  }

  // ---- placing and feeding -------------------------------------------------------------

  private placementOf(f: PlaybackFrame): Placement {
    return {
      trackId: f.track.id,
      track: f.track,
      playId: f.play_id,
      frame: f,
      prefetched: undefined,
      startS: 0,
      durationS: f.track.duration_ms / 1000,
      preSkipS: f.gapless.encoder_delay_samples / f.gapless.sample_rate,
      chunkS: f.chunks.duration_ms / 1000,
      chunkCount: f.chunks.count,
      nextChunk: 0,
      busy: false,
      complete: false,
      ended: false,
      starting: false,
    };
  }

  private adopt(p: Placement, f: PlaybackFrame): void {
    p.playId = f.play_id;
    p.frame = f;
    p.track = f.track;
    p.durationS = f.track.duration_ms / 1000;
    p.chunkCount = f.chunks.count;
    p.chunkS = f.chunks.duration_ms / 1000;
    p.complete = p.nextChunk >= p.chunkCount;
    if (p === this.current) this.setGain(f);
  }

  /**
   * The next track as the prefetch names it, if its chunk 0 and init segment are in memory
   * (`wait`: fetching them may finish first). Placed right after the current track.
   */
  private async placePrefetched(wait: boolean): Promise<Placement | undefined> {
    const cur = this.current;
    const pf = this.prefetch;
    if (!cur?.playId || !pf || pf.after_play_id !== cur.playId) return undefined;
    const item = pf.items.find((i) => i.position === 1);
    const meta = this.state?.next_tracks[0]?.track;
    if (!item || !meta || meta.id !== item.track_id || item.urls.length === 0) return undefined;
    const needed = [item.urls[0]!, ...(item.init_url ? [item.init_url] : [])];
    const inMemory = needed.every((u) => this.cache.has(u));
    if (!inMemory && !wait) return undefined;
    if (!inMemory) await Promise.all(needed.map((u) => this.cache.whenReady(u)));
    if (this.current !== cur) return undefined;
    return {
      trackId: item.track_id,
      track: meta,
      playId: undefined,
      frame: undefined,
      prefetched: { urls: item.urls, initUrl: item.init_url, kbps: item.bitrate_kbps },
      startS: cur.startS + cur.durationS,
      durationS: meta.duration_ms / 1000,
      preSkipS: DEFAULT_PRE_SKIP / OPUS_RATE,
      chunkS: cur.chunkS,
      chunkCount: Math.max(1, Math.ceil(meta.duration_ms / 1000 / cur.chunkS)),
      nextChunk: 0,
      busy: false,
      complete: false,
      ended: false,
      starting: false,
    };
  }

  /** Starts what should be playing, on the click the autoplay prompt asked for. */
  async unblock(): Promise<void> {
    if (this.isActive && this.state?.is_playing && this.audio.paused) await this.startElement();
    if (this.autoplayBlocked) throw new Error('the browser still refuses to start audio');
  }

  /**
   * Starts the element. A tab nobody has clicked in may not start audio (autoplay policy):
   * `play()` is refused with NotAllowedError, which the page turns into a prompt; other
   * refusals (a pause racing the start) need nothing.
   */
  private async startElement(): Promise<void> {
    try {
      await this.audio.play();
      this.autoplayBlocked = false;
    } catch (err) {
      if ((err as DOMException).name !== 'NotAllowedError') return;
      this.autoplayBlocked = true;
      this.events.onAutoplayBlocked();
    }
  }

  /** Places `p` in a fresh region after everything buffered, at `positionMs`, and plays it. */
  private async jumpTo(p: Placement, positionMs: number, play = true): Promise<void> {
    const sb = this.sb!;
    const buffered = sb.buffered.length ? sb.buffered.end(sb.buffered.length - 1) : 0;
    p.startS = Math.ceil(Math.max(buffered, this.audio.currentTime) + 1);
    p.nextChunk = Math.min(p.chunkCount - 1, Math.floor(positionMs / 1000 / p.chunkS));
    p.complete = false;
    p.busy = false;
    this.current = p;
    this.following = undefined;
    this.stopped = false;
    p.starting = true;
    if (p.frame) this.setGain(p.frame);
    const first = this.urlFor(p, p.nextChunk);
    this.lastStart = {
      trackId: p.trackId,
      fromMemory: !!first && this.cache.has(first.url) && (!first.init || this.cache.has(first.init)),
    };
    const started = this.appendNext(p);
    // The prefetch that follows a playback frame waits for this start's chunk.
    if (!this.lastStart.fromMemory) this.cache.holdPrefetch(started);
    await started;
    p.starting = false;
    if (this.current !== p) return;
    this.audio.currentTime = p.startS + positionMs / 1000;
    // A state newer than the frame (a pause sent meanwhile) wins over the frame's is_playing.
    const s = this.state;
    if (s && p.playId && s.play_id === p.playId) play = s.is_playing;
    if (play) await this.startElement();
    else this.audio.pause();
    // The server counts from its playback frame; tell it where the audio really starts.
    this.reportProgress();
    this.startProgress();
    this.events.onChange();
    this.pump();
    // What was placed before this region is no longer needed.
    this.enqueue(() => {
      if (p.startS > 0.5) sb.remove(0, p.startS - 0.5);
    });
  }

  private async seekLocal(p: Placement, positionMs: number): Promise<void> {
    const target = p.startS + positionMs / 1000;
    const b = this.sb?.buffered;
    if (b) {
      for (let i = 0; i < b.length; i++) {
        if (target >= b.start(i) && target < b.end(i) - 0.05) {
          this.audio.currentTime = target;
          return;
        }
      }
    }
    this.following = undefined;
    // A copy: a fetch still under way for the old place must not append into the new one.
    const again: Placement = { ...p, busy: false, complete: false, ended: false, starting: false };
    await this.jumpTo(again, positionMs, !this.audio.paused || (this.state?.is_playing ?? true));
  }

  /** Keeps BUFFER_AHEAD_S buffered: the current track's next chunk, then the next track. */
  private pump(): void {
    if (this.stopped) return;
    const cur = this.current;
    if (!cur) return;
    const ahead = this.bufferedAhead();
    if (ahead > BUFFER_AHEAD_S) return;
    if (!cur.complete) {
      if (!cur.busy) void this.appendNext(cur);
      return;
    }
    if (!this.following) {
      void this.placePrefetched(false).then((p) => {
        if (p && !this.following && this.current === cur) {
          this.following = p;
          this.pump();
        }
      });
      return;
    }
    const f = this.following;
    if (!f.complete && !f.busy && this.urlFor(f, f.nextChunk)) void this.appendNext(f);
  }

  private bufferedAhead(): number {
    const b = this.sb?.buffered;
    const t = this.audio.currentTime;
    if (!b) return 0;
    for (let i = 0; i < b.length; i++) if (t >= b.start(i) - 0.1 && t < b.end(i)) return b.end(i) - t;
    return 0;
  }

  /** The chunk URL and the init segment it needs, as far as known. */
  private urlFor(p: Placement, i: number): { url: string; init: string | null; kbps: number } | undefined {
    const f = p.frame;
    if (f) {
      // `first_chunk` is the chunk holding the frame's start position, at the start bitrate.
      const first = Math.min(f.chunks.count - 1, Math.floor(f.position_ms / f.chunks.duration_ms));
      if (i === first)
        return { url: f.first_chunk.url, init: f.first_chunk.init_url, kbps: f.first_chunk.bitrate_kbps };
      const url = f.urls[i];
      return url ? { url, init: f.init_url, kbps: f.bitrate_kbps } : undefined;
    }
    const pf = p.prefetched;
    const url = pf?.urls[i];
    return pf && url ? { url, init: pf.initUrl, kbps: pf.kbps } : undefined;
  }

  /** Fetches (or takes from memory) p's next chunk and appends it at p's place. */
  private async appendNext(p: Placement): Promise<void> {
    const i = p.nextChunk;
    const where = this.urlFor(p, i);
    if (!where || p.busy) return;
    p.busy = true;
    try {
      const [chunk, init] = await Promise.all([
        this.fetchVerified(p, where.url),
        where.init ? this.fetchVerified(p, where.init) : Promise.resolve(undefined),
      ]);
      if (!chunk || (where.init && !init)) return;
      if (p !== this.current && p !== this.following) return;
      await this.enqueue(() => {
        const sb = this.sb!;
        const initKey = where.init ? keyOf(where.init) : undefined;
        if (init && initKey !== this.lastInit) {
          sb.appendBuffer(init as Uint8Array<ArrayBuffer>);
          this.lastInit = initKey;
        }
      });
      await this.enqueue(() => {
        const sb = this.sb!;
        // Order matters: the end first when moving the window forward, the start first back.
        const start = p.startS;
        const end = p.startS + p.durationS;
        if (start >= sb.appendWindowEnd) {
          sb.appendWindowEnd = end;
          sb.appendWindowStart = start;
        } else {
          sb.appendWindowStart = start;
          sb.appendWindowEnd = end;
        }
        sb.timestampOffset = p.startS - p.preSkipS;
        sb.appendBuffer(chunk as Uint8Array<ArrayBuffer>);
      });
      p.nextChunk = i + 1;
      p.complete = p.nextChunk >= p.chunkCount;
    } catch (err) {
      this.events.onError(`audio append failed: ${(err as Error).message}`);
    } finally {
      p.busy = false;
    }
    this.pump();
  }

  /** A verified chunk from the SDK's cache (memory or network); a 403 gets fresh URLs once. */
  private async fetchVerified(p: Placement, url: string): Promise<Uint8Array | undefined> {
    const inMemory = this.cache.has(url);
    let r: ChunkFetchResult = await this.cache.fetchChunk(url);
    if (!r.ok && r.error.detail.status === 403 && p.playId) {
      // Expired or refused: the same chunk under fresh URLs (its key is its content address).
      const key = keyOf(url);
      await this.renewUrls();
      const fresh = p.frame
        ? [p.frame.first_chunk.url, p.frame.first_chunk.init_url, p.frame.init_url, ...p.frame.urls]
        : [];
      const again = fresh.find((u) => u && keyOf(u) === key);
      // The renewal may sign the same URL again (same expiry bucket): retried all the same.
      if (again) r = await this.cache.fetchChunk(again);
    }
    if (!r.ok) {
      this.events.onError(`could not fetch audio: ${r.error.message}`);
      return undefined;
    }
    if (!inMemory && r.attempts > 0) {
      this.networkFetches++;
      this.measureBandwidth(url);
    }
    return r.chunk.bytes;
  }

  /**
   * Throughput of one chunk download, from the browser's resource timing of that request
   * (request sent to last byte): the time a caller waited says nothing when it joined a
   * prefetch already under way.
   */
  private measureBandwidth(url: string): void {
    const abs = new URL(url, location.href).href;
    const entry = performance.getEntriesByName(abs).at(-1) as PerformanceResourceTiming | undefined;
    // startTime is the fetch's start (requestStart can be 0 when the browser withholds it);
    // small objects (init segments) measure latency, not throughput.
    const ms = entry ? entry.responseEnd - entry.startTime : 0;
    if (entry && ms > 0 && entry.encodedBodySize >= 8192)
      this.bandwidthKbps = (entry.encodedBodySize * 8) / ms;
    if (performance.getEntriesByType('resource').length > 200) performance.clearResourceTimings();
  }

  private renewUrls(): Promise<unknown> {
    this.renewing ??= new Promise<void>((resolve) => {
      const playId = this.current?.playId;
      const off = this.client.on('playback', (f) => {
        if (f.play_id === playId) done();
      });
      const timer = setTimeout(() => done(), 10_000);
      const done = () => {
        clearTimeout(timer);
        off();
        this.renewing = undefined;
        // After the engine's own playback listener has taken the new frame.
        setTimeout(resolve, 0);
      };
      this.client.renewUrls().catch(() => done());
    });
    return this.renewing;
  }

  /** Runs one SourceBuffer operation once the previous one has finished, and waits for it. */
  private enqueue(op: () => void): Promise<void> {
    const run = this.ops.then(
      () =>
        new Promise<void>((resolve, reject) => {
          const sb = this.sb!;
          try {
            op();
          } catch (err) {
            reject(err as Error);
            return;
          }
          if (!sb.updating) return resolve();
          const done = () => {
            sb.removeEventListener('error', failed);
            resolve();
          };
          const failed = () => {
            sb.removeEventListener('updateend', done);
            reject(new Error('the SourceBuffer refused the data'));
          };
          sb.addEventListener('updateend', done, { once: true });
          sb.addEventListener('error', failed, { once: true });
        }),
    );
    this.ops = run.catch(() => {});
    return run;
  }

  // ---- progress, track ends, bounds ----------------------------------------------------

  private tick(): void {
    const cur = this.current;
    if (!cur || this.stopped) return;
    const end = cur.startS + cur.durationS;
    if (cur.complete && !cur.ended && this.audio.currentTime >= end - 0.25) {
      // Played to its end: the server moves on; the next track, if placed, already plays on.
      cur.ended = true;
      if (cur.playId) void this.client.ended(cur.playId).catch(() => {});
    }
    if (cur.ended && this.following && this.audio.currentTime >= this.following.startS) this.promote();
    this.pump();
    this.trim();
    this.events.onChange();
  }

  private promote(): void {
    this.current = this.following;
    this.following = undefined;
  }

  private trim(): void {
    const sb = this.sb;
    if (!sb || sb.updating || sb.buffered.length === 0) return;
    const upTo = this.audio.currentTime - KEEP_BEHIND_S;
    if (upTo - sb.buffered.start(0) > KEEP_BEHIND_S)
      void this.enqueue(() => sb.remove(0, upTo)).catch(() => {});
  }

  private startProgress(): void {
    if (this.progressTimer) return;
    this.progressTimer = setInterval(() => {
      if (!this.audio.paused) this.reportProgress();
    }, PROGRESS_EVERY_MS);
  }

  private reportProgress(): void {
    const cur = this.current;
    // Nothing measured yet (every chunk came from memory): no figure is better than a wrong one.
    if (!cur?.playId || !this.isActive || this.bandwidthKbps <= 0) return;
    void this.client
      .progress({
        play_id: cur.playId,
        position_ms: Math.round(this.positionMs),
        buffered_ms: Math.round(this.bufferedAhead() * 1000),
        bandwidth_kbps: Math.round(this.bandwidthKbps * 10) / 10,
      })
      .catch(() => {});
  }

  private gainListener: ((gainDb: number, peak: number) => void) | undefined;
  /** The loudness normalisation of each track, applied by the output (output-probe.ts). */
  onTrackGain(l: (gainDb: number, peak: number) => void): void {
    this.gainListener = l;
  }
  private setGain(f: PlaybackFrame): void {
    this.gainListener?.(f.loudness.track_gain_db, f.loudness.track_peak);
  }
}

/** A URL's path: the content address names the chunk whatever the signature. */
function keyOf(url: string): string {
  const q = url.indexOf('?');
  return (q < 0 ? url : url.slice(0, q)).replace(/^[a-z]+:\/\/[^/]+/i, '');
}
