import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRightsSidecar, readRightsSidecar, WORLDWIDE } from './rights-sidecar.ts';

const row = (extra: Record<string, unknown> = {}) => ({ territory: 'US', allowed: true, ...extra });
const reasonOf = (json: unknown) => {
  const r = parseRightsSidecar(json);
  if (r.ok) throw new Error(`accepted ${JSON.stringify(json)}`);
  return r.reason;
};

describe('rights sidecar - valid files', () => {
  it('rights sidecar - the documented example becomes one row per territory', () => {
    const r = parseRightsSidecar({
      territories: [
        { territory: '*', allowed: true },
        { territory: 'DE', allowed: false },
        { territory: 'US', allowed: true, availableFrom: '2030-01-01T00:00:00Z' },
        { territory: 'JP', allowed: true, premiumOnly: true },
      ],
    });
    expect(r).toEqual({
      ok: true,
      value: [
        { territory: '*', allowed: true },
        { territory: 'DE', allowed: false },
        { territory: 'US', allowed: true, availableFrom: Date.UTC(2030, 0, 1) },
        { territory: 'JP', allowed: true, premiumOnly: true },
      ],
    });
  });

  it('rights sidecar - a release window in epoch milliseconds is kept as given', () => {
    const r = parseRightsSidecar({ territories: [row({ availableFrom: 1000, availableUntil: 2000 })] });
    expect(r).toEqual({
      ok: true,
      value: [{ territory: 'US', allowed: true, availableFrom: 1000, availableUntil: 2000 }],
    });
  });
});

describe('rights sidecar - bad files get a reason naming the field', () => {
  it.each([
    ['not an object', null, '(root): must be object'],
    ['an array', [], '(root): must be object'],
    ['no territories', {}, '(root): missing field territories'],
    ['an unknown top-level key', { territories: [row()], note: 'x' }, '(root): unknown field "note"'],
    ['territories not a list', { territories: 'DE' }, 'territories: must be array'],
    ['an empty list', { territories: [] }, 'territories: must not have fewer than 1 items'],
    ['a missing allowed', { territories: [{ territory: 'DE' }] }, 'territories.0: missing field allowed'],
    [
      'allowed not a boolean',
      { territories: [row({ allowed: 'yes' })] },
      'territories.0.allowed: must be boolean',
    ],
    [
      'a country name',
      { territories: [row({ territory: 'Germany' })] },
      'territories.0.territory: ISO 3166-1 alpha-2 code or "*"',
    ],
    [
      'a lower-case code',
      { territories: [row({ territory: 'de' })] },
      'territories.0.territory: ISO 3166-1 alpha-2 code or "*"',
    ],
    [
      'an unknown territory key',
      { territories: [row({ region: 'EU' })] },
      'territories.0: unknown field "region"',
    ],
    [
      'a negative instant',
      { territories: [row({ availableFrom: -1 })] },
      'territories.0.availableFrom: epoch milliseconds (integer >= 0) or an ISO 8601 date',
    ],
    [
      'a fractional instant',
      { territories: [row({ availableUntil: 1.5 })] },
      'territories.0.availableUntil: epoch milliseconds (integer >= 0) or an ISO 8601 date',
    ],
    [
      'an unparsable date',
      { territories: [row(), row({ territory: 'DE', availableFrom: 'soon' })] },
      'territories.1.availableFrom: not an ISO 8601 date',
    ],
    [
      'premiumOnly not a boolean',
      { territories: [row({ premiumOnly: 1 })] },
      'territories.0.premiumOnly: must be boolean',
    ],
    ['a territory twice', { territories: [row(), row({ allowed: false })] }, 'territory US listed twice'],
    [
      'a window that ends before it starts',
      { territories: [row({ availableFrom: '2030-01-02', availableUntil: '2030-01-01' })] },
      'territory US: availableUntil is not after availableFrom',
    ],
  ])('rights sidecar - %s', (_name, json, reason) => {
    expect(reasonOf(json)).toBe(reason);
  });
});

describe('rights sidecar - reading the file beside the audio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rights-sidecar-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rights sidecar - no sidecar means worldwide', async () => {
    expect(await readRightsSidecar(join(dir, 'none.flac'))).toEqual({ ok: true, value: [...WORLDWIDE] });
  });

  it('rights sidecar - a sidecar that is not JSON is refused with the parser message', async () => {
    const audio = join(dir, 'broken.flac');
    writeFileSync(`${audio}.rights.json`, '{ "territories": [');
    const r = await readRightsSidecar(audio);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^rights sidecar is not JSON: /);
  });

  it('rights sidecar - a valid sidecar is read and parsed', async () => {
    const audio = join(dir, 'blocked.flac');
    writeFileSync(
      `${audio}.rights.json`,
      JSON.stringify({ territories: [{ territory: 'DE', allowed: false }] }),
    );
    expect(await readRightsSidecar(audio)).toEqual({
      ok: true,
      value: [{ territory: 'DE', allowed: false }],
    });
  });

  it('rights sidecar - an unreadable sidecar is refused, not treated as absent', async () => {
    const audio = join(dir, 'dir.flac');
    // A directory where the file should be: reading it fails with EISDIR, not ENOENT.
    mkdirSync(`${audio}.rights.json`);
    const r = await readRightsSidecar(audio);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/^cannot read rights sidecar: /);
  });
});
