/**
 * The indexes in force, swapped atomically: `current()` hands a request one immutable pair
 * (learned, content) that it uses to the end, while `refresh()` loads a newly published
 * version beside it and replaces the reference only once the load succeeded. A request in
 * flight keeps the old pair (its native graph is freed by the garbage collector when the
 * last request drops it), so a swap fails no request; a version that does not load is
 * reported and the old one stays.
 */
import { currentVersion, IndexError, loadIndex, type IndexKind, type VectorIndex } from './vector-index.ts';

export interface Indexes {
  learned?: VectorIndex;
  content?: VectorIndex;
}

export interface RefreshReport {
  loaded: { kind: IndexKind; version: string }[];
  failed: { kind: IndexKind; version: string | undefined; error: string }[];
}

const KINDS: readonly IndexKind[] = ['learned', 'content'];

export class IndexHolder {
  private indexes: Indexes = {};
  private timer: NodeJS.Timeout | undefined;
  /** The version of each kind last tried, loaded or not: a corrupt one is not retried each poll. */
  private readonly tried = new Map<IndexKind, string>();
  private readonly listeners = new Set<(index: VectorIndex) => void>();

  constructor(readonly dir: string) {}

  current(): Indexes {
    return this.indexes;
  }

  /** Puts an index in force directly (one built in this process, e.g. the content index). */
  install(index: VectorIndex): void {
    this.indexes = { ...this.indexes, [index.meta.kind]: index };
    this.tried.set(index.meta.kind, index.meta.version);
    this.announce(index);
  }

  /** Calls `listener` with each index put in force from now on; returns the unsubscribe. */
  onSwap(listener: (index: VectorIndex) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private announce(index: VectorIndex): void {
    for (const l of this.listeners) l(index);
  }

  /** Loads every kind whose CURRENT names a version not tried yet. Never throws. */
  refresh(): RefreshReport {
    const report: RefreshReport = { loaded: [], failed: [] };
    for (const kind of KINDS) {
      let version: string | undefined;
      try {
        version = currentVersion(this.dir, kind);
        if (version === undefined || this.tried.get(kind) === version) continue;
        this.tried.set(kind, version);
        const index = loadIndex(this.dir, kind, version);
        this.indexes = { ...this.indexes, [kind]: index };
        report.loaded.push({ kind, version });
        this.announce(index);
      } catch (e) {
        const error = e instanceof IndexError ? e.message : `index ${kind}: ${String(e)}`;
        report.failed.push({ kind, version, error });
      }
    }
    return report;
  }

  /** Polls for new versions every `intervalMs` (a publish is a rename of CURRENT). */
  watch(intervalMs: number, onReport: (r: RefreshReport) => void): void {
    this.stop();
    this.timer = setInterval(() => {
      const r = this.refresh();
      if (r.loaded.length || r.failed.length) onReport(r);
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
