/**
 * A published set of track vectors and its HNSW graph (usearch), as the radio service reads
 * it. Two kinds live side by side (see README.md): `learned` (the item factors of the weekly
 * ALS model) and `content` (vectors from what ingest measures and from metadata, for tracks
 * too new for the model).
 *
 * On disk, one folder per version, never changed once written:
 *   <dir>/<kind>/<version>/meta.json      format, kind, dimensions, count, sha256 of each file
 *   <dir>/<kind>/<version>/tracks.json    track ids and their artists, in key order
 *   <dir>/<kind>/<version>/vectors.f32    count x dimensions float32 (seeds are looked up here)
 *   <dir>/<kind>/<version>/index.usearch  the HNSW graph, keys = positions in tracks.json
 *   <dir>/<kind>/<version>/popular.json   (learned only) most played tracks per country
 *   <dir>/<kind>/CURRENT                  the version in force; replaced by a rename
 * A reader follows CURRENT; a publisher writes a whole new version folder first and renames
 * CURRENT last, so a reader sees the old version or the new one, never half of one. Files
 * are checked against the sha256 sums in meta.json before the native loader sees them: a
 * corrupt index is an `IndexError`, never a crash.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import usearch from 'usearch';

const { Index, exactSearch, MetricKind, ScalarKind } = usearch;

export type IndexKind = 'learned' | 'content';
export const INDEX_FORMAT = 1;

/** HNSW parameters: measured on the benchmark's 100 000 x 64 index (recall@10, README.md). */
export const HNSW = { connectivity: 16, expansionAdd: 128, expansionSearch: 96 } as const;

export class IndexError extends Error {
  readonly code = 'index_unusable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IndexError';
  }
}

export interface IndexMeta {
  format: number;
  kind: IndexKind;
  version: string;
  dimensions: number;
  count: number;
  builtAt: string;
  sha256: Record<string, string>;
}

/** Most played tracks per country (and '*' for everywhere), for listeners with no seeds. */
export type PopularTracks = Record<string, { trackId: string; artistId: string }[]>;

export interface Neighbour {
  trackId: string;
  artistId: string;
  distance: number;
}

export interface VectorSet {
  trackIds: string[];
  artistIds: string[];
  dimensions: number;
  /** trackIds.length x dimensions, row-major. */
  vectors: Float32Array;
}

export class VectorIndex {
  private readonly keyOf = new Map<string, number>();

  constructor(
    readonly meta: IndexMeta,
    readonly set: VectorSet,
    private readonly hnsw: InstanceType<typeof Index>,
    readonly popular: PopularTracks = {},
  ) {
    set.trackIds.forEach((id, i) => this.keyOf.set(id, i));
  }

  get size(): number {
    return this.set.trackIds.length;
  }

  has(trackId: string): boolean {
    return this.keyOf.has(trackId);
  }

  vectorOf(trackId: string): Float32Array | undefined {
    const i = this.keyOf.get(trackId);
    if (i === undefined) return undefined;
    const d = this.set.dimensions;
    return this.set.vectors.subarray(i * d, (i + 1) * d);
  }

  artistOf(trackId: string): string | undefined {
    const i = this.keyOf.get(trackId);
    return i === undefined ? undefined : this.set.artistIds[i];
  }

  /** Approximate k nearest by cosine distance, nearest first. One thread: a request is small. */
  search(query: Float32Array, k: number): Neighbour[] {
    return this.neighbours(this.hnsw.search(own(query), Math.min(k, this.size), 1));
  }

  /** Exact k nearest over the same vectors (the recall reference). */
  exact(query: Float32Array, k: number): Neighbour[] {
    const m = exactSearch(
      this.set.vectors,
      own(query),
      this.set.dimensions,
      Math.min(k, this.size),
      MetricKind.Cos,
      1,
    );
    return this.neighbours(m as InstanceType<typeof usearch.Matches>);
  }

  saveGraph(path: string): void {
    this.hnsw.save(path);
  }

  private neighbours(m: { keys: BigUint64Array; distances: Float32Array }): Neighbour[] {
    const out: Neighbour[] = [];
    for (let i = 0; i < m.keys.length; i++) {
      const key = Number(m.keys[i]);
      const trackId = this.set.trackIds[key];
      if (trackId === undefined) continue;
      out.push({ trackId, artistId: this.set.artistIds[key]!, distance: m.distances[i]! });
    }
    // Equal distances (tracks with the same vector: metadata-only content vectors of one
    // artist and album) come back in any order from the graph; by id, an answer repeats.
    return out.sort(
      (a, b) => a.distance - b.distance || (a.trackId < b.trackId ? -1 : a.trackId > b.trackId ? 1 : 0),
    );
  }
}

/**
 * The native binding reads a vector from the start of its buffer: a view into a larger
 * array (`subarray`) is copied first, or the search would run on the wrong vector.
 */
const own = (v: Float32Array): Float32Array =>
  v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : v.slice();

function newHnsw(dimensions: number) {
  return new Index({
    dimensions,
    metric: MetricKind.Cos,
    quantization: ScalarKind.F32,
    multi: false,
    connectivity: HNSW.connectivity,
    expansion_add: HNSW.expansionAdd,
    expansion_search: HNSW.expansionSearch,
  });
}

