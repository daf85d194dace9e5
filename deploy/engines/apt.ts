/**
 * Installs Debian packages the engines need when their binary is missing. `apt-get update`
 * runs once per launcher, and installs run one at a time (dpkg holds a lock), even when
 * engines are prepared in parallel.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { constants, accessSync } from 'node:fs';
import { delimiter, join } from 'node:path';

const run = promisify(execFile);

/** Absolute path of `binary` on PATH (plus the sbin dirs where Debian puts servers), or null. */
export function findBinary(binary: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

let updated: Promise<void> | null = null;
let queue: Promise<unknown> = Promise.resolve();

async function aptGet(args: string[], log: (m: string) => void): Promise<void> {
  log(`apt-get ${args.join(' ')}`);
  try {
    await run('apt-get', args, {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `apt-get ${args.join(' ')} failed (the launcher installs engines with apt and needs root): ` +
        `${(e.stderr ?? e.message).trim().split('\n').slice(-5).join('\n')}`,
    );
  }
}

/** Installs Debian package `pkg` (after one `apt-get update`), one install at a time. */
export async function aptInstall(
  pkg: string,
  log: (m: string) => void,
  isDone: () => boolean,
): Promise<void> {
  const install = queue.then(async () => {
    if (isDone()) return;
    updated ??= aptGet(['update', '-q'], log);
    await updated;
    await aptGet(['install', '-y', '-q', '--no-install-recommends', pkg], log);
  });
  queue = install.catch(() => undefined);
  await install;
}

/** Makes sure `binary` exists, installing Debian package `pkg` if not; returns its path. */
export async function ensureDebianBinary(
  binary: string,
  pkg: string,
  log: (m: string) => void,
): Promise<string> {
  const found = findBinary(binary);
  if (found) return found;
  await aptInstall(pkg, log, () => findBinary(binary) !== null);
  const path = findBinary(binary);
  if (!path) throw new Error(`installed Debian package ${pkg} but ${binary} is still not on PATH`);
  return path;
}
