/**
 * Argument handling of the session CLI (`npm run cli -- ...`), pure so it is tested alone:
 * the connection options (node:util parseArgs) and the command grammar shared by one-shot
 * commands and the interactive prompt. Every bad input becomes a CliUsageError whose message
 * says what was wrong and what is expected; nothing here touches the network.
 */
import { parseArgs } from 'node:util';
import {
  DEVICE_TYPES,
  QUALITIES,
  REPEAT_MODES,
  type DeviceType,
  type Quality,
  type RepeatMode,
} from '../protocol/messages.ts';
import { parseUri } from '../protocol/uris.ts';

export const DEFAULT_CLI_URL = 'ws://127.0.0.1:8080/v1/ws';
export const DEFAULT_DEVICE_ID = 'cli';
export const DEFAULT_DEVICE_NAME = 'Session CLI';
export const DEFAULT_TIMEOUT_MS = 5000;
/** How long a one-shot command keeps listening for the state/playback its command caused. */
export const DEFAULT_WAIT_MS = 2000;

export const EXIT = {
  ok: 0,
  /** The server refused a command (error frame): code/reason printed. */
  refused: 1,
  /** Bad arguments. */
  usage: 2,
  /** Could not connect or authenticate (bad URL, server down, bad or expired token). */
  connect: 3,
} as const;

export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

export type CliCommand =
  | { kind: 'play'; context?: string; uris?: string[]; index?: number }
  | {
      kind:
        'pause' | 'resume' | 'next' | 'previous' | 'state' | 'devices' | 'ping' | 'watch' | 'help' | 'quit';
    }
  | { kind: 'seek'; positionMs: number }
  | { kind: 'shuffle'; on: boolean }
  | { kind: 'repeat'; mode: RepeatMode }
  | { kind: 'queue'; uri: string }
  | { kind: 'quality'; quality: Quality }
  | { kind: 'volume'; percent: number; deviceId?: string }
  | { kind: 'transfer'; deviceId: string; play?: boolean };

/** Where the token comes from: given, or minted here with the dev signing secret. */
export type TokenSource =
  | { kind: 'token'; token: string }
  | { kind: 'mint'; user: string; plan: 'free' | 'premium'; country: string };

export interface CliOptions {
  url: string;
  token: TokenSource;
  device: { id: string; name: string; type: DeviceType };
  timeoutMs: number;
  waitMs: number;
  json: boolean;
  prefetch: boolean;
  /** Undefined: interactive mode. */
  command: CliCommand | undefined;
}

export const COMMAND_HELP = `commands:
  play <context-uri> [index]       play a playlist/album/artist, optionally from track <index>
  play <track-uri> [track-uri...]  play a list of tracks
  pause | resume | next | previous
  seek <ms | m:ss>                 seek in the current track
  shuffle on|off                   repeat off|context|track
  queue <track-uri>                add to the user queue
  quality low|normal|high|very_high
  volume <0-100> [device-id]
  transfer <device-id> [play|pause]
  state | devices | ping           print the session state / devices / round trip
  watch                            (one-shot) stay connected and print events until Ctrl-C
  help | quit                      (interactive)`;

export const USAGE = `usage: npm run cli -- [options] [command [args...]]
  no command: interactive mode (type 'help' at the prompt)

options:
  --url <ws-url>            server WebSocket URL (default ${DEFAULT_CLI_URL}, or $SESSION_URL)
  --token <jwt>             session token (or $SESSION_TOKEN)
  --user <id>               mint a dev token for this user instead (with the server's JWT_SECRET,
  --plan free|premium         the development secret when unset); default plan premium,
  --country <CC>              country SE
  --device-id <id>          this device's id (default ${DEFAULT_DEVICE_ID})
  --device-name <name>      (default "${DEFAULT_DEVICE_NAME}")
  --device-type <type>      ${DEVICE_TYPES.join('|')} (default computer)
  --timeout <ms>            request timeout (default ${DEFAULT_TIMEOUT_MS})
  --wait <ms>               how long a one-shot command waits for its effects (default ${DEFAULT_WAIT_MS})
  --prefetch                fetch and verify the chunks prefetch frames name
  --json                    print frames as JSON lines instead of text
  -h, --help

${COMMAND_HELP}

exit codes: 0 ok, 1 command refused by the server, 2 bad arguments, 3 cannot connect or authenticate`;

const ID = /^[A-Za-z0-9_.:@-]{1,64}$/;

function positiveInt(name: string, raw: string, max = 3_600_000): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n <= 0 || n > max) {
    throw new CliUsageError(
      `${name} must be a whole number of milliseconds between 1 and ${max}, got '${raw}'`,
    );
  }
  return n;
}

