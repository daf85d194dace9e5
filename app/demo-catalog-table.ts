/**
 * The demo catalog described from its data (demo-tracks.ts), never by hand: a compact summary
 * for `npm start`'s banner, and the full listing (users, playlists, albums, every track's
 * duration and rights) printed by `npm run demo -- catalog` and kept in README.md by a test.
 */
import type { RightsSpec } from '../origin/ingest/rights-sidecar.ts';
import { DEMO_PLAYLISTS, DEMO_TRACKS, DEMO_USERS, type DemoTrack } from './demo-tracks.ts';

/** The royalty rule's threshold, for the "counts a stream" column. */
const ROYALTY_THRESHOLD_S = 30;

const mmss = (s: number) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Who may play a track, in words: "everywhere", "blocked in SE", "premium only", ... */
export function rightsInWords(rights: readonly RightsSpec[]): string {
  const words: string[] = [];
  const world = rights.find((r) => r.territory === '*');
  if (!world?.allowed) words.push('allowed only where listed');
  if (world?.premiumOnly) words.push('premium only');
  if (world?.availableFrom !== undefined) words.push(`unavailable until ${day(world.availableFrom)}`);
  if (world?.availableUntil !== undefined) words.push(`unavailable after ${day(world.availableUntil)}`);
  const blocked = rights.filter((r) => r.territory !== '*' && !r.allowed).map((r) => r.territory);
  if (blocked.length) words.push(`blocked in ${blocked.join(', ')}`);
  return words.length ? words.join('; ') : 'everywhere';
}

const restricted = (t: DemoTrack) => rightsInWords(t.rights) !== 'everywhere';
const byId = new Map(DEMO_TRACKS.map((t) => [t.id, t]));
const playlistSeconds = (ids: readonly string[]) =>
  ids.reduce((s, id) => s + (byId.get(id)?.durationS ?? 0), 0);
/** A playlist's tracks, the collaborators' additions included. */
const tracksOf = (p: (typeof DEMO_PLAYLISTS)[number]): string[] => [
  ...p.trackIds,
  ...('addedByCollaborators' in p ? Object.values(p.addedByCollaborators).flat() : []),
];
const gapless = DEMO_TRACKS.filter((t) => t.fades && (!t.fades.in || !t.fades.out));

function table(head: string[], rows: string[][]): string[] {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

/** A few lines for the start-up banner: users, playlists, the tracks with restrictions. */
export function demoCatalogSummary(): string[] {
  const long = DEMO_TRACKS.filter((t) => t.durationS > ROYALTY_THRESHOLD_S);
  return [
    `users        ${DEMO_USERS.map((u) => `${u.id} ${u.plan} ${u.country}`).join(' | ')}`,
    ...DEMO_PLAYLISTS.map(
      (p) =>
        `playlist     spotify:playlist:${p.id}  "${p.name}" (${p.ownerId}, ${tracksOf(p).length} tracks, ${mmss(playlistSeconds(tracksOf(p)))}${p.public ? '' : ', private'}${p.collaborative ? `, collaborative with ${p.collaborators.join(', ')}` : ''})`,
    ),
    `tracks       ${DEMO_TRACKS.length}, ${Math.min(...DEMO_TRACKS.map((t) => t.durationS))}-${Math.max(...DEMO_TRACKS.map((t) => t.durationS))} s; past 30 s (royalty counts): ${long.map((t) => t.id).join(', ')}`,
    `gapless pair ${gapless.map((t) => t.id).join(' -> ')} (one tone across the boundary)`,
    ...DEMO_TRACKS.filter(restricted).map((t) => `restricted   ${t.id}  ${rightsInWords(t.rights)}`),
    `full listing npm run demo -- catalog`,
  ];
}

/** The whole catalog as Markdown (README.md's demo catalog section). */
export function demoCatalogMarkdown(): string {
  const out: string[] = [
    'Users (mint a token with `npm run token -- --user <id> --plan <plan> --country <country>`):',
    '',
  ];
  out.push(
    ...table(
      ['user', 'name', 'plan', 'country', 'quality'],
      DEMO_USERS.map((u) => [u.id, u.displayName, u.plan, u.country, u.quality]),
    ),
  );
  out.push('', 'Playlists:', '');
  out.push(
    ...table(
      ['uri', 'name', 'owner', 'public', 'collaborators', 'tracks', 'length'],
      DEMO_PLAYLISTS.map((p) => {
        const ids = tracksOf(p);
        return [
          `\`spotify:playlist:${p.id}\``,
          p.name,
          p.ownerId,
          p.public ? 'yes' : 'no',
          p.collaborators.join(', ') || '-',
          ids.map((id) => id.replace('demo-', '')).join(' '),
          mmss(playlistSeconds(ids)),
        ];
      }),
    ),
  );
  const restrictedTracks = DEMO_TRACKS.filter(restricted);
  out.push('', 'Tracks with restrictions (every other track plays everywhere, for every plan):', '');
  out.push(
    ...table(
      ['track', 'title', 'artist', 'rights'],
      restrictedTracks.map((t) => [`\`${t.id}\``, t.title, t.artist.name, rightsInWords(t.rights)]),
    ),
  );
  out.push(
    '',
    `Albums and tracks (\`spotify:album:<album id>\`, \`spotify:artist:<artist id>\`, \`spotify:track:<track id>\`; ` +
      `tracks past ${ROYALTY_THRESHOLD_S} s can count a royalty stream; ${gapless.map((t) => `\`${t.id}\``).join(' and ')} ` +
      'are the gapless pair: one tone runs from the first into the second, faded only at the outer ends):',
    '',
  );
  const albums = new Map<string, DemoTrack[]>();
  for (const t of DEMO_TRACKS) albums.set(t.artist.albumId, [...(albums.get(t.artist.albumId) ?? []), t]);
  out.push(
    ...table(
      ['album', 'artist', 'tracks (id title length)'],
      [...albums.values()].map((ts) => {
        const a = ts[0]!.artist;
        return [
          `\`${a.albumId}\` ${a.album}`,
          `\`${a.id}\` ${a.name}`,
          ts
            .map(
              (t) =>
                `${t.id.replace('demo-', '')} ${t.title} ${mmss(t.durationS)}${restricted(t) ? '*' : ''}`,
            )
            .join(', '),
        ];
      }),
    ),
  );
  out.push('', '`*`: restricted, see above. Track ids are `demo-tNN`.');
  return out.join('\n');
}
