export { openStore, openStoreReader, defaultStateDir, DB_FILE } from './store.js';
export type { RunStore, StoredRun, RunListItem, HostHistoryRow, RunStatus, PruneOptions, PruneResult } from './store.js';
export { MIGRATIONS, SCHEMA_VERSION, migrate, writeRollup, LAST_SAMPLE } from './schema.js';
export type { Migration } from './schema.js';
export { acquireInventoryLock, waitForInventoryLock, manualRunWaiting, liveLockHolder, lockFile, isAlive } from './lock.js';
export type { WaitLockOptions } from './lock.js';
export type { LockHolder, LockKind, LockOptions } from './lock.js';
