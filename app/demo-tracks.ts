/**
 * The demo catalog as data: 12 artists x 5 short tracks (17-25 s), each a distinct piece
 * synthesized by ffmpeg's own `aevalsrc` generator (a plucked chord on a tempo grid, a
 * two-chord progression, a bass line), with its rights; an album of four long tracks
 * (45-90 s, past the 30 s royalty threshold); and a gapless pair, one tone running across the
 * track boundary. Everything here is deterministic: same ids, same sounds, same rights on
 * every machine.
 */
import type { RightsSpec } from '../origin/ingest/rights-sidecar.ts';

export interface DemoArtist {
  id: string;
  name: string;
  albumId: string;
  album: string;
  bpm: number;
  /** Chord as semitone offsets above the root. */
  chord: readonly [number, number, number];
}

export interface DemoTrack {
  id: string;
  artist: DemoArtist;
  trackNumber: number;
  title: string;
  durationS: number;
  /** aevalsrc expression of the mono voice. */
  expr: string;
  /** Stereo position, -1 (left) .. 1 (right). */
  pan: number;
  isrc?: string;
  rights: RightsSpec[];
  /** Fade in at the start / out at the end (default both); a gapless pair fades only outside. */
  fades?: { in: boolean; out: boolean };
}

const NAMES: readonly [string, string][] = [
  ['Aurora Lane', 'Northern Hours'],
  ['The Fjords', 'Cold Water'],
  ['Kite Theory', 'Updraft'],
  ['Nightbus', 'Last Stop'],
  ['Sundial Choir', 'Noon'],
  ['Velvet Static', 'Hiss & Hum'],
  ['Mono Lisa', 'Portraits'],
  ['Paper Satellites', 'Low Orbit'],
  ['Glass Harbor', 'Tidelines'],
  ['Orchid Engine', 'Bloom Cycle'],
  ['Tin Lanterns', 'Dusk Songs'],
  ['Quiet Riot Club', 'Whispers'],
];
const CHORDS: readonly (readonly [number, number, number])[] = [
  [0, 4, 7], // major
  [0, 3, 7], // minor
  [0, 5, 7], // sus4
  [0, 4, 10], // dominant 7th (no fifth)
  [0, 3, 10], // minor 7th (no fifth)
  [0, 2, 7], // sus2
];
const TITLE_WORDS = [
  'Glow',
  'Drift',
  'Echoes',
  'Signal',
  'Harbor',
  'Ember',
  'Tide',
  'Static',
  'Bloom',
  'Orbit',
  'Lantern',
  'Frost',
];

/** The twelve artists of the short tracks (the long album and the gapless pair have their own). */
export const DEMO_ARTISTS: readonly DemoArtist[] = NAMES.map(([name, album], a) => ({
  id: `demo-artist-${String(a + 1).padStart(2, '0')}`,
  name,
  albumId: `demo-album-${String(a + 1).padStart(2, '0')}`,
  album,
  bpm: 72 + ((a * 17) % 72),
  chord: CHORDS[a % CHORDS.length]!,
}));

/** Far in the future: the "not yet released" track. */
export const FUTURE_RELEASE_MS = Date.UTC(2035, 0, 1);

const f = (hz: number) => hz.toFixed(3);

/**
 * One mono voice (the caller pans it): a plucked chord on the beat, two bars on the chord
 * and two a fourth up (a progression, not a drone), and a bass line. `st(0, ...)` keeps the
 * shared phase term in a register so ffmpeg evaluates it once per sample, not five times.
 */
function expression(root: number, chord: readonly number[], bpm: number, decay: number): string {
  const beat = 60 / bpm;
  const [a, b, c] = chord.map((s) => root * 2 ** (s / 12)) as [number, number, number];
  const phase = `st(0,if(lt(mod(t,${(8 * beat).toFixed(4)}),${(4 * beat).toFixed(4)}),1,1.3348)*2*PI*t)`;
  const chordSum = `sin(${f(a)}*ld(0))+sin(${f(b)}*ld(0))+0.7*sin(${f(c)}*ld(0))`;
  const bass = `0.18*sin(${f(root / 2)}*ld(0))*(0.6+0.4*sin(PI*t/${beat.toFixed(4)}))`;
  return `${phase};0.22*(${chordSum})*exp(-${decay}*mod(t,${beat.toFixed(4)}))+${bass}`;
}

function rightsOf(a: number, t: number): RightsSpec[] {
  const rows: RightsSpec[] = [{ territory: '*', allowed: true }];
  if (a === 2) rows.push({ territory: 'SE', allowed: false }); // a whole album blocked in Sweden
  if (a === 5 && t < 2) rows.push({ territory: 'US', allowed: false }); // two tracks blocked in the US
  if (a === 7 && t === 0) rows.push({ territory: 'JP', allowed: false }, { territory: 'DE', allowed: false });
  if (a === 9 && t === 4) rows[0] = { territory: '*', allowed: true, premiumOnly: true };
  if (a === 11 && t === 4) rows[0] = { territory: '*', allowed: true, availableFrom: FUTURE_RELEASE_MS };
  return rows;
}

const SHORT_TRACKS: DemoTrack[] = DEMO_ARTISTS.flatMap((artist, a) =>
  Array.from({ length: 5 }, (_, t): DemoTrack => {
    const n = a * 5 + t;
    const root = 110 * 2 ** (((n * 7) % 24) / 12);
    const track: DemoTrack = {
      id: `demo-t${String(n + 1).padStart(2, '0')}`,
      artist,
      trackNumber: t + 1,
      title: `${TITLE_WORDS[(a + t * 5) % TITLE_WORDS.length]} ${['I', 'II', 'III', 'IV', 'V'][t]}`,
      durationS: 17 + ((n * 7) % 9),
      expr: expression(root, artist.chord, artist.bpm + t * 4, 3 + (t % 3) * 2),
      pan: ((n % 5) - 2) / 5,
      rights: rightsOf(a, t),
    };
    if (t % 2 === 0) track.isrc = `QZDMO26${String(n + 1).padStart(5, '0')}`;
    return track;
  }),
);

