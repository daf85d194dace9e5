/**
 * Generated blocks in the Markdown documents: a block between
 * `<!-- generated:NAME:begin -->` and `<!-- generated:NAME:end -->` holds what a test made from
 * the real thing (frames, schemas, demo data). The test compares; with `UPDATE_DOCS=1` it
 * rewrites the block instead. The file is formatted with the repository's prettier config
 * before comparing, so `npm run lint` and the check agree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';

const markers = (name: string) =>
  [`<!-- generated:${name}:begin -->`, `<!-- generated:${name}:end -->`] as const;

/** The file with the named block replaced by `content`, prettier-formatted. */
async function withBlock(
  file: string,
  name: string,
  content: string,
): Promise<{ old: string; next: string }> {
  const old = readFileSync(file, 'utf8');
  const [begin, end] = markers(name);
  const a = old.indexOf(begin);
  const b = old.indexOf(end);
  if (a < 0 || b < a) throw new Error(`${file} has no ${begin} ... ${end} block`);
  const raw = `${old.slice(0, a + begin.length)}\n\n${content.trim()}\n\n${old.slice(b)}`;
  const config = (await resolveConfig(file)) ?? {};
  return { old, next: await format(raw, { ...config, filepath: file }) };
}

/**
 * Returns undefined when the block is current (or was rewritten under UPDATE_DOCS=1), else
 * a message naming the first differing line and how to regenerate.
 */
export async function checkDocBlock(
  file: string,
  name: string,
  content: string,
): Promise<string | undefined> {
  const { old, next } = await withBlock(file, name, content);
  if (old === next) return undefined;
  if (process.env.UPDATE_DOCS === '1') {
    writeFileSync(file, next);
    return undefined;
  }
  const a = old.split('\n');
  const b = next.split('\n');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return (
    `${file}: the generated block "${name}" is stale (line ${i + 1}):\n` +
    `  in the file: ${a[i] ?? '<end of file>'}\n  generated:   ${b[i] ?? '<end of file>'}\n` +
    'rerun this test with UPDATE_DOCS=1 to rewrite it, and commit the result'
  );
}
