import { describe, expect, it } from 'vitest';
import {
  CliUsageError,
  DEFAULT_CLI_URL,
  httpBaseOf,
  parseCliArgs,
  parseCommand,
  splitWords,
  type CliOptions,
} from './cli-args.ts';

const ok = (argv: string[], env: Record<string, string> = {}): CliOptions => {
  const r = parseCliArgs(argv, env);
  if (r === 'help') throw new Error('unexpected help');
  return r;
};
const usageError = (argv: string[], env: Record<string, string> = {}): string => {
  try {
    parseCliArgs(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(CliUsageError);
    return (e as Error).message;
  }
  throw new Error(`expected a usage error for ${argv.join(' ')}`);
};

describe('cli args - connection options', () => {
  it('cli args - defaults with a given token', () => {
    const o = ok(['--token', 'abc.def.ghi', 'state']);
    expect(o).toMatchObject({
      url: DEFAULT_CLI_URL,
      token: { kind: 'token', token: 'abc.def.ghi' },
      device: { id: 'cli', type: 'computer' },
      timeoutMs: 5000,
      json: false,
      prefetch: false,
      command: { kind: 'state' },
    });
  });

  it('cli args - --user mints with plan and country defaults, country upper-cased', () => {
    expect(ok(['--user', 'u1']).token).toEqual({ kind: 'mint', user: 'u1', plan: 'premium', country: 'SE' });
    expect(ok(['--user', 'u2', '--plan', 'free', '--country', 'us']).token).toEqual({
      kind: 'mint',
      user: 'u2',
      plan: 'free',
      country: 'US',
    });
  });

  it('cli args - token and url from the environment, flags win', () => {
    const o = ok([], { SESSION_TOKEN: 't.o.k', SESSION_URL: 'ws://10.0.0.1:9000/v1/ws' });
    expect(o.token).toEqual({ kind: 'token', token: 't.o.k' });
    expect(o.url).toBe('ws://10.0.0.1:9000/v1/ws');
    expect(o.command).toBeUndefined(); // interactive
    expect(ok(['--url', 'wss://a.example/v1/ws'], { SESSION_TOKEN: 'x' }).url).toBe('wss://a.example/v1/ws');
  });

  it('cli args - --help', () => {
    expect(parseCliArgs(['--help'])).toBe('help');
    expect(parseCliArgs(['--token', 'x', '-h', 'play'])).toBe('help');
  });

  it('cli args - a missing or conflicting token source is a clear error', () => {
    expect(usageError(['state'])).toMatch(/no token: pass --token/);
    expect(usageError(['--token', 'a', '--user', 'u1'])).toMatch(/either --token or --user/);
    expect(usageError(['--plan', 'free', '--token', 'x'])).toMatch(/either --token or --user/);
    expect(usageError(['--country', 'SE'])).toMatch(/need --user/);
    expect(usageError(['--token', '  '])).toMatch(/--token is empty/);
  });

  it('cli args - bad values name the option and the expected shape', () => {
    expect(usageError(['--user', 'u 1'])).toMatch(/--user 'u 1' must be/);
    expect(usageError(['--user', 'u1', '--plan', 'gold'])).toMatch(
      /--plan must be one of free, premium, got 'gold'/,
    );
    expect(usageError(['--user', 'u1', '--country', 'Sweden'])).toMatch(/two-letter ISO code/);
    expect(usageError(['--user', 'u1', '--device-type', 'toaster'])).toMatch(
      /--device-type must be one of computer/,
    );
    expect(usageError(['--user', 'u1', '--device-id', 'a/b'])).toMatch(/--device-id/);
    expect(usageError(['--user', 'u1', '--timeout=-5'])).toMatch(/--timeout must be a whole number/);
    expect(usageError(['--user', 'u1', '--timeout', '-5'])).toMatch(
      /Option '--timeout' argument is ambiguous/,
    );
    expect(usageError(['--user', 'u1', '--wait', '1.5'])).toMatch(/--wait must be a whole number/);
  });

  it('cli args - unknown options and missing option values', () => {
    expect(usageError(['--user', 'u1', '--frobnicate'])).toMatch(/Unknown option '--frobnicate'/);
    expect(usageError(['--user'])).toMatch(/--user/);
  });

  it('cli args - bad server URLs get a message saying what to use', () => {
    expect(usageError(['--user', 'u1', '--url', 'not a url'])).toMatch(
      /is not a URL \(expected e\.g\. ws:\/\//,
    );
    expect(usageError(['--user', 'u1', '--url', 'http://127.0.0.1:8080'])).toMatch(
      /HTTP URL; the session server speaks WebSocket: use ws:\/\/127\.0\.0\.1:8080\/v1\/ws/,
    );
    expect(usageError(['--user', 'u1', '--url', 'ftp://x/y'])).toMatch(/must start with ws:\/\/ or wss:\/\//);
  });

  it('cli args - interactive-only commands are refused one-shot', () => {
    expect(usageError(['--user', 'u1', 'quit'])).toMatch(/interactive prompt/);
  });

  it('cli args - the http base beside a ws url', () => {
    expect(httpBaseOf('ws://127.0.0.1:8080/v1/ws')).toBe('http://127.0.0.1:8080');
    expect(httpBaseOf('wss://edge.example/v1/ws')).toBe('https://edge.example');
  });
});

describe('cli args - commands', () => {
  const bad = (line: string): string => {
    try {
      parseCommand(splitWords(line));
    } catch (e) {
      expect(e).toBeInstanceOf(CliUsageError);
      return (e as Error).message;
    }
    throw new Error(`expected '${line}' to be refused`);
  };

  it('cli args - play a context, from an index, or a list of tracks', () => {
    expect(parseCommand(['play', 'spotify:playlist:demo-mix'])).toEqual({
      kind: 'play',
      context: 'spotify:playlist:demo-mix',
    });
    expect(parseCommand(['play', 'spotify:album:a1', '4'])).toEqual({
      kind: 'play',
      context: 'spotify:album:a1',
      index: 4,
    });
    expect(parseCommand(['play', 'spotify:track:a', 'spotify:track:b'])).toEqual({
      kind: 'play',
      uris: ['spotify:track:a', 'spotify:track:b'],
    });
  });

  it('cli args - the other commands', () => {
    expect(parseCommand(['next'])).toEqual({ kind: 'next' });
    expect(parseCommand(['prev'])).toEqual({ kind: 'previous' });
    expect(parseCommand(['seek', '1:05'])).toEqual({ kind: 'seek', positionMs: 65_000 });
    expect(parseCommand(['seek', '1:00:00'])).toEqual({ kind: 'seek', positionMs: 3_600_000 });
    expect(parseCommand(['seek', '1500'])).toEqual({ kind: 'seek', positionMs: 1500 });
    expect(parseCommand(['shuffle', 'on'])).toEqual({ kind: 'shuffle', on: true });
    expect(parseCommand(['repeat', 'track'])).toEqual({ kind: 'repeat', mode: 'track' });
    expect(parseCommand(['queue', 'spotify:track:t9'])).toEqual({ kind: 'queue', uri: 'spotify:track:t9' });
    expect(parseCommand(['quality', 'very_high'])).toEqual({ kind: 'quality', quality: 'very_high' });
    expect(parseCommand(['volume', '40', 'phone'])).toEqual({
      kind: 'volume',
      percent: 40,
      deviceId: 'phone',
    });
    expect(parseCommand(['transfer', 'phone'])).toEqual({ kind: 'transfer', deviceId: 'phone' });
    expect(parseCommand(['transfer', 'phone', 'pause'])).toEqual({
      kind: 'transfer',
      deviceId: 'phone',
      play: false,
    });
    expect(parseCommand(['exit'])).toEqual({ kind: 'quit' });
  });

  it('cli args - bad commands say what is expected', () => {
    expect(bad('fly')).toMatch(/unknown command 'fly'/);
    expect(bad('play')).toMatch(/usage: play <context-uri>/);
    expect(bad('play demo-mix')).toMatch(/'demo-mix' is not a uri like spotify:playlist:demo-mix/);
    expect(bad('play spotify:playlist:p x')).toMatch(/play index 'x' must be a track number/);
    expect(bad('play spotify:track:a spotify:album:b')).toMatch(/'spotify:album:b' is not a track uri/);
    expect(bad('play spotify:playlist:p 1 2')).toMatch(/usage: play <context-uri> \[index\]/);
    expect(bad('next now')).toMatch(/next \(takes no arguments\)/);
    expect(bad('seek')).toMatch(/usage: seek/);
    expect(bad('seek 1:75')).toMatch(/milliseconds or m:ss/);
    expect(bad('seek -3')).toMatch(/milliseconds or m:ss/);
    expect(bad('shuffle maybe')).toMatch(/shuffle must be one of on, off, got 'maybe'/);
    expect(bad('repeat all')).toMatch(/repeat must be one of off, context, track/);
    expect(bad('queue spotify:playlist:p')).toMatch(/not a track uri/);
    expect(bad('quality ultra')).toMatch(/quality must be one of low, normal, high, very_high/);
    expect(bad('volume 101')).toMatch(/whole percent 0-100/);
    expect(bad('volume loud')).toMatch(/whole percent 0-100/);
    expect(bad('transfer')).toMatch(/usage: transfer <device-id>/);
    expect(bad('transfer phone now')).toMatch(/transfer mode must be one of play, pause/);
  });

  it('cli args - interactive lines split on spaces with quotes kept together', () => {
    expect(splitWords('  transfer "living room"  play ')).toEqual(['transfer', 'living room', 'play']);
    expect(splitWords("volume 10 'my phone'")).toEqual(['volume', '10', 'my phone']);
    expect(splitWords('')).toEqual([]);
  });
});
