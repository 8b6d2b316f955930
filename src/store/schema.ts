import type Database from 'better-sqlite3';

/**
 * Schema migrations, in order. The database's `PRAGMA user_version` is the number of migrations
 * applied; opening a store applies the missing ones, each in its own transaction. Never edit a
 * released migration: append a new one.
 */
export interface Migration {
  version: number;
  description: string;
  up: (db: Database.Database) => void;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'runs, run_hosts, task_results',
    up: (db) => {
      db.exec(`
        CREATE TABLE runs (
          id          TEXT PRIMARY KEY,
          mode        TEXT NOT NULL,
          inventory   TEXT,
          playbook    TEXT,
          started_at  TEXT NOT NULL,
          finished_at TEXT,
          status      TEXT NOT NULL DEFAULT 'running',
          summary     TEXT,
          info        TEXT NOT NULL
        );
        CREATE TABLE run_hosts (
          run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          host          TEXT NOT NULL,
          address       TEXT,
          port          INTEGER,
          status        TEXT NOT NULL DEFAULT 'pending',
          error_code    TEXT,
          error_message TEXT,
          started_at    TEXT,
          finished_at   TEXT,
          result        TEXT,
          PRIMARY KEY (run_id, host)
        );
        CREATE TABLE task_results (
          run_id      TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          host        TEXT NOT NULL,
          seq         INTEGER NOT NULL,
          play        TEXT,
          task        TEXT,
          module      TEXT,
          status      TEXT NOT NULL,
          changed     INTEGER NOT NULL,
          rc          INTEGER,
          duration_ms INTEGER,
          json        TEXT NOT NULL,
          PRIMARY KEY (run_id, host, seq)
        );
      `);
    },
  },
  {
    version: 2,
    description: 'diagnosis columns, options, interrupted flag, samples and findings for history',
    up: (db) => {
      db.exec(`
        ALTER TABLE runs ADD COLUMN interrupted INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE runs ADD COLUMN options TEXT;
        ALTER TABLE run_hosts ADD COLUMN state TEXT;
        ALTER TABLE run_hosts ADD COLUMN compliant INTEGER;
        CREATE TABLE samples (
          run_id       TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          host         TEXT NOT NULL,
          seq          INTEGER NOT NULL,
          taken_at     INTEGER NOT NULL,
          boot_id      TEXT,
          enabled      INTEGER,
          failure      INTEGER,
          pid          INTEGER,
          backlog_limit INTEGER,
          backlog      INTEGER,
          lost         INTEGER,
          wait_actual  INTEGER,
          PRIMARY KEY (run_id, host, seq)
        );
        CREATE TABLE findings (
          run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          host     TEXT NOT NULL,
          code     TEXT NOT NULL,
          severity TEXT NOT NULL,
          message  TEXT NOT NULL
        );
        CREATE INDEX findings_run_host ON findings(run_id, host);
        CREATE INDEX samples_host ON samples(host, taken_at);
        CREATE INDEX run_hosts_host ON run_hosts(host);
        CREATE INDEX runs_inventory ON runs(inventory, started_at);
      `);
      // Rows written by version 1 have no interrupted flag: derive it from the status.
      db.exec(`UPDATE runs SET interrupted = 1 WHERE status = 'interrupted'`);
    },
  },
  {
    version: 3,
    description: 'fleet findings beside the host results (a recorded host result is never rewritten)',
    up: (db) => {
      db.exec(`
        CREATE TABLE fleet_findings (
          run_id TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
          host   TEXT NOT NULL,
          json   TEXT NOT NULL
        );
        CREATE INDEX fleet_findings_run ON fleet_findings(run_id);
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Apply migrations up to `target` (default: all). Returns the version the database is at. */
export function migrate(db: Database.Database, target: number = SCHEMA_VERSION): number {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new Error(`state database is at schema version ${current}, newer than this fleetmend (${SCHEMA_VERSION})`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= current || m.version > target) continue;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return db.pragma('user_version', { simple: true }) as number;
}
