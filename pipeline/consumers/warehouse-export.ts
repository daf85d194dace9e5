/**
 * Warehouse export consumer: writes events as NDJSON files partitioned by UTC day of the
 * event, `<dir>/dt=YYYY-MM-DD/part-<firstSeq>-<lastSeq>-<n>.ndjson` (schema in
 * pipeline/README.md). A file is written to a temporary name, fsync'ed and renamed, then the
 * batch is acked: a crash leaves either no file or a whole one. A redelivered batch may write
 * its events again into another part file, so readers deduplicate by `event_id` (the reconcile
 * job and readExport do).
 */
import { mkdir, open, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListeningEvent } from '../../actors/types.ts';
import { dayOf } from '../../storage/event-codec.ts';
import type { BatchHandler, ConsumerSpec, Delivery } from '../../storage/event-source.ts';

export const EXPORT_CONSUMER: ConsumerSpec = {
  name: 'warehouse',
  ackWaitMs: 60_000,
  maxBatch: 5_000,
  lingerMs: 1_000,
};

/** One NDJSON line: the event plus where it came from. */
export interface ExportRow extends ListeningEvent {
  /** Sequence of the event in the log. */
  log_seq: number;
}

let part = 0;

export function exportHandler(dir: string): BatchHandler {
  return async (batch) => {
    const byDay = new Map<string, Delivery[]>();
    for (const d of batch) {
      const day = dayOf(d.event.ts);
      const list = byDay.get(day);
      if (list) list.push(d);
      else byDay.set(day, [d]);
    }
    for (const [day, ds] of byDay) {
      const folder = join(dir, `dt=${day}`);
      await mkdir(folder, { recursive: true });
      const name = `part-${ds[0]!.seq}-${ds[ds.length - 1]!.seq}-${process.pid}-${++part}.ndjson`;
      const tmp = join(folder, `.${name}.tmp`);
      const body =
        ds.map((d) => JSON.stringify({ ...d.event, log_seq: d.seq } satisfies ExportRow)).join('\n') + '\n';
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(body);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(folder, name));
    }
  };
}

/** Days present in an export directory, sorted. */
export async function exportDays(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names
    .filter((n) => /^dt=\d{4}-\d{2}-\d{2}$/.test(n))
    .map((n) => n.slice(3))
    .sort();
}

/** Every exported event of the given days, deduplicated by event_id, in file order. */
export async function* readExport(dir: string, days?: (day: string) => boolean): AsyncGenerator<ExportRow> {
  const seen = new Set<string>();
  for (const day of await exportDays(dir)) {
    if (days && !days(day)) continue;
    const folder = join(dir, `dt=${day}`);
    const files = (await readdir(folder)).filter((f) => f.endsWith('.ndjson')).sort();
    for (const f of files) {
      for (const line of (await readFile(join(folder, f), 'utf8')).split('\n')) {
        if (!line) continue;
        const row = JSON.parse(line) as ExportRow;
        if (seen.has(row.event_id)) continue;
        seen.add(row.event_id);
        yield row;
      }
    }
  }
}
