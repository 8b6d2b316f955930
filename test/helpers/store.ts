/** Reads a test's run store and closes it again, also when the read throws. */
import { openStore, type RunStore } from '../../src/store/index.js';

export function readStore<T>(stateDir: string, read: (store: RunStore) => T): T {
  const store = openStore(stateDir);
  try {
    return read(store);
  } finally {
    store.close();
  }
}

/** Every run recorded in the store, oldest first, read back whole. */
export function storedRuns(stateDir: string) {
  return readStore(stateDir, (store) => store.listRuns().reverse().map((r) => store.getRun(r.id)));
}
