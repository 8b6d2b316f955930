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
  {
    version: 4,
    description: 'serve: groups and failed controls as columns, per-run rollups, indexes for set-based pages',
    up: (db) => {
      db.exec(`
        ALTER TABLE run_hosts ADD COLUMN groups TEXT;
        ALTER TABLE run_hosts ADD COLUMN failed_controls TEXT;
        UPDATE run_hosts SET groups = json_extract(result, '$.groups'),
          failed_controls = (SELECT json_group_array(json_extract(value, '$.id'))
                               FROM json_each(run_hosts.result, '$.compliance.failed_controls'))
         WHERE result IS NOT NULL AND json_valid(result);
        CREATE TABLE run_rollups (
          run_id      TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
          prev_run_id TEXT,
          lost_total  INTEGER NOT NULL,
          lost_new    INTEGER NOT NULL
        );
        -- covering: a run's page of hosts is sorted and counted from the index, never from the rows
        -- (which carry the whole result JSON)
        CREATE INDEX run_hosts_run_state ON run_hosts(run_id, state, host, status, compliant);
        CREATE INDEX findings_host_run ON findings(host, run_id);
        CREATE INDEX findings_run_code ON findings(run_id, code);
        CREATE INDEX task_results_host_changed ON task_results(host, changed);
        CREATE INDEX runs_mode_started ON runs(mode, started_at);
      `);
      for (const r of db.prepare(`SELECT id FROM runs WHERE mode = 'sweep' AND status != 'running' ORDER BY started_at, rowid`).all() as { id: string }[]) {
        writeRollup(db, r.id);
      }
    },
  },
];

/**
 * A host's last sample in a run: what its counters read when the sweep ended. One definition,
 * used by the rollups and by serve's pages.
 */
export const LAST_SAMPLE = `s.seq = (SELECT MAX(x.seq) FROM samples x WHERE x.run_id = s.run_id AND x.host = s.host)`;

/**
 * The fleet's lost records in a finished sweep: the sum of each host's `lost` counter, and the
 * records lost since the inventory's previous sweep. The kernel's counter only grows until a
 * reboot resets it (reference/audit-backlog.md), so a host whose counter went down lost at least
 * its new value; a host with no previous sample has no baseline and counts 0.
 */
export function writeRollup(db: Database.Database, runId: string): void {
  const prev = db
    .prepare(
      `SELECT r.id FROM runs r, runs b
        WHERE b.id = ? AND r.id != b.id AND r.inventory IS b.inventory AND r.mode = 'sweep' AND r.status != 'running'
          AND (r.started_at < b.started_at OR (r.started_at = b.started_at AND r.rowid < b.rowid))
        ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1`,
    )
    .get(runId) as { id: string } | undefined;
  db.prepare(
    `INSERT OR REPLACE INTO run_rollups (run_id, prev_run_id, lost_total, lost_new)
     SELECT @run, @prev, COALESCE(SUM(c.lost), 0),
            COALESCE(SUM(CASE WHEN p.lost IS NULL OR c.lost IS NULL THEN 0
                              WHEN c.lost >= p.lost THEN c.lost - p.lost ELSE c.lost END), 0)
       FROM (SELECT s.host, s.lost FROM samples s WHERE s.run_id = @run AND ${LAST_SAMPLE}) c
       LEFT JOIN (SELECT s.host, s.lost FROM samples s WHERE s.run_id = @prev AND ${LAST_SAMPLE}) p ON p.host = c.host`,
  ).run({ run: runId, prev: prev?.id ?? null });
}

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
