import { describe, expect, test } from 'vitest';
import { playedSince, positionAt, reanchor, reportedPosition, seekAnchor } from './position.ts';

const D = 200_000;

describe('position', () => {
  test.each([
    // anchor, now, expected position
    [{ positionMs: 0, at: 1000, playing: true }, 1000, 0],
    [{ positionMs: 0, at: 1000, playing: true }, 6000, 5000],
    [{ positionMs: 5000, at: 1000, playing: false }, 90_000, 5000],
    [{ positionMs: 190_000, at: 0, playing: true }, 60_000, D],
    [{ positionMs: 1000, at: 5000, playing: true }, 4000, 1000],
  ])('position - %o at %i is %i', (anchor, now, expected) => {
    expect(positionAt(anchor, now, D)).toBe(expected);
  });

  test('position - reanchor keeps the position and switches play/pause', () => {
    const a = reanchor({ positionMs: 1000, at: 0, playing: true }, 4000, D, false);
    expect(a).toEqual({ positionMs: 5000, at: 4000, playing: false });
    expect(positionAt(a, 100_000, D)).toBe(5000);
  });

  test('position - seek clamps into the track', () => {
    expect(seekAnchor(-5, 10, D, true).positionMs).toBe(0);
    expect(seekAnchor(10 ** 9, 10, D, true).positionMs).toBe(D);
    expect(seekAnchor(1234.6, 10, D, false)).toEqual({ positionMs: 1235, at: 10, playing: false });
  });

  test('position - a device report sets the position, never past the ceiling moved on by wall time', () => {
    const ceiling = { positionMs: 10_000, at: 0, playing: true };
    expect(reportedPosition(ceiling, 25_000, 10_000, D)).toBe(20_000);
    expect(reportedPosition(ceiling, 18_000, 10_000, D)).toBe(18_000);
    expect(reportedPosition(ceiling, -3, 10_000, D)).toBe(0);
    expect(reportedPosition({ ...ceiling, playing: false }, 25_000, 10_000, D)).toBe(10_000);
  });

  test('position - ms played is wall time while playing, capped by the track end and by a stalled report', () => {
    expect(playedSince({ positionMs: 0, at: 0, playing: true }, 7000, D)).toBe(7000);
    expect(playedSince({ positionMs: 0, at: 0, playing: false }, 7000, D)).toBe(0);
    expect(playedSince({ positionMs: 195_000, at: 0, playing: true }, 60_000, D)).toBe(5000);
    expect(playedSince({ positionMs: 1000, at: 0, playing: true }, 10_000, D, 4000)).toBe(3000);
    expect(playedSince({ positionMs: 1000, at: 0, playing: true }, 10_000, D, 90_000)).toBe(10_000);
    expect(playedSince({ positionMs: 1000, at: 500, playing: true }, 100, D)).toBe(0);
  });
});
