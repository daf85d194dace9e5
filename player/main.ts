/**
 * The reference web player: sign in (a demo listener in demo mode, else a device token), then
 * the listener's playlists and the catalog, the controls, the queue and the devices, all
 * driven by the session state the server pushes (a change made on another device or tab
 * shows here at once). Audio: audio-engine.ts; what is heard: output-probe.ts.
 *
 * Plain TypeScript and the DOM, no UI library: the page is a handful of panels redrawn from
 * one state object, which a ten-line element helper (dom.ts) covers; a framework would add
 * its own update model and weight for nothing the page needs.
 */
import { PrefetchCache } from '../client/prefetch-cache.ts';
import { SessionRequestError } from '../client/errors.ts';
import { SessionClient } from '../client/session-client.ts';
import { QUALITIES, REPEAT_MODES } from '../protocol/schemas.ts';
import type { Quality, RepeatMode, SessionState } from '../protocol/messages.ts';
import * as api from './api.ts';
import { AudioEngine, checkSupport, UnsupportedBrowserError } from './audio-engine.ts';
import { fill, formatMs, h } from './dom.ts';
import { OutputProbe } from './output-probe.ts';
import { QueuePanel } from './queue-panel.ts';

const $ = (id: string) => document.getElementById(id)!;

interface Player {
  client: SessionClient;
  engine: AudioEngine;
  probe: OutputProbe;
  cache: PrefetchCache;
  userId: string;
  catalog: api.CatalogEntry[];
  blocked: Map<string, string>;
  playlists: api.PlaylistInfo[];
  queue: QueuePanel;
}

declare global {
  interface Window {
    /** For the browser tests and the benchmark: the running player's parts. */
    __player?: Player;
    /** The benchmark measures its naive baseline (a plain audio element) with the same probe. */
    __OutputProbe?: typeof OutputProbe;
  }
}
window.__OutputProbe = OutputProbe;

let player: Player | undefined;
const params = new URLSearchParams(location.search);

function notice(message: string, kind: 'error' | 'info' = 'error'): void {
  const el = $('notice');
  el.textContent = message;
  el.className = `notice ${kind}`;
  el.hidden = !message;
}

/** A stable id per tab (kept across reloads of that tab), so two tabs are two devices. */
function deviceId(): string {
  let id = sessionStorage.getItem('device-id');
  if (!id) {
    id = `web-${Math.random().toString(36).slice(2, 10)}`;
    sessionStorage.setItem('device-id', id);
  }
  return id;
}

async function showSignIn(): Promise<void> {
  try {
    checkSupport();
  } catch (err) {
    notice((err as Error).message);
    fill($('signin'), h('p', { class: 'unsupported', role: 'alert' }, (err as Error).message));
    return;
  }
  const listeners = await api.demoListeners();
  const form = $('signin');
  if (listeners) {
    const select = h(
      'select',
      { id: 'listener', 'aria-label': 'Demo listener' },
      ...listeners.map((l) => h('option', { value: l.id }, `${l.id} (${l.plan}, ${l.country})`)),
    ) as HTMLSelectElement;
    const ttl = Number(params.get('token_ttl_s')) || undefined;
    fill(
      form,
      h('label', { for: 'listener' }, 'Listen as '),
      select,
      h('button', { type: 'submit', 'aria-label': 'Start listening' }, 'Start'),
    );
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const id = select.value;
      void start(id, () => api.demoToken(id, ttl));
    };
    if (params.get('listener')) {
      select.value = params.get('listener')!;
      void start(select.value, () => api.demoToken(select.value, ttl));
    }
  } else {
    const input = h('input', {
      id: 'token',
      type: 'password',
      autocomplete: 'off',
      'aria-label': 'Device token',
      placeholder: 'device token (npm run token)',
    }) as HTMLInputElement;
    fill(form, h('label', { for: 'token' }, 'Token '), input, h('button', { type: 'submit' }, 'Start'));
    form.onsubmit = (ev) => {
      ev.preventDefault();
      const token = input.value.trim();
      const user = api.tokenUser(token);
      if (!user) return notice('that is not a device token');
      void start(user, () => token);
    };
  }
}

