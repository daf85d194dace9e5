/**
 * `npm run cli -- [options] [command]`: the session client SDK from a terminal (the entry is
 * app/cli.ts, which adds dev-token minting; this module needs only protocol/ and the SDK).
 *
 *   npm run cli -- --user u1 play spotify:playlist:demo-mix
 *   npm run cli -- --token "$TOKEN" --device-id phone transfer laptop play
 *   npm run cli -- --user u1                      # interactive: type commands, see events
 *
 * One-shot: connects, says hello, runs the command, prints what it caused (the new state, and
 * the playback/prefetch when this device plays), and exits. Interactive: a readline prompt
 * with the same commands, printing every state/playback/prefetch/warning as it arrives.
 * Failures print a code and a reason and exit non-zero (see EXIT in cli-args.ts); a bad URL,
 * an unreachable server or a refused token is a one-line message, never a stack trace.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import WebSocket from 'ws';
import { closeInfo } from '../protocol/close-codes.ts';
import type { SessionState } from '../protocol/messages.ts';
import {
  CliUsageError,
  COMMAND_HELP,
  EXIT,
  USAGE,
  httpBaseOf,
  parseCliArgs,
  parseCommand,
  splitWords,
  type CliCommand,
  type CliOptions,
  type TokenSource,
} from './cli-args.ts';
import {
  formatChunk,
  formatClose,
  formatDevices,
  formatError,
  formatPlayback,
  formatPrefetch,
  formatState,
  formatWarning,
} from './cli-format.ts';
import {
  CommandQueueFullError,
  ConnectionClosedError,
  RequestTimeoutError,
  SessionRequestError,
} from './errors.ts';
import { PrefetchCache } from './prefetch-cache.ts';
import { SessionClient, type WebSocketCtor } from './session-client.ts';

/** Who a dev token is minted for (`--user`, `--plan`, `--country`). */
export type DevTokenRequest = Omit<Extract<TokenSource, { kind: 'mint' }>, 'kind'>;

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** SESSION_URL / SESSION_TOKEN. */
  env: Record<string, string | undefined>;
  /**
   * Mints a dev token for `--user` (the server side's secret is not the client's to know: the
   * entry point wires it in). Absent: only `--token` works.
   */
  mintToken?: (who: DevTokenRequest) => Promise<string>;
  /** Lines for interactive mode (default process.stdin). */
  input?: Readable;
  /** Whether to show a prompt (a terminal); default false. */
  prompt?: boolean;
}

/** A failure with the exit code it maps to and its one-line message. */
class CliFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Runs the CLI; resolves with the exit code. Never rejects. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let opts: CliOptions;
  try {
    const parsed = parseCliArgs(argv, io.env);
    if (parsed === 'help') {
      io.out(USAGE);
      return EXIT.ok;
    }
    opts = parsed;
  } catch (e) {
    if (e instanceof CliUsageError) {
      io.err(`error: ${e.message}`);
      io.err(`(npm run cli -- --help for usage)`);
      return EXIT.usage;
    }
    io.err(`error: ${(e as Error).message}`);
    return EXIT.usage;
  }
  let client: SessionClient | undefined;
  try {
    const token = await resolveToken(opts.token, io.mintToken);
    const session = await connect(opts, token, io);
    client = session.client;
    if (opts.command === undefined) return await interactive(session, io);
    return await oneShot(session, opts.command, opts, io);
  } catch (e) {
    const f = toFailure(e, opts);
    io.err(f.message);
    return f.exitCode;
  } finally {
    client?.close(1000, 'cli done');
  }
}

async function resolveToken(src: TokenSource, mint: CliIo['mintToken']): Promise<string> {
  if (src.kind === 'token') return src.token;
  if (!mint)
    throw new CliFailure(EXIT.usage, 'error: this client cannot mint dev tokens: pass --token <jwt>');
  try {
    return await mint({ user: src.user, plan: src.plan, country: src.country });
  } catch (e) {
    throw new CliFailure(EXIT.usage, `error: cannot mint a dev token: ${(e as Error)?.message ?? String(e)}`);
  }
}

