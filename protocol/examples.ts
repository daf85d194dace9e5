/**
 * One typical example of every frame. Used by the round-trip tests, the codec benchmark and
 * protocol/README.md, and handy for client SDK tests and load scripts.
 */
import type {
  ClientFrame,
  ClientFrameType,
  FrameOf,
  ServerFrame,
  ServerFrameType,
  SessionState,
  TrackMeta,
} from './messages.ts';

const T0 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const CDN = 'https://cdn.example.com/a';

export const exampleTrack: TrackMeta = {
  id: '4uLU6hMCjMI75M1A2tKUQC',
  title: 'Never Gonna Give You Up',
  artist: 'Rick Astley',
  album: 'Whenever You Need Somebody',
  duration_ms: 213_573,
};

const upcoming: TrackMeta[] = [
  {
    id: '7GhIk7Il098yCjg4BQjzvb',
    title: 'Together Forever',
    artist: 'Rick Astley',
    album: 'Hold Me in Your Arms',
    duration_ms: 205_000,
  },
  {
    id: '3n3Ppam7vgaVa1iaRUc9Lp',
    title: 'Mr. Brightside',
    artist: 'The Killers',
    album: 'Hot Fuss',
    duration_ms: 222_973,
  },
  {
    id: '0VjIjW4GlUZAMYd2vXMi3b',
    title: 'Blinding Lights',
    artist: 'The Weeknd',
    album: 'After Hours',
    duration_ms: 200_040,
  },
  {
    id: '2takcwOaAZWiXQijPHIx7B',
    title: 'Time After Time',
    artist: 'Cyndi Lauper',
    album: "She's So Unusual",
    duration_ms: 241_106,
  },
  {
    id: '5ChkMS8OtdzJeqyybCc9R5',
    title: 'Billie Jean',
    artist: 'Michael Jackson',
    album: 'Thriller',
    duration_ms: 294_226,
  },
];

export const exampleState: SessionState = {
  version: 42,
  epoch: 'e7c1a9f0',
  devices: [
    { id: 'dev-phone-1', name: "Ana's phone", type: 'smartphone', volume_percent: 80, connected: true },
    { id: 'dev-laptop-1', name: 'Work laptop', type: 'computer', volume_percent: 55, connected: true },
    { id: 'dev-speaker-1', name: 'Kitchen', type: 'speaker', volume_percent: 30, connected: false },
  ],
  active_device_id: 'dev-phone-1',
  is_playing: true,
  track: exampleTrack,
  play_id: 'p-9f2c4d1e-0007',
  position: { position_ms: 61_250, at: T0 + 61_250 },
  shuffle: true,
  repeat: 'context',
  quality: 'high',
  context_uri: 'spotify:playlist:37i9dQZF1DXcBWIGoYBM5M',
  next_tracks: upcoming.map((track, i) => ({ track, source: i === 0 ? 'queue' : 'context' })),
};

function signed(path: string): string {
  return `${CDN}/${path}?exp=${(T0 + 3_600_000) / 1000}&kid=k1&sig=Zq3dJx8v1mT0bS4yF6hN2cR9wL5pA7eK`;
}

function prefetchItem(track_id: string, position: number, hashPath: string) {
  const url = signed(`${hashPath}/96/0.ogg`);
  return { track_id, position, bitrate_kbps: 96, urls: [url], init_url: null, expires_at: T0 + 3_600_000 };
}

const chunkCount = 22; // 213.6 s in 10 s chunks