/** Builds the HNSW graph over a vector set (keys are row positions). */
export function buildIndex(
  kind: IndexKind,
  version: string,
  set: VectorSet,
  popular?: PopularTracks,
): VectorIndex {
  const n = set.trackIds.length;
  if (set.artistIds.length !== n || set.vectors.length !== n * set.dimensions || set.dimensions < 1)
    throw new IndexError(`vector set of ${n} tracks does not match its ${set.vectors.length} values`);
  const hnsw = newHnsw(set.dimensions);
  if (n > 0) {
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(i);
    hnsw.add(keys, set.vectors, 0);
  }
  const meta: IndexMeta = {
    format: INDEX_FORMAT,
    kind,
    version,
    dimensions: set.dimensions,
    count: n,
    builtAt: new Date().toISOString(),
    sha256: {},
  };
  return new VectorIndex(meta, set, hnsw, popular);
}

const sha256 = (buf: Uint8Array) => createHash('sha256').update(buf).digest('hex');

/**
 * Writes `index` as a new version of its kind under `dir` and makes it current (rename of
 * CURRENT, atomic on one file system). Returns the bytes written.
 */
export function publishIndex(dir: string, index: VectorIndex): number {
  const { kind, version } = index.meta;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(version)) throw new IndexError(`bad index version '${version}'`);
  const kindDir = join(dir, kind);
  const tmp = join(kindDir, `.${version}.${process.pid}.tmp`);
  mkdirSync(tmp, { recursive: true });
  const files: Record<string, Uint8Array> = {
    'tracks.json': Buffer.from(
      JSON.stringify({ trackIds: index.set.trackIds, artistIds: index.set.artistIds }),
    ),
    'vectors.f32': new Uint8Array(
      index.set.vectors.buffer,
      index.set.vectors.byteOffset,
      index.set.vectors.byteLength,
    ),
    'popular.json': Buffer.from(JSON.stringify(index.popular)),
  };
  let bytes = 0;
  const sums: Record<string, string> = {};
  for (const [name, body] of Object.entries(files)) {
    writeFileSync(join(tmp, name), body);
    sums[name] = sha256(body);
    bytes += body.byteLength;
  }
  // usearch writes the graph itself; its sum is taken from what it wrote.
  index.saveGraph(join(tmp, 'index.usearch'));
  const graph = readFileSync(join(tmp, 'index.usearch'));
  sums['index.usearch'] = sha256(graph);
  bytes += graph.byteLength;
  const meta: IndexMeta = { ...index.meta, sha256: sums };
  writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta, null, 2));
  const final = join(kindDir, version);
  if (existsSync(final)) renameSync(final, `${tmp}.old`);
  renameSync(tmp, final);
  writeFileSync(join(kindDir, 'CURRENT.tmp'), version);
  renameSync(join(kindDir, 'CURRENT.tmp'), join(kindDir, 'CURRENT'));
  return bytes;
}

/** The version CURRENT names for a kind; undefined when nothing was published. */
export function currentVersion(dir: string, kind: IndexKind): string | undefined {
  try {
    return readFileSync(join(dir, kind, 'CURRENT'), 'utf8').trim() || undefined;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IndexError(`cannot read ${join(dir, kind, 'CURRENT')}`, { cause: e });
  }
}

/** Loads one version; `IndexError` naming what is wrong when it is missing or corrupt. */
export function loadIndex(dir: string, kind: IndexKind, version: string): VectorIndex {
  const vdir = join(dir, kind, version);
  const read = (name: string): Buffer => {
    try {
      return readFileSync(join(vdir, name));
    } catch (e) {
      throw new IndexError(`index ${kind}/${version}: ${name} is missing`, { cause: e });
    }
  };
  let meta: IndexMeta;
  try {
    meta = JSON.parse(read('meta.json').toString('utf8')) as IndexMeta;
  } catch (e) {
    if (e instanceof IndexError) throw e;
    throw new IndexError(`index ${kind}/${version}: meta.json is not JSON`, { cause: e });
  }
  if (meta.format !== INDEX_FORMAT || meta.kind !== kind || !(meta.dimensions >= 1))
    throw new IndexError(`index ${kind}/${version}: unknown format or kind in meta.json`);
  const bodies: Record<string, Buffer> = {};
  for (const name of ['tracks.json', 'vectors.f32', 'popular.json', 'index.usearch']) {
    const body = read(name);
    if (sha256(body) !== meta.sha256?.[name])
      throw new IndexError(
        `index ${kind}/${version}: ${name} is corrupt (its sha256 differs from meta.json)`,
      );
    bodies[name] = body;
  }
  const tracks = JSON.parse(bodies['tracks.json']!.toString('utf8')) as {
    trackIds: string[];
    artistIds: string[];
  };
  const raw = bodies['vectors.f32']!;
  const vectors = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  if (tracks.trackIds.length !== meta.count || vectors.length !== meta.count * meta.dimensions)
    throw new IndexError(`index ${kind}/${version}: ${meta.count} tracks in meta.json, files disagree`);
  const hnsw = newHnsw(meta.dimensions);
  if (meta.count > 0) hnsw.load(join(vdir, 'index.usearch'));
  const popular = JSON.parse(bodies['popular.json']!.toString('utf8')) as PopularTracks;
  return new VectorIndex(meta, { ...tracks, dimensions: meta.dimensions, vectors }, hnsw, popular);
}