const refusal = (e: SessionRequestError): string =>
  formatError({ code: e.code, reason: e.reason, message: e.detail, retry_after_ms: e.retryAfterMs });

/** Maps anything thrown to an exit code and a one-line message (no stack traces). */
function toFailure(e: unknown, opts: CliOptions): CliFailure {
  if (e instanceof CliFailure) return e;
  if (e instanceof SessionRequestError) return new CliFailure(EXIT.refused, refusal(e));
  if (e instanceof RequestTimeoutError) return new CliFailure(EXIT.connect, `error timeout: ${e.message}`);
  if (e instanceof ConnectionClosedError) {
    const info = closeInfo(e.closeCode);
    return new CliFailure(
      EXIT.connect,
      `error connection_closed: the server closed the connection (${e.closeCode}${e.closeReason ? ` ${e.closeReason}` : ''})` +
        (info ? `: ${info.description}` : ''),
    );
  }
  return new CliFailure(EXIT.connect, `error: ${(e as Error)?.message ?? String(e)} (server ${opts.url})`);
}

interface Session {
  client: SessionClient;
  cache: PrefetchCache | undefined;
  /** Play ids this device got a playback for, and prefetches it got (by after_play_id). */
  seenPlayback: Set<string>;
  seenPrefetch: Set<string>;
  /** Pending chunk verifications, awaited before a one-shot command exits. */
  chunkChecks: Promise<void>[];
  print(kind: string, text: string, frame?: unknown): void;
}

/** Connects and says hello; a network failure becomes a message naming the URL and the cause. */
async function connect(opts: CliOptions, token: string, io: CliIo): Promise<Session> {
  let networkError: Error | undefined;
  // ws's WebSocket with a handshake timeout, remembering the network error the SDK does not
  // surface (ECONNREFUSED, a 404 on the upgrade...), so the message can name the cause.
  class CliWebSocket extends WebSocket {
    constructor(url: string) {
      super(url, { handshakeTimeout: opts.timeoutMs });
      this.on('error', (err: Error) => (networkError = err));
    }
  }
  const print = (kind: string, text: string, frame?: unknown) =>
    io.out(
      opts.json
        ? JSON.stringify({ event: kind, ...(typeof frame === 'object' && frame ? frame : { text }) })
        : text,
    );
  const cache = opts.prefetch ? new PrefetchCache({ baseUrl: httpBaseOf(opts.url) }) : undefined;
  const client = new SessionClient({
    url: opts.url,
    token,
    device: opts.device,
    WebSocket: CliWebSocket as unknown as WebSocketCtor,
    requestTimeoutMs: opts.timeoutMs,
    // One-shot commands never reconnect; interactive mode does, once connected.
    reconnect: { enabled: opts.command === undefined, minDelayMs: 250, maxDelayMs: 5000 },
    ...(cache ? { prefetchCache: cache } : {}),
  });
  const session: Session = {
    client,
    cache,
    seenPlayback: new Set(),
    seenPrefetch: new Set(),
    chunkChecks: [],
    print,
  };
  const now = () => Date.now();
  // Until the first welcome, the welcome's state and a failed attempt's close are reported by
  // connect() itself (as the command's answer or one error line), not as events.
  let connected = false;
  client.on(
    'state',
    (s) => connected && print('state', formatState(s, now(), client.deviceId), { state: s }),
  );
  client.on('playback', (p) => {
    session.seenPlayback.add(p.play_id);
    print('playback', formatPlayback(p, now()), p);
  });
  client.on('prefetch', (f) => {
    session.seenPrefetch.add(f.after_play_id ?? '');
    print('prefetch', formatPrefetch(f), f);
    if (!cache) return;
    for (const url of f.items.flatMap((i) => (i.init_url ? [i.init_url, ...i.urls] : i.urls))) {
      session.chunkChecks.push(
        cache
          .fetchChunk(url)
          .then((r) => print('chunk', formatChunk(url, r), { url, ok: r.ok, attempts: r.attempts })),
      );
    }
  });
  client.on('warning', (w) => print('warning', formatWarning(w), w));
  client.on('error', (e) => print('error', formatError(e), e));
  client.on('close', (c) => {
    if (connected && c.code !== 1000) print('close', formatClose(c), c);
  });
  client.on(
    'reconnecting',
    (r) =>
      connected &&
      print('reconnecting', `reconnecting (attempt ${r.attempt}) in ${r.delayMs} ms: ${r.cause.message}`, {
        attempt: r.attempt,
        delayMs: r.delayMs,
        cause: r.cause.message,
      }),
  );
  client.on(
    'ended',
    (e) =>
      connected &&
      print('ended', `error ${e.reason}: ${e.message}`, {
        reason: e.reason,
        closeCode: e.closeCode,
        message: e.message,
      }),
  );
  try {
    const welcome = await client.connect();
    connected = true;
    print('welcome', `connected to ${opts.url} as device ${opts.device.id} (protocol ${welcome.protocol})`, {
      protocol: welcome.protocol,
    });
    return session;
  } catch (e) {
    client.close();
    if (e instanceof ConnectionClosedError && e.closeCode === 1006) {
      const cause = networkError?.message ?? 'connection failed';
      throw new CliFailure(EXIT.connect, `error unreachable: cannot connect to ${opts.url}: ${cause}`);
    }
    if (e instanceof SessionRequestError) throw new CliFailure(EXIT.connect, `${refusal(e)} (hello refused)`);
    throw e;
  }
}