export const exampleServerFrames: { [T in ServerFrameType]: FrameOf<ServerFrame, T> } = {
  welcome: { t: 'welcome', id: 1, protocol: 1, server_time: T0, resumed: false, state: exampleState },
  state: { t: 'state', state: exampleState },
  playback: {
    t: 'playback',
    play_id: 'p-9f2c4d1e-0007',
    track: exampleTrack,
    codec: 'opus',
    mime: 'audio/ogg; codecs=opus',
    bitrate_kbps: 160,
    chunks: {
      count: chunkCount,
      duration_ms: 10_000,
      sizes: Array.from({ length: chunkCount }, (_, i) =>
        i === chunkCount - 1 ? 72_114 : 200_000 + ((i * 7919) % 4096),
      ),
    },
    init_url: null,
    urls: Array.from({ length: chunkCount }, (_, i) => signed(`8c/8c1f0d3a9b7e/160/${i}.ogg`)),
    first_chunk: { url: signed('8c/8c1f0d3a9b7e/96/0.ogg'), bitrate_kbps: 96, init_url: null },
    expires_at: T0 + 3_600_000,
    gapless: { encoder_delay_samples: 312, padding_samples: 1_077, sample_rate: 48_000 },
    loudness: { track_gain_db: -7.4, track_peak: 0.988 },
    position_ms: 0,
    is_playing: true,
  },
  prefetch: {
    t: 'prefetch',
    after_play_id: 'p-9f2c4d1e-0007',
    items: [
      prefetchItem(upcoming[0]!.id, 1, '1a/1a9e77c0d2f4'),
      prefetchItem(upcoming[1]!.id, 2, '5d/5d02b8e1c3aa'),
    ],
  },
  warning: {
    t: 'warning',
    code: 'bandwidth_insufficient',
    message: 'Measured 110 kbps cannot sustain very_high (320 kbps); playing at 96 kbps.',
    play_id: 'p-9f2c4d1e-0007',
    bitrate_kbps: 96,
  },
  ack: { t: 'ack', id: 17 },
  error: {
    t: 'error',
    id: 18,
    code: 'forbidden',
    reason: 'region_blocked',
    message: 'Track is not available in SE.',
  },
  pong: { t: 'pong', id: 19, server_time: T0 + 5_000 },
};

export const exampleClientFrames: { [T in ClientFrameType]: FrameOf<ClientFrame, T> } = {
  hello: {
    t: 'hello',
    id: 1,
    token:
      'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSIsInBsYW4iOiJwcmVtaXVtIiwiY291bnRyeSI6IlNFIn0.0XbQqF3kq0h4r1uYvTQ9m5x2Jc8sZl7aWn6dPe1iKf4',
    device: { id: 'dev-phone-1', name: "Ana's phone", type: 'smartphone' },
    protocol: 1,
    resume: { version: 41, epoch: 'e7c1a9f0' },
  },
  play: {
    t: 'play',
    id: 2,
    context: 'spotify:playlist:37i9dQZF1DXcBWIGoYBM5M',
    offset: { index: 3 },
    position_ms: 0,
  },
  pause: { t: 'pause', id: 3 },
  resume: { t: 'resume', id: 4 },
  seek: { t: 'seek', id: 5, position_ms: 95_000 },
  next: { t: 'next', id: 6 },
  previous: { t: 'previous', id: 7 },
  shuffle: { t: 'shuffle', id: 8, on: true },
  repeat: { t: 'repeat', id: 9, mode: 'track' },
  'queue.add': { t: 'queue.add', id: 10, uri: 'spotify:track:7GhIk7Il098yCjg4BQjzvb' },
  quality: { t: 'quality', id: 11, quality: 'very_high' },
  volume: { t: 'volume', id: 12, percent: 65 },
  transfer: { t: 'transfer', id: 13, device_id: 'dev-laptop-1', play: true },
  progress: {
    t: 'progress',
    id: 14,
    play_id: 'p-9f2c4d1e-0007',
    position_ms: 61_250,
    buffered_ms: 30_000,
    bandwidth_kbps: 2_350.5,
  },
  ended: { t: 'ended', id: 15, play_id: 'p-9f2c4d1e-0007' },
  logout: { t: 'logout', id: 17 },
  ping: { t: 'ping', id: 16 },
};
