import { describe, expect, test } from 'vitest';
import { chooseBitrate, startBitrate } from './bitrate.ts';
import { checkEntitlement } from './entitlement.ts';
import { fakeBundle } from '../testkit/fake-ports.ts';
import type { Plan, Quality, RightsRow } from './types.ts';

const NOW = 1_700_000_000_000;

describe('entitlement policy', () => {
  const cases: Array<[string, RightsRow[], Plan, string, string]> = [
    ['worldwide row allows', [{ territory: '*', allowed: true }], 'free', 'SE', 'ok'],
    ['territory row allows', [{ territory: 'SE', allowed: true }], 'free', 'SE', 'ok'],
    ['no row for the country', [{ territory: 'US', allowed: true }], 'free', 'SE', 'region_blocked'],
    [
      'territory block overrides worldwide allow',
      [
        { territory: '*', allowed: true },
        { territory: 'SE', allowed: false },
      ],
      'premium',
      'SE',
      'region_blocked',
    ],
    [
      'territory allow overrides worldwide block',
      [
        { territory: '*', allowed: false },
        { territory: 'SE', allowed: true },
      ],
      'premium',
      'se',
      'ok',
    ],
    ['worldwide block', [{ territory: '*', allowed: false }], 'premium', 'SE', 'region_blocked'],
    [
      'not released yet',
      [{ territory: '*', allowed: true, availableFrom: NOW + 1 }],
      'premium',
      'SE',
      'not_available',
    ],
    [
      'window closed',
      [{ territory: '*', allowed: true, availableUntil: NOW }],
      'premium',
      'SE',
      'not_available',
    ],
    [
      'inside the window',
      [{ territory: '*', allowed: true, availableFrom: NOW - 1, availableUntil: NOW + 1 }],
      'free',
      'SE',
      'ok',
    ],
    [
      'premium only, free plan',
      [{ territory: '*', allowed: true, premiumOnly: true }],
      'free',
      'SE',
      'premium_required',
    ],
    [
      'premium only, premium plan',
      [{ territory: '*', allowed: true, premiumOnly: true }],
      'premium',
      'SE',
      'ok',
    ],
    [
      'region before plan',
      [{ territory: 'US', allowed: true, premiumOnly: true }],
      'free',
      'SE',
      'region_blocked',
    ],
  ];
  test.each(cases)('entitlement - %s', (_name, rights, plan, country, expected) => {
    const v = checkEntitlement(fakeBundle({ id: 't', rights }), { plan, country }, NOW);
    expect(v.ok ? 'ok' : v.reason).toBe(expected);
  });

  test('entitlement - a track without audio is not available', () => {
    const b = { ...fakeBundle({ id: 't' }), files: [] };
    expect(checkEntitlement(b, { plan: 'premium', country: 'SE' }, NOW)).toEqual({
      ok: false,
      reason: 'not_available',
    });
  });
});

describe('bitrate policy', () => {
  const ladder = [24, 96, 160, 320];
  const cases: Array<[Quality, Plan, number | null, number, boolean]> = [
    ['low', 'premium', null, 24, false],
    ['normal', 'premium', null, 96, false],
    ['high', 'free', null, 160, false],
    ['very_high', 'free', null, 160, false],
    ['very_high', 'premium', null, 320, false],
    ['very_high', 'premium', 10_000, 320, false],
    ['very_high', 'premium', 300, 160, true],
    ['very_high', 'premium', 100, 24, true],
    ['high', 'premium', 240, 160, false],
    ['high', 'premium', 239, 96, true],
    ['low', 'premium', 1, 24, true],
  ];
  test.each(cases)(
    'bitrate - quality %s, plan %s, bandwidth %s -> %i (network limited %s)',
    (quality, plan, bw, kbps, limited) => {
      const c = chooseBitrate({ quality, plan, bandwidthKbps: bw, headroom: 1.5, available: ladder });
      expect(c.bitrateKbps).toBe(kbps);
      expect(c.limitedByNetwork).toBe(limited);
    },
  );

  test('bitrate - picks the highest encoded rung under the limit, else the lowest', () => {
    expect(
      chooseBitrate({
        quality: 'very_high',
        plan: 'premium',
        bandwidthKbps: null,
        headroom: 1.5,
        available: [96, 160],
      }).bitrateKbps,
    ).toBe(160);
    expect(
      chooseBitrate({
        quality: 'low',
        plan: 'premium',
        bandwidthKbps: null,
        headroom: 1.5,
        available: [96, 160],
      }).bitrateKbps,
    ).toBe(96);
  });

  test('bitrate - the first chunk uses the start bitrate, never above the play bitrate', () => {
    expect(startBitrate(ladder, 96, 320)).toBe(96);
    expect(startBitrate(ladder, 96, 24)).toBe(24);
    expect(startBitrate([160, 320], 96, 320)).toBe(160);
  });
});
