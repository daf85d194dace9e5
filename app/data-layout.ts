/**
 * The one layout of DATA_DIR, used by every entry point (`npm start`, ingest, jobs, pipeline,
 * origin, demo), so what one writes the others read:
 *
 *   <DATA_DIR>/store/      embedded LMDB environment: catalog, users, playlists, history,
 *                          snapshots, royalty ledger, features
 *   <DATA_DIR>/events/     embedded event log (when NATS_URL is unset)
 *   <DATA_DIR>/outbox/     JetStream publisher's outbox (when NATS_URL is set)
 *   <DATA_DIR>/objects/    content-addressed audio objects (OBJECT_DIR overrides)
 *   <DATA_DIR>/warehouse/  warehouse export of listening events, read by the jobs
 *   <DATA_DIR>/reports/    job reports
 *   <DATA_DIR>/radio/      radio indexes (learned and content), published by the jobs
 */
import { join, resolve } from 'node:path';

export const DEFAULT_DATA_DIR = './var';

export interface DataLayout {
  /** DATA_DIR itself, absolute. */
  root: string;
  /**
   * A fixed sub-directory: lmdb takes a path whose last segment has a dot (e.g. mktemp's
   * /tmp/tmp.XyZ) for a file name, so the store never opens DATA_DIR itself.
   */
  store: string;
  events: string;
  outbox: string;
  objects: string;
  warehouse: string;
  reports: string;
  radio: string;
}

/** The layout under `dataDir`; `objectDir` moves the audio objects elsewhere (OBJECT_DIR). */
export function dataLayout(dataDir: string = DEFAULT_DATA_DIR, objectDir?: string): DataLayout {
  const root = resolve(dataDir);
  return {
    root,
    store: join(root, 'store'),
    events: join(root, 'events'),
    outbox: join(root, 'outbox'),
    objects: objectDir === undefined ? join(root, 'objects') : resolve(objectDir),
    warehouse: join(root, 'warehouse'),
    reports: join(root, 'reports'),
    radio: join(root, 'radio'),
  };
}
