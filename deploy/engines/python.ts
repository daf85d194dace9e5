/**
 * The Python virtual environment of Discover Weekly's ALS (radio/als/train.py): created with
 * the machine's python3 in `.cache/python/venv` and filled from radio/als/requirements.txt
 * (pinned wheels from PyPI, nothing compiles). Nothing runs: `up` makes sure the venv exists
 * and `import implicit` answers with the pinned version. The jobs find it through
 * `ALS_PYTHON` (the test runner sets it) or at this path.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findBinary } from './apt.ts';
import type { EngineContext, ToolEngine } from './engine.ts';

const run = promisify(execFile);

export function venvPython(cacheDir: string): string {
  return join(cacheDir, 'python', 'venv', 'bin', 'python');
}

function pinnedImplicit(repoRoot: string): string {
  const req = readFileSync(join(repoRoot, 'radio', 'als', 'requirements.txt'), 'utf8');
  const m = /^implicit==(\S+)/m.exec(req);
  if (!m) throw new Error('radio/als/requirements.txt pins no implicit version');
  return m[1]!;
}

async function implicitVersion(python: string): Promise<string | null> {
  try {
    const { stdout } = await run(python, ['-c', 'import implicit; print(implicit.__version__)'], {
      env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    });
    return stdout.trim() || null;
  } catch {
    return null;
  }
}

export const python: ToolEngine = {
  kind: 'tool',
  name: 'python',
  installedPath: venvPython,
  async install(ctx: EngineContext) {
    const venv = venvPython(ctx.cacheDir);
    const want = pinnedImplicit(ctx.repoRoot);
    let have = existsSync(venv) ? await implicitVersion(venv) : null;
    if (have === want) return { path: venv, version: `implicit ${have}` };
    const system = findBinary('python3');
    if (!system) throw new Error('python3 not found on PATH: install it (apt install python3 python3-venv)');
    const dir = join(ctx.cacheDir, 'python', 'venv');
    mkdirSync(join(ctx.cacheDir, 'python'), { recursive: true });
    const step = async (what: string, cmd: string, args: string[]) => {
      ctx.log(what);
      try {
        await run(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stderr?: string; message: string };
        throw new Error(`${what} failed:\n${(e.stderr ?? e.message).trim()}`);
      }
    };
    if (!existsSync(venv)) await step(`creating the venv ${dir} with ${system}`, system, ['-m', 'venv', dir]);
    await step(
      `pip install -r radio/als/requirements.txt into ${dir} (implicit ${want}, wheels only)`,
      venv,
      [
        '-m',
        'pip',
        'install',
        '--quiet',
        '--only-binary=:all:',
        '-r',
        join(ctx.repoRoot, 'radio', 'als', 'requirements.txt'),
      ],
    );
    have = await implicitVersion(venv);
    if (have !== want)
      throw new Error(
        `installed the venv but \`import implicit\` answered ${have ?? 'nothing'}, not ${want}`,
      );
    return { path: venv, version: `implicit ${have}` };
  },
};