const LONG_ARTIST: DemoArtist = {
  id: 'demo-artist-13',
  name: 'Long Division',
  albumId: 'demo-album-13',
  album: 'Long Form',
  bpm: 66,
  chord: [0, 4, 7],
};

/** Past the 30 s royalty threshold, so a demo play can be counted; allowed everywhere. */
const LONG_SECONDS = [45, 60, 75, 90] as const;

const LONG_TRACKS: DemoTrack[] = LONG_SECONDS.map((durationS, t) => {
  const n = 60 + t;
  return {
    id: `demo-t${n + 1}`,
    artist: LONG_ARTIST,
    trackNumber: t + 1,
    title: `Long Form ${['I', 'II', 'III', 'IV'][t]}`,
    durationS,
    expr: expression(110 * 2 ** ((t * 5) / 12), LONG_ARTIST.chord, LONG_ARTIST.bpm + t * 6, 2 + t),
    pan: 0,
    isrc: `QZDMO26${String(n + 1).padStart(5, '0')}`,
    rights: [{ territory: '*', allowed: true }],
  };
});

/**
 * The gapless pair's tone: partials at whole-hertz frequencies, so every partial completes a
 * whole number of cycles in any whole number of seconds. The second track starts its own
 * clock at 0 and still continues the first one's waveform sample for sample, whatever whole
 * length DEMO_TRACK_SECONDS cuts the first to.
 */
export const GAPLESS_TONE: readonly { hz: number; amp: number }[] = [
  { hz: 440, amp: 0.3 },
  { hz: 660, amp: 0.12 },
];

const GAPLESS_ARTIST: DemoArtist = {
  id: 'demo-artist-14',
  name: 'Seamless',
  albumId: 'demo-album-14',
  album: 'Gapless Pair',
  bpm: 60,
  chord: [0, 7, 12],
};

const toneExpr = GAPLESS_TONE.map((p) => `${p.amp}*sin(2*PI*${p.hz}*t)`).join('+');

const GAPLESS_TRACKS: DemoTrack[] = (['Across I', 'Across II'] as const).map((title, t) => ({
  id: `demo-t${65 + t}`,
  artist: GAPLESS_ARTIST,
  trackNumber: t + 1,
  title,
  durationS: 20,
  expr: toneExpr,
  pan: 0,
  rights: [{ territory: '*', allowed: true }],
  // No fade at the shared boundary: the tone must run straight through it.
  fades: { in: t === 0, out: t === 1 },
}));

export const DEMO_TRACKS: readonly DemoTrack[] = [...SHORT_TRACKS, ...LONG_TRACKS, ...GAPLESS_TRACKS];

export const DEMO_USERS = [
  { id: 'u1', displayName: 'Astrid (premium, SE)', plan: 'premium', country: 'SE', quality: 'high' },
  { id: 'u2', displayName: 'Ben (free, US)', plan: 'free', country: 'US', quality: 'normal' },
  { id: 'u3', displayName: 'Clara (premium, DE)', plan: 'premium', country: 'DE', quality: 'very_high' },
  { id: 'u4', displayName: 'Daiki (free, JP)', plan: 'free', country: 'JP', quality: 'low' },
  { id: 'u5', displayName: 'Elena (premium, BR)', plan: 'premium', country: 'BR', quality: 'normal' },
] as const;

export const DEMO_PLAYLIST_ID = 'demo-mix';
export const DEMO_COLLAB_PLAYLIST_ID = 'demo-collab';
export const DEMO_LONG_PLAYLIST_ID = 'demo-long';

const ids = (...n: number[]) => n.map((i) => `demo-t${String(i).padStart(2, '0')}`);

/** Playlists: owner, name, tracks, and (collaborative) entries added by collaborators. */
export const DEMO_PLAYLISTS = [
  // Playable for u1 in SE: no artist-3 tracks (blocked in SE) except one, last, to show a skip.
  {
    id: DEMO_PLAYLIST_ID,
    ownerId: 'u1',
    name: 'Demo Mix',
    public: true,
    collaborative: false,
    collaborators: [] as string[],
    trackIds: ids(1, 6, 16, 21, 26, 31, 36, 41, 46, 51, 2, 7, 11),
  },
  {
    id: DEMO_COLLAB_PLAYLIST_ID,
    ownerId: 'u1',
    name: 'Road Trip (collaborative)',
    public: true,
    collaborative: true,
    collaborators: ['u2', 'u3'],
    trackIds: ids(3, 8, 17, 22),
    addedByCollaborators: { u2: ids(27, 32), u3: ids(37) },
  },
  {
    id: 'demo-chill',
    ownerId: 'u2',
    name: 'Chill Tones',
    public: true,
    collaborative: false,
    collaborators: [] as string[],
    trackIds: ids(4, 9, 14, 19, 24, 29, 34, 39),
  },
  {
    id: 'demo-private',
    ownerId: 'u3',
    name: 'Private Sketches',
    public: false,
    collaborative: false,
    collaborators: [] as string[],
    trackIds: ids(5, 10, 15, 20),
  },
  {
    // Long plays that reach the royalty threshold, then the gapless pair back to back.
    id: DEMO_LONG_PLAYLIST_ID,
    ownerId: 'u1',
    name: 'Long Plays & Gapless',
    public: true,
    collaborative: false,
    collaborators: [] as string[],
    trackIds: ids(61, 62, 63, 64, 65, 66),
  },
] as const;