/** Sends one command; resolves with a line to print (for commands that answer locally). */
async function execute(client: SessionClient, cmd: CliCommand): Promise<string | undefined> {
  switch (cmd.kind) {
    case 'play':
      await client.play({
        ...(cmd.context ? { context: cmd.context } : {}),
        ...(cmd.uris ? { uris: cmd.uris } : {}),
        ...(cmd.index !== undefined ? { offset: { index: cmd.index } } : {}),
      });
      return;
    case 'pause':
      return void (await client.pause());
    case 'resume':
      return void (await client.resume());
    case 'next':
      return void (await client.next());
    case 'previous':
      return void (await client.previous());
    case 'seek':
      return void (await client.seek(cmd.positionMs));
    case 'shuffle':
      return void (await client.shuffle(cmd.on));
    case 'repeat':
      return void (await client.repeat(cmd.mode));
    case 'queue':
      return void (await client.queueAdd(cmd.uri));
    case 'quality':
      return void (await client.quality(cmd.quality));
    case 'volume':
      return void (await client.volume(cmd.percent, cmd.deviceId));
    case 'transfer':
      return void (await client.transfer(cmd.deviceId, cmd.play));
    case 'ping': {
      const t = performance.now();
      await client.ping();
      return `pong in ${(performance.now() - t).toFixed(1)} ms`;
    }
    case 'state':
      return client.state ? formatState(client.state, Date.now(), client.deviceId) : 'no state yet';
    case 'devices':
      return client.state ? formatDevices(client.state, client.deviceId).join('\n') : 'no state yet';
    case 'help':
      return COMMAND_HELP;
    case 'watch':
    case 'quit':
      return;
  }
}

const newer = (a: SessionState | undefined, b: SessionState | undefined): boolean =>
  !!a && (!b || a.epoch !== b.epoch || a.version > b.version);

/**
 * After a one-shot command's ack: waits (bounded by --wait) for the state it caused and, when
 * this device is the active one and a new play started, for its playback and prefetch and
 * the chunk checks. Running out of time is not an error: some commands change nothing.
 */
