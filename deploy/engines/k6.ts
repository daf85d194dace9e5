/**
 * k6, built from source with the machine's Go into `.cache/k6/bin` (pinned version; the
 * load tests of a later issue drive sessions with it). Nothing runs: `up` makes sure the
 * binary exists and `k6 version` answers.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from './apt.ts';
import type { EngineContext, ToolEngine } from './engine.ts';

const run = promisify(execFile);

export const K6_VERSION = 'v1.8.1';
/** k6 v1.8.1's go.mod asks for Go 1.25; Debian's Go (1.19) is too old. */
const MIN_GO = [1, 25] as const;

export function k6Binary(cacheDir: string): string {
  return join(cacheDir, 'k6', 'bin', 'k6');
}

async function k6Version(binary: string): Promise<string | null> {
  try {
    const { stdout } = await run(binary, ['version']);
    return stdout.trim().split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

async function findGo(): Promise<string> {
  const candidates = [findBinary('go'), '/usr/local/go/bin/go'].filter(
    (p): p is string => !!p && existsSync(p),
  );
  for (const go of candidates) {
    try {
      const { stdout } = await run(go, ['env', 'GOVERSION']);
      const match = /go(\d+)\.(\d+)/.exec(stdout);
      if (!match) continue;
      const [major, minor] = [Number(match[1]), Number(match[2])];
      if (major > MIN_GO[0] || (major === MIN_GO[0] && minor >= MIN_GO[1])) return go;
    } catch {
      // not a working go
    }
  }
  throw new Error(
    `k6 ${K6_VERSION} is built with Go >= ${MIN_GO.join('.')}, and none was found on PATH or in /usr/local/go ` +
      `(Debian's golang package is too old). Install Go from https://go.dev/dl/ and run \`npm run infra -- up k6\` again.`,
  );
}

export const k6: ToolEngine = {
  kind: 'tool',
  name: 'k6',
  installedPath: k6Binary,
  async install(ctx: EngineContext) {
    const binary = k6Binary(ctx.cacheDir);
    let version = await k6Version(binary);
    if (version?.includes(K6_VERSION)) return { path: binary, version };
    const go = await findGo();
    const bin = join(ctx.cacheDir, 'k6', 'bin');
    mkdirSync(bin, { recursive: true });
    ctx.log(`building k6 ${K6_VERSION} with ${go} (go install go.k6.io/k6@${K6_VERSION})`);
    try {
      await run(go, ['install', `go.k6.io/k6@${K6_VERSION}`], {
        env: { ...process.env, GOBIN: bin },
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`go install go.k6.io/k6@${K6_VERSION} failed:\n${(e.stderr ?? e.message).trim()}`);
    }
    version = await k6Version(binary);
    if (!version?.includes(K6_VERSION)) {
      throw new Error(`built ${binary} but \`k6 version\` answered ${version ?? 'nothing'}`);
    }
    return { path: binary, version };
  },
};