function oneOf<T extends string>(what: string, raw: string | undefined, allowed: readonly T[]): T {
  if (raw !== undefined && (allowed as readonly string[]).includes(raw)) return raw as T;
  throw new CliUsageError(
    `${what} must be one of ${allowed.join(', ')}${raw === undefined ? '' : `, got '${raw}'`}`,
  );
}

/** Checks a ws:// or wss:// URL with a host; the message names what is wrong. */
export function parseServerUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new CliUsageError(`--url '${raw}' is not a URL (expected e.g. ${DEFAULT_CLI_URL})`);
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') {
    throw new CliUsageError(
      `--url '${raw}' is an HTTP URL; the session server speaks WebSocket: use ws://${u.host}${u.pathname === '/' ? '/v1/ws' : u.pathname}`,
    );
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new CliUsageError(`--url '${raw}' must start with ws:// or wss://`);
  }
  if (!u.hostname) throw new CliUsageError(`--url '${raw}' has no host`);
  return u.toString();
}

/** The http(s) origin beside a ws(s) URL: where chunk URLs (`/o/...`) are fetched. */
export function httpBaseOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

/** Parses the process arguments (after `--`); `env` supplies SESSION_URL / SESSION_TOKEN. */
export function parseCliArgs(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        url: { type: 'string' },
        token: { type: 'string' },
        user: { type: 'string' },
        plan: { type: 'string' },
        country: { type: 'string' },
        'device-id': { type: 'string' },
        'device-name': { type: 'string' },
        'device-type': { type: 'string' },
        timeout: { type: 'string' },
        wait: { type: 'string' },
        prefetch: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // parseArgs' messages name the option ("Unknown option '--foo'"); keep them, drop the stack.
    throw new CliUsageError((e as Error).message.split('. To specify')[0]!);
  }
  const v = parsed.values;
  if (v.help) return 'help';

  const url = parseServerUrl(v.url ?? env.SESSION_URL ?? DEFAULT_CLI_URL);

  const minting = v.user !== undefined || v.plan !== undefined || v.country !== undefined;
  const given = v.token ?? env.SESSION_TOKEN;
  if (v.token !== undefined && minting)
    throw new CliUsageError('give either --token or --user/--plan/--country (to mint a dev token), not both');
  let token: TokenSource;
  if (minting) {
    if (v.user === undefined)
      throw new CliUsageError('--plan/--country need --user <id> to mint a dev token');
    if (!ID.test(v.user)) throw new CliUsageError(`--user '${v.user}' must be 1-64 letters, digits or _.:@-`);
    const plan = oneOf('--plan', v.plan ?? 'premium', ['free', 'premium'] as const);
    const country = (v.country ?? 'SE').toUpperCase();
    if (!/^[A-Z]{2}$/.test(country))
      throw new CliUsageError(`--country must be a two-letter ISO code like SE, got '${v.country}'`);
    token = { kind: 'mint', user: v.user, plan, country };
  } else if (given !== undefined) {
    if (given.trim() === '') throw new CliUsageError('--token is empty');
    token = { kind: 'token', token: given.trim() };
  } else {
    throw new CliUsageError(
      'no token: pass --token <jwt> (or set SESSION_TOKEN), or --user <id> to mint a dev token',
    );
  }

  const deviceId = v['device-id'] ?? DEFAULT_DEVICE_ID;
  if (!ID.test(deviceId))
    throw new CliUsageError(`--device-id '${deviceId}' must be 1-64 letters, digits or _.:@-`);
  const deviceName = v['device-name'] ?? DEFAULT_DEVICE_NAME;
  if (deviceName.length === 0 || deviceName.length > 64)
    throw new CliUsageError('--device-name must be 1-64 characters');
  const deviceType = oneOf('--device-type', v['device-type'] ?? 'computer', DEVICE_TYPES);

  const command = parsed.positionals.length > 0 ? parseCommand(parsed.positionals) : undefined;
  if (command?.kind === 'quit' || command?.kind === 'help') {
    throw new CliUsageError(
      `'${command.kind}' is for the interactive prompt; run without a command for interactive mode`,
    );
  }
  return {
    url,
    token,
    device: { id: deviceId, name: deviceName, type: deviceType },
    timeoutMs: v.timeout === undefined ? DEFAULT_TIMEOUT_MS : positiveInt('--timeout', v.timeout),
    waitMs: v.wait === undefined ? DEFAULT_WAIT_MS : positiveInt('--wait', v.wait),
    json: v.json ?? false,
    prefetch: v.prefetch ?? false,
    command,
  };
}

