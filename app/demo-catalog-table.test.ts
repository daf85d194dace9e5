import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDocBlock } from '../testkit/doc-block.ts';
import { demoCatalogMarkdown, demoCatalogSummary, rightsInWords } from './demo-catalog-table.ts';
import { DEMO_PLAYLISTS, DEMO_TRACKS, DEMO_USERS, FUTURE_RELEASE_MS } from './demo-tracks.ts';

describe('demo catalog - listing', () => {
  it('demo catalog - rights read as words', () => {
    expect(rightsInWords([{ territory: '*', allowed: true }])).toBe('everywhere');
    expect(
      rightsInWords([
        { territory: '*', allowed: true },
        { territory: 'JP', allowed: false },
        { territory: 'DE', allowed: false },
      ]),
    ).toBe('blocked in JP, DE');
    expect(rightsInWords([{ territory: '*', allowed: true, premiumOnly: true }])).toBe('premium only');
    expect(rightsInWords([{ territory: '*', allowed: true, availableFrom: FUTURE_RELEASE_MS }])).toBe(
      'unavailable until 2035-01-01',
    );
  });

  it('demo catalog - the listing names every user, playlist, album and track with its length', () => {
    const md = demoCatalogMarkdown();
    for (const u of DEMO_USERS) expect(md).toContain(`| ${u.id} | ${u.displayName} |`);
    for (const p of DEMO_PLAYLISTS) expect(md).toContain(`spotify:playlist:${p.id}`);
    for (const t of DEMO_TRACKS) {
      expect(md).toContain(`\`${t.artist.albumId}\``);
      expect(md).toMatch(new RegExp(`${t.id.replace('demo-', '')} ${t.title} \\d:\\d\\d`));
    }
    const summary = demoCatalogSummary().join('\n');
    expect(summary).toContain('demo-t11  blocked in SE');
    expect(summary).toContain('demo-t50  premium only');
    expect(summary).toContain('demo-t60  unavailable until 2035-01-01');
    expect(summary).toMatch(/past 30 s \(royalty counts\): demo-t61/);
  });

  it('demo catalog - README.md shows the generated listing', async () => {
    const stale = await checkDocBlock(
      join(import.meta.dirname, '..', 'README.md'),
      'demo-catalog',
      demoCatalogMarkdown(),
    );
    expect(stale).toBeUndefined();
  });
});
