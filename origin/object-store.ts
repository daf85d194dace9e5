/**
 * Content-addressed object directory: an object's key is the hex SHA-256 of its bytes and it
 * lives at `<dir>/<key[0..2]>/<key[2..]>` (256 fan-out folders keep directories small).
 * Objects are immutable: a write goes to a temp name in the same folder, is fsynced, then
 * hard-linked to its final name. `link` fails with EEXIST instead of replacing, so an
 * object, once visible, is never rewritten, even by two writers racing on the same bytes.
 * A real deployment copies these files to an object store behind a CDN; keys don't change.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream, type ReadStream } from 'node:fs';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';

export const OBJECT_KEY_RE = /^[0-9a-f]{64}$/;

export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface PutResult {
  key: string;
  bytes: number;
  /** False when identical content was already stored (dedupe). */
  created: boolean;
}

export class ObjectStore {
  constructor(readonly dir: string) {}

  /** Absolute file path of a key; throws on anything but 64 lowercase hex digits. */
  pathOf(key: string): string {
    if (!OBJECT_KEY_RE.test(key)) throw new Error(`not an object key: '${key}'`);
    return join(this.dir, key.slice(0, 2), key.slice(2));
  }

  /** Stores `bytes` under their SHA-256; a no-op when already present. */
  async put(bytes: Uint8Array): Promise<PutResult> {
    const key = sha256Hex(bytes);
    const final = this.pathOf(key);
    if ((await this.size(key)) !== undefined) return { key, bytes: bytes.length, created: false };
    const folder = join(this.dir, key.slice(0, 2));
    await mkdir(folder, { recursive: true });
    const tmp = join(folder, `.tmp-${key.slice(2, 10)}-${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, 0o444);
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    let created = true;
    try {
      await link(tmp, final);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      created = false; // another writer stored the same bytes first: same content, keep theirs
    } finally {
      await unlink(tmp);
    }
    if (created) await syncDir(folder);
    return { key, bytes: bytes.length, created };
  }

  /** Size in bytes, or undefined when the object is absent. */
  async size(key: string): Promise<number | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? s.size : undefined;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async read(key: string): Promise<Buffer> {
    return readFile(this.pathOf(key));
  }

  /** Streams bytes [start, end] (inclusive) without loading the file. */
  stream(key: string, start: number, end: number, highWaterMark = 64 * 1024): ReadStream {
    return createReadStream(this.pathOf(key), { start, end, highWaterMark });
  }
}

/** Makes the new directory entry durable (the rename/link itself), not just the file data. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