/** Splits an interactive line into words (double or single quotes keep spaces). */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3]!);
  return words;
}

/** `ms`, `m:ss` or `h:mm:ss` to milliseconds. */
function parsePosition(raw: string | undefined): number {
  if (raw === undefined) throw new CliUsageError('seek needs a position: milliseconds or m:ss');
  if (/^\d+$/.test(raw)) return Number(raw);
  const m = /^(?:(\d+):)?(\d+):([0-5]\d)$/.exec(raw);
  if (!m) throw new CliUsageError(`seek position '${raw}' must be milliseconds or m:ss`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000;
}

function expectArgs(words: readonly string[], min: number, max: number, shape: string): void {
  const n = words.length - 1;
  if (n < min || n > max) throw new CliUsageError(`usage: ${shape}`);
}

/** Parses one command (its words); throws CliUsageError naming the expected shape. */
export function parseCommand(words: readonly string[]): CliCommand {
  const [name, ...args] = words;
  switch (name) {
    case 'play': {
      if (args.length === 0)
        throw new CliUsageError('usage: play <context-uri> [index] | play <track-uri> [track-uri...]');
      const first = parseUri(args[0]!);
      if (!first)
        throw new CliUsageError(
          `'${args[0]}' is not a uri like spotify:playlist:demo-mix or spotify:track:<id>`,
        );
      if (first.kind !== 'track') {
        expectArgs(words, 1, 2, 'play <context-uri> [index]');
        if (args[1] === undefined) return { kind: 'play', context: args[0]! };
        if (!/^\d{1,6}$/.test(args[1]))
          throw new CliUsageError(`play index '${args[1]}' must be a track number from 0`);
        return { kind: 'play', context: args[0]!, index: Number(args[1]) };
      }
      for (const u of args) {
        if (parseUri(u)?.kind !== 'track')
          throw new CliUsageError(`'${u}' is not a track uri (spotify:track:<id>); a list plays tracks only`);
      }
      return { kind: 'play', uris: args };
    }
    case 'pause':
    case 'resume':
    case 'next':
    case 'previous':
    case 'state':
    case 'devices':
    case 'ping':
    case 'watch':
    case 'help':
    case 'quit':
      expectArgs(words, 0, 0, `${name} (takes no arguments)`);
      return { kind: name };
    case 'prev':
      expectArgs(words, 0, 0, 'prev (takes no arguments)');
      return { kind: 'previous' };
    case 'exit':
      return { kind: 'quit' };
    case 'seek':
      expectArgs(words, 1, 1, 'seek <ms | m:ss>');
      return { kind: 'seek', positionMs: parsePosition(args[0]) };
    case 'shuffle':
      expectArgs(words, 1, 1, 'shuffle on|off');
      return { kind: 'shuffle', on: oneOf('shuffle', args[0], ['on', 'off'] as const) === 'on' };
    case 'repeat':
      expectArgs(words, 1, 1, `repeat ${REPEAT_MODES.join('|')}`);
      return { kind: 'repeat', mode: oneOf('repeat', args[0], REPEAT_MODES) };
    case 'queue':
      expectArgs(words, 1, 1, 'queue <track-uri>');
      if (parseUri(args[0]!)?.kind !== 'track')
        throw new CliUsageError(`'${args[0]}' is not a track uri (spotify:track:<id>)`);
      return { kind: 'queue', uri: args[0]! };
    case 'quality':
      expectArgs(words, 1, 1, `quality ${QUALITIES.join('|')}`);
      return { kind: 'quality', quality: oneOf('quality', args[0], QUALITIES) };
    case 'volume': {
      expectArgs(words, 1, 2, 'volume <0-100> [device-id]');
      const pct = Number(args[0]);
      if (!/^\d{1,3}$/.test(args[0]!) || pct > 100)
        throw new CliUsageError(`volume '${args[0]}' must be a whole percent 0-100`);
      return { kind: 'volume', percent: pct, ...(args[1] !== undefined ? { deviceId: args[1] } : {}) };
    }
    case 'transfer': {
      expectArgs(words, 1, 2, 'transfer <device-id> [play|pause]');
      if (!ID.test(args[0]!))
        throw new CliUsageError(`device id '${args[0]}' must be 1-64 letters, digits or _.:@-`);
      const how =
        args[1] === undefined ? undefined : oneOf('transfer mode', args[1], ['play', 'pause'] as const);
      return { kind: 'transfer', deviceId: args[0]!, ...(how ? { play: how === 'play' } : {}) };
    }
    case undefined:
      throw new CliUsageError('no command');
    default:
      throw new CliUsageError(`unknown command '${name}' (try 'help' or --help)`);
  }
}
