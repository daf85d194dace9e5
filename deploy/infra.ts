/**
 * `npm run infra -- up|down|status [nats|redis|cql|k6 ...]`
 *
 * Makes the real engines available on loopback for tests and benchmarks, installing what is
 * missing (Debian packages, Cassandra's Maven artefacts, k6 built with Go). Endpoints come
 * from NATS_URL, REDIS_URL and SCYLLA_CONTACT_POINTS (defaults in deploy/engine-urls.ts);
 * state (pids, logs, data) lives under .cache/infra/. Engines that already answer at the
 * configured endpoints are used as they are, and `down` leaves them alone.
 */
import { parseArgs } from 'node:util';
import { engineUrls } from './engine-urls.ts';
import { stateRoot } from './infra-state.ts';
import {
  down,
  parseEngineNames,
  status,
  up,
  type DownOutcome,
  type StatusOutcome,
  type UpOutcome,
} from './launcher.ts';

const USAGE = `usage: npm run infra -- <command> [engine ...]

commands:
  up      start (installing if needed) and wait until each engine answers
  down    stop the engines the launcher started (by their recorded pid)
  status  show what answers where and who started it

engines: nats redis cql k6 (default: all)

options:
  --wipe  with down: also delete the stopped engines' data (next start is cold)
  -h, --help`;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function upLine(outcome: UpOutcome): string {
  const name = outcome.engine.padEnd(5);
  switch (outcome.status) {
    case 'started':
      return (
        `${name} started   ${outcome.endpoint}  pid ${outcome.pid}  up in ${seconds(outcome.startMs)}` +
        `${outcome.installMs > 50 ? ` (+ install ${seconds(outcome.installMs)})` : ''}  ${outcome.detail}`
      );
    case 'running':
      return `${name} running   ${outcome.endpoint}  pid ${outcome.pid}  ${outcome.detail}`;
    case 'external':
      return `${name} external  ${outcome.endpoint}  ${outcome.detail} (already answering; not ours to stop)`;
    case 'installed':
      return `${name} ready     ${outcome.path}  ${outcome.version}${outcome.installMs > 1000 ? `  (built in ${seconds(outcome.installMs)})` : ''}`;
    case 'failed':
      return `${name} FAILED    ${outcome.error}`;
  }
}

const otherLine = (outcome: DownOutcome | StatusOutcome) =>
  `${outcome.engine.padEnd(5)} ${outcome.status.padEnd(13)} ${outcome.detail}`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      wipe: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const names = parseEngineNames(rest);
  switch (command) {
    case 'up': {
      const started = Date.now();
      const outcomes = await up(names, { startedBy: 'infra' });
      for (const outcome of outcomes) console.log(upLine(outcome));
      const urls = engineUrls();
      console.log(`all answered in ${seconds(Date.now() - started)}; state in ${stateRoot()}`);
      console.log(
        `NATS_URL=${urls.natsUrl} REDIS_URL=${urls.redisUrl} SCYLLA_CONTACT_POINTS=${urls.scyllaContactPoints}`,
      );
      return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
    }
    case 'down': {
      const outcomes = await down(names, { wipe: values.wipe });
      for (const outcome of outcomes) console.log(otherLine(outcome));
      return outcomes.some((o) => o.status === 'failed') ? 1 : 0;
    }
    case 'status': {
      for (const outcome of await status(names)) console.log(otherLine(outcome));
      return 0;
    }
    default:
      console.error(`unknown command ${command}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  },
);
