import { describe, expect, it } from 'vitest';
import { durableName, streamSettings, subjectsOverlap } from './jetstream-stream.ts';

describe('jetstream stream settings', () => {
  it('jetstream stream - subjects and consumer names follow the stream name', () => {
    expect(streamSettings().subjectPrefix).toBe('listen');
    const s = streamSettings({ stream: 'Tenant_B' });
    expect(s.subjectPrefix).toBe('tenant_b');
    expect(durableName(s, 'royalties')).toBe('Tenant_B_royalties');
    expect(streamSettings({ stream: 'X', subjectPrefix: 't.x' }).subjectPrefix).toBe('t.x');
  });

  it('jetstream stream - subject patterns overlap when one subject matches both', () => {
    const overlapping: [string, string][] = [
      ['listen.>', 'listen.>'],
      ['listen.>', 'listen.play.start'],
      ['listen.play.*', 'listen.*.start'],
      ['>', 'anything.at.all'],
      ['listen.*', 'listen.play'],
    ];
    const apart: [string, string][] = [
      ['listen.>', 'listen'],
      ['listen.>', 'tenant_b.>'],
      ['listen.play.*', 'listen.play'],
      ['listen.*', 'listen.play.start'],
      ['a.b', 'a.c'],
    ];
    for (const [a, b] of overlapping) {
      expect(subjectsOverlap(a, b), `${a} ~ ${b}`).toBe(true);
      expect(subjectsOverlap(b, a), `${b} ~ ${a}`).toBe(true);
    }
    for (const [a, b] of apart) {
      expect(subjectsOverlap(a, b), `${a} !~ ${b}`).toBe(false);
      expect(subjectsOverlap(b, a), `${b} !~ ${a}`).toBe(false);
    }
  });
});