async function settle(s: Session, before: SessionState | undefined, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  const left = () => Math.max(1, deadline - Date.now());
  const { client } = s;
  const quietly = (p: Promise<unknown>) =>
    p.then(
      () => true,
      () => false,
    );
  if (!newer(client.state, before)) await quietly(client.waitFor('state', { timeoutMs: left() }));
  const st = client.state;
  if (st?.play_id && st.active_device_id === client.deviceId && st.play_id !== before?.play_id) {
    const playId = st.play_id;
    if (!s.seenPlayback.has(playId))
      await quietly(client.waitFor('playback', { timeoutMs: left(), filter: (p) => p.play_id === playId }));
    if (!s.seenPrefetch.has(playId))
      await quietly(
        client.waitFor('prefetch', { timeoutMs: left(), filter: (f) => f.after_play_id === playId }),
      );
  }
  await Promise.race([Promise.all(s.chunkChecks), new Promise((r) => setTimeout(r, left()).unref())]);
}

async function oneShot(s: Session, cmd: CliCommand, opts: CliOptions, io: CliIo): Promise<number> {
  const before = s.client.state;
  const t = performance.now();
  const line = await execute(s.client, cmd);
  if (line !== undefined) {
    s.print(cmd.kind, line);
    return EXIT.ok;
  }
  if (cmd.kind === 'watch') return watch(s, io);
  s.print('ack', `ok: ${cmd.kind} acknowledged in ${(performance.now() - t).toFixed(1)} ms`, {
    command: cmd.kind,
  });
  await settle(s, before, opts.waitMs);
  return EXIT.ok;
}

/** Prints events until the input ends or the connection closes for good. */
function watch(s: Session, io: CliIo): Promise<number> {
  return new Promise((resolve) => {
    s.client.on('ended', (e) => resolve(e.reason === 'normal_close' ? EXIT.ok : EXIT.connect));
    const stop = () => resolve(EXIT.ok);
    process.once('SIGINT', stop);
    io.input?.once('end', stop);
  });
}

async function interactive(s: Session, io: CliIo): Promise<number> {
  const rl = createInterface({ input: io.input ?? process.stdin, terminal: false });
  if (s.client.state)
    s.print('state', formatState(s.client.state, Date.now(), s.client.deviceId), { state: s.client.state });
  s.print('hint', "type 'help' for commands, 'quit' to leave");
  let closedForGood = false;
  s.client.on('ended', () => {
    closedForGood = true;
    rl.close();
  });
  const prompt = () => {
    if (io.prompt) process.stdout.write('> ');
  };
  prompt();
  // Lines run one after another (a command awaits its ack before the next is read).
  for await (const raw of rl) {
    const words = splitWords(raw);
    if (words.length === 0) {
      prompt();
      continue;
    }
    let cmd: CliCommand;
    try {
      cmd = parseCommand(words);
    } catch (e) {
      s.print('usage', `error: ${(e as Error).message}`);
      prompt();
      continue;
    }
    if (cmd.kind === 'quit') break;
    try {
      const t = performance.now();
      const line = await execute(s.client, cmd);
      s.print(
        cmd.kind,
        line ?? `ok: ${cmd.kind} (${(performance.now() - t).toFixed(1)} ms)`,
        line ? undefined : { command: cmd.kind, ok: true },
      );
    } catch (e) {
      if (!(
        e instanceof SessionRequestError ||
        e instanceof ConnectionClosedError ||
        e instanceof RequestTimeoutError ||
        e instanceof CommandQueueFullError
      ))
        throw e;
      s.print(
        'error',
        e instanceof SessionRequestError ? refusal(e) : `error ${e.name}: ${e.message}`,
        e instanceof SessionRequestError ? { code: e.code, reason: e.reason, message: e.message } : undefined,
      );
    }
    prompt();
  }
  rl.close();
  // A refused command was printed and the prompt went on; only a lost connection fails the run.
  return closedForGood ? EXIT.connect : EXIT.ok;
}