async function start(userId: string, token: () => Promise<string> | string): Promise<void> {
  notice('');
  $('signin').hidden = true;
  const audio = $('audio') as HTMLAudioElement;
  // Created on the sign-in click: browsers let audio start after a gesture.
  const probe = await OutputProbe.attach(audio);
  const cache = new PrefetchCache({ baseUrl: location.origin, maxBytes: 24 * 1024 * 1024 });
  let current = await token();
  const client = new SessionClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`,
    token: async () => (current = await token()),
    device: { id: deviceId(), name: `Browser ${deviceId().slice(4, 8)}`, type: 'web' },
    prefetchCache: cache,
  });
  let engine: AudioEngine;
  try {
    engine = new AudioEngine(audio, client, cache, {
      onError: (m) => notice(m),
      onChange: () => renderNowPlaying(),
      onAutoplayBlocked: () => askForAudio(),
    });
  } catch (err) {
    notice(err instanceof UnsupportedBrowserError ? err.message : `audio failed: ${String(err)}`);
    return;
  }
  engine.onTrackGain((db, peak) => probe.setTrackGain(db, peak));
  const queue = new QueuePanel($('queue'), { bearer: () => current, deviceId: client.deviceId, notice });
  player = { client, engine, probe, cache, userId, catalog: [], blocked: new Map(), playlists: [], queue };
  window.__player = player;
  client.on('state', () => render());
  client.on('warning', (w) => notice(w.message, 'info'));
  client.on('reconnecting', () => ($('connection').textContent = 'reconnecting...'));
  client.on('welcome', () => ($('connection').textContent = `connected as ${userId}`));
  client.on('ended', (e) =>
    notice(
      e.reason === 'token_rejected'
        ? 'your token expired or was refused: sign in again'
        : `disconnected: ${e.message}`,
    ),
  );
  try {
    await client.connect();
  } catch (err) {
    notice(`could not connect: ${(err as Error).message}`);
    $('signin').hidden = false;
    return;
  }
  $('app').hidden = false;
  const [cat, lists] = await Promise.all([api.catalog(current), api.playlists(current, userId)]).catch(
    (err: unknown) => {
      notice(`could not load the library: ${(err as Error).message}`);
      return [[], []] as [api.CatalogEntry[], api.PlaylistInfo[]];
    },
  );
  player.catalog = cat;
  player.playlists = lists;
  player.blocked = new Map(
    cat.filter((e) => !e.is_playable).map((e) => [e.track.id, e.restrictions?.message ?? 'not playable']),
  );
  renderLibrary();
  render();
  setInterval(() => {
    renderNowPlaying();
    // The element plays but the audio graph it goes through was not allowed to start.
    if (engine.isActive && !audio.paused && probe.context.state === 'suspended') askForAudio();
  }, 250);
  $('level').hidden = false;
  const meter = $('level-bar');
  setInterval(() => (meter.style.width = `${Math.min(100, Math.round(probe.level * 100))}%`), 100);
}

/**
 * A browser's autoplay policy (Chrome's: no sound before the user has interacted with the
 * page) refused to start audio, as in a tab opened with `?listener=` and never clicked: say
 * so, and start it on the click, which is the gesture the browser waits for.
 */
function askForAudio(): void {
  const prompt = $('enable-audio');
  if (!prompt.hidden) return;
  prompt.hidden = false;
  $('enable-audio-button').onclick = async () => {
    const p = player;
    if (!p) return;
    try {
      await p.probe.context.resume();
      await p.engine.unblock();
      prompt.hidden = true;
    } catch (err) {
      notice(`audio could not start: ${(err as Error).message}`);
    }
  };
}

// ---- commands ----------------------------------------------------------------------------

/**
 * Runs a command; one the server refused because the token had just expired (it was not
 * applied) runs again once the SDK has reconnected with a fresh token.
 */
function run(command: () => Promise<unknown>): void {
  command()
    .catch(async (err: unknown) => {
      if (!(err instanceof SessionRequestError) || err.reason !== 'token_expired' || !player) throw err;
      await player.client.waitFor('welcome', { timeoutMs: 15_000 });
      return command();
    })
    .catch((err: unknown) => notice((err as Error).message));
}

/**
 * Plays on the active device, as any remote does; when no connected device is active (none
 * yet, or it went away), this tab takes over first, so a tap here is heard here.
 */
function playContext(context: string, offsetUri?: string): void {
  const p = player;
  const s = p?.client.state;
  if (!p || !s) return;
  const active = s.devices.find((d) => d.id === s.active_device_id);
  const takeOver = !active?.connected && s.active_device_id !== p.client.deviceId;
  run(() =>
    (takeOver ? p.client.transfer(p.client.deviceId, false) : Promise.resolve()).then(() =>
      p.client.play({ context, ...(offsetUri ? { offset: { uri: offsetUri } } : {}) }),
    ),
  );
}

function togglePlay(): void {
  const p = player;
  const s = p?.client.state;
  if (!p || !s) return;
  if (s.is_playing) {
    if (p.engine.isActive) p.engine.audio.pause();
    run(() => p.client.pause());
  } else if (s.track) {
    if (p.engine.isActive) void p.engine.audio.play().catch(() => {});
    run(() => p.client.resume());
  }
}

// ---- rendering ---------------------------------------------------------------------------

function trackRow(t: api.TrackInfo, play: () => void): HTMLElement {
  const reason = player?.blocked.get(t.id);
  const label = `${t.name} by ${t.artists.map((a) => a.name).join(', ')}`;
  return h(
    'li',
    {
      class: reason ? 'track blocked' : 'track',
      'data-track': t.id,
      'aria-disabled': reason ? 'true' : undefined,
    },
    h(
      'button',
      {
        class: 'play-track',
        'aria-label': `Play ${label}`,
        disabled: !!reason,
        title: reason,
        onclick: play,
      },
      '▶',
    ),
    h('span', { class: 'title' }, t.name, reason ? h('span', { class: 'reason' }, ` ${reason}`) : undefined),
    h('span', { class: 'artist' }, t.artists.map((a) => a.name).join(', ')),
    h('span', { class: 'duration' }, formatMs(t.duration_ms)),
    h(
      'button',
      {
        class: 'queue-add',
        'aria-label': `Add ${label} to the queue`,
        disabled: !!reason,
        onclick: () => player && run(() => player!.client.queueAdd(t.uri)),
      },
      '+',
    ),
  );
}

function renderLibrary(): void {
  const p = player!;
  fill(
    $('playlists'),
    ...p.playlists.map((pl) =>
      h(
        'section',
        { class: 'playlist', 'aria-label': `Playlist ${pl.name}` },
        h(
          'h3',
          {},
          h(
            'button',
            {
              class: 'play-context',
              'aria-label': `Play playlist ${pl.name}`,
              onclick: () => playContext(pl.uri),
            },
            '▶',
          ),
          ` ${pl.name}`,
        ),
        h('ol', {}, ...pl.tracks.map((t) => trackRow(t, () => playContext(pl.uri, t.uri)))),
      ),
    ),
  );
  const albums = new Map<string, { name: string; uri: string; artist: string; tracks: api.TrackInfo[] }>();
  for (const e of p.catalog) {
    const a = albums.get(e.track.album.id) ?? {
      name: e.track.album.name,
      uri: e.track.album.uri,
      artist: e.track.artists[0]?.name ?? '',
      tracks: [],
    };
    a.tracks.push(e.track);
    albums.set(e.track.album.id, a);
  }
  fill(
    $('catalog'),
    ...[...albums.values()].map((a) =>
      h(
        'section',
        { class: 'album', 'aria-label': `Album ${a.name}` },
        h(
          'h3',
          {},
          h(
            'button',
            {
              class: 'play-context',
              'aria-label': `Play album ${a.name}`,
              onclick: () => playContext(a.uri),
            },
            '▶',
          ),
          ` ${a.name} `,
          h('small', {}, a.artist),
        ),
        h('ol', {}, ...a.tracks.map((t) => trackRow(t, () => playContext(a.uri, t.uri)))),
      ),
    ),
  );
}

function render(): void {
  const p = player;
  const s = p?.client.state;
  if (!p || !s) return;
  renderNowPlaying();
  ($('shuffle') as HTMLButtonElement).setAttribute('aria-pressed', String(s.shuffle));
  $('repeat').textContent = `Repeat: ${s.repeat}`;
  $('repeat').setAttribute('aria-label', `Repeat ${s.repeat}; change`);
  ($('quality') as HTMLSelectElement).value = s.quality;
  const me = s.devices.find((d) => d.id === p.client.deviceId);
  const vol = $('volume') as HTMLInputElement;
  if (me && document.activeElement !== vol) vol.value = String(me.volume_percent);
  if (me) p.probe.setVolume(me.volume_percent);
  p.queue.update(s);
  fill(
    $('devices'),
    ...s.devices.map((d) => {
      const active = d.id === s.active_device_id;
      const mine = d.id === p.client.deviceId;
      return h(
        'li',
        { class: active ? 'device active' : 'device', 'data-device': d.id },
        h('span', {}, `${d.name}${mine ? ' (this tab)' : ''}`),
        h('small', {}, ` ${d.type}${d.connected ? '' : ', offline'}${active ? ', playing here' : ''}`),
        !active && d.connected
          ? h(
              'button',
              {
                class: 'transfer',
                'aria-label': `Transfer playback to ${d.name}${mine ? ' (this tab)' : ''}`,
                onclick: () => run(() => p.client.transfer(d.id, true)),
              },
              mine ? 'Play here' : 'Transfer',
            )
          : undefined,
      );
    }),
  );
}

function positionOf(s: SessionState, p: Player): number {
  if (p.engine.isActive && p.engine.playId && p.engine.playId === s.play_id) return p.engine.positionMs;
  const moving = s.is_playing ? Date.now() - s.position.at : 0;
  return Math.min(s.track?.duration_ms ?? 0, s.position.position_ms + moving);
}

function renderNowPlaying(): void {
  const p = player;
  const s = p?.client.state;
  if (!p || !s) return;
  const t = s.track;
  $('now-title').textContent = t ? t.title : 'Nothing playing';
  $('now-artist').textContent = t ? `${t.artist} · ${t.album}` : '';
  const pos = positionOf(s, p);
  const seek = $('seek') as HTMLInputElement;
  seek.max = String(t?.duration_ms ?? 0);
  if (document.activeElement !== seek) seek.value = String(Math.round(pos));
  seek.setAttribute('aria-valuetext', `${formatMs(pos)} of ${formatMs(t?.duration_ms ?? 0)}`);
  $('position').textContent = `${formatMs(pos)} / ${formatMs(t?.duration_ms ?? 0)}`;
  const play = $('play');
  play.textContent = s.is_playing ? '❚❚' : '▶';
  play.setAttribute('aria-label', s.is_playing ? 'Pause' : 'Play');
  $('bitrate').textContent = `${s.bitrate_kbps} kbps`;
}

function wireControls(): void {
  $('play').onclick = togglePlay;
  $('next').onclick = () => player && run(() => player!.engine.next());
  $('previous').onclick = () => player && run(() => player!.client.previous());
  $('shuffle').onclick = () => player && run(() => player!.client.shuffle(!player!.client.state?.shuffle));
  $('repeat').onclick = () => {
    const s = player?.client.state;
    if (!player || !s) return;
    const next = REPEAT_MODES[(REPEAT_MODES.indexOf(s.repeat) + 1) % REPEAT_MODES.length] as RepeatMode;
    run(() => player!.client.repeat(next));
  };
  const seek = $('seek') as HTMLInputElement;
  seek.onchange = () => player && run(() => player!.engine.seek(Number(seek.value)));
  const volume = $('volume') as HTMLInputElement;
  volume.onchange = () => player && run(() => player!.client.volume(Number(volume.value)));
  volume.oninput = () => player?.probe.setVolume(Number(volume.value));
  const quality = $('quality') as HTMLSelectElement;
  fill(quality, ...QUALITIES.map((q) => h('option', { value: q }, q.replace('_', ' '))));
  quality.onchange = () => player && run(() => player!.client.quality(quality.value as Quality));
  // Keyboard: space plays or pauses, arrows seek 5 s, n / p next and previous (not while typing).
  document.addEventListener('keydown', (ev) => {
    const target = ev.target as HTMLElement;
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName) || !player) return;
    if (ev.key === ' ' && target.tagName !== 'BUTTON') {
      ev.preventDefault();
      togglePlay();
    } else if (ev.key === 'ArrowRight' || ev.key === 'ArrowLeft') {
      const s = player.client.state;
      if (!s?.track) return;
      const to = positionOf(s, player) + (ev.key === 'ArrowRight' ? 5000 : -5000);
      const last = s.track.duration_ms - 500;
      run(() => player!.engine.seek(Math.max(0, Math.min(last, to))));
    } else if (ev.key === 'n') run(() => player!.engine.next());
    else if (ev.key === 'p') run(() => player!.client.previous());
  });
}

wireControls();
void showSignIn();
