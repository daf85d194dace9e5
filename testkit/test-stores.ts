/**
 * The embedded stores (every store port on one LMDB environment) through the app's own
 * factory, for tests outside app/ that need real stores but not the whole app.
 */
import { openStores } from '../app/open-stores.ts';
import type { Stores } from '../storage/stores.ts';

export const openEmbeddedStores = (dataDir: string): Promise<Stores> => openStores({ dataDir });
