import { statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FleetmendError } from '../errors.js';
import type { HostResult, RunInfo, RunMode, RunSummary, TaskResult } from '../results/index.js';
import type { Finding, HostState } from '../diagnosis/types.js';
import { withMoreFindings } from '../diagnosis/severity.js';
import { redact } from '../secrets/index.js';
import { migrate, writeRollup } from './schema.js';
import { ensurePrivateFile } from '../util/fsafe.js';
import { defaultStateDir, openStateDir } from './state-dir.js';

export { defaultStateDir, openStateDir };

export type RunStatus = 'running' | 'finished' | 'interrupted';

/** A run as read back from the store. */
export interface StoredRun {
  run: RunInfo;
  status: RunStatus;
  /** False for a run that is still going, or that crashed before finishRun. */
  finished: boolean;
  summary?: RunSummary;
  /** Hosts with a recorded result, in the order they were recorded. */
  hosts: HostResult[];
  /** Hosts named at startRun that have no result (yet). */
  pending: string[];
}

export interface RunListItem {
  id: string;
  mode: RunMode;
  inventory?: string;
  playbook?: string;
  started_at: string;
  finished_at?: string;
  status: RunStatus;
  summary?: RunSummary;
  host_count: number;
  /** A playbook run in check mode (`run --check`): from the run's recorded info. */
  check?: boolean;
  /** The `--limit` pattern the run was given, as recorded. */
  limit?: string;
}

/** One point of a host's history: its last sample in one run (oldest run first). */
export interface HostHistoryRow {
  run_id: string;
  /** ms since epoch: the sample's time, or the host's finish time when there was no sample. */
  taken_at: number;
  state: HostState | null;
  backlog: number | null;
  lost: number | null;
  backlog_limit: number | null;
  enabled: number | null;
  failure: number | null;
  reachable: boolean;
}

export interface RunStore {
  /** The database file. */
  readonly path: string;
  startRun(run: RunInfo, hosts: string[]): void;
  /** Record one finished host: one small transaction, safe to call again for the same host. */
  recordHost(runId: string, result: HostResult): void;
  /** Several finished hosts in one transaction (what the runner's write-behind queue uses). */
  recordHosts(runId: string, results: readonly HostResult[]): void;
  /**
   * Like recordHosts, but a host that already has a result in this run is refused, not
   * overwritten: at-least-once delivery (a redelivered queue job) must not record twice.
   * Returns the refused results.
   */
  recordHostsOnce(runId: string, results: readonly HostResult[]): HostResult[];
  /**
   * One task as it finishes; `seq` is its index in the host's `tasks` (from 0), so the host's
   * final result replaces these rows instead of adding to them.
   */
  recordTask(runId: string, host: string, seq: number, task: TaskResult): void;
  /**
   * Fleet-level findings (outliers), known only once every host answered: kept beside the host
   * results, which stay as recorded, and merged into each host's diagnosis when read back.
   */
  recordFleetFindings(runId: string, byHost: Readonly<Record<string, readonly Finding[]>>): void;
  finishRun(runId: string, summary: RunSummary, opts?: { interrupted?: boolean; finished_at?: string }): void;
  /** A run by id, unique id prefix, or `latest`. Throws E_USAGE when there is none. */
  getRun(idOrLatest: string): StoredRun;
  listRuns(opts?: { limit?: number; mode?: RunMode; inventory?: string }): RunListItem[];
  hostHistory(host: string, opts?: { limit?: number }): HostHistoryRow[];
  /** The latest finished run of the same inventory and mode (a sweep's previous sweep) that started before `beforeRunId`. */
  previousRun(inventory: string | undefined, beforeRunId: string): StoredRun | undefined;
  /** Retention (`fleetmend prune`): deletes old runs, then vacuums. */
  prune(opts: PruneOptions): PruneResult;
  close(): void;
}

export const DB_FILE = 'fleetmend.db';

export interface PruneOptions {
  /** Keep the newest N runs of each inventory and mode. */
  keepRuns?: number;
  /** Keep every run that started less than D days ago. */
  keepDays?: number;
  /** ms since epoch (the injected clock). */
  now: number;
}

export interface PruneResult {
  deleted_runs: number;
  kept_runs: number;
  bytes_before: number;
  bytes_after: number;
}


/**
 * SQLite's own files beside the database. SQLite opens them by path, following links, and gives
 * them the database file's mode: so a planted link among them is refused before SQLite starts.
 */
const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

/**
 * Open (creating and migrating as needed) the run store in `stateDir`. The state holds
 * inventories and host findings: owner-only (dir 0700, file 0600). SQLite opens the database by
 * path, so what is at that path is checked (or created exclusively, 0600) first; in a directory
 * of our own nobody else can swap it afterwards.
 */
export function openStore(stateDir: string): RunStore {
  openStateDir(stateDir);
  const path = join(stateDir, DB_FILE);
  ensurePrivateFile(path, 'run store');
  for (const side of SIDE_FILES) ensurePrivateFile(path + side, 'run store file', { create: false });
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    migrate(db);
  } catch (err) {
    db?.close();
    if (err instanceof FleetmendError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new FleetmendError('E_STORE', `cannot open the run store ${path}: ${why}`, { position: { file: path }, cause: err });
  }
  return new SqliteRunStore(db, path);
}

/**
 * Runs that retention may delete: beyond the newest `keep_runs` of their inventory and mode AND
 * started before `cutoff` (a bound left null keeps nothing by itself). Never deleted: a run still
 * going, and the newest finished run of each inventory and mode, which drift and the next
 * sweep's `lost` delta compare against (src/drift since-last, the rollups).
 */
const PRUNE_SELECT = `
  WITH ranked AS (
    SELECT id, status, started_at,
           ROW_NUMBER() OVER (PARTITION BY inventory, mode ORDER BY started_at DESC, rowid DESC) AS newest,
           ROW_NUMBER() OVER (PARTITION BY inventory, mode, status = 'running' ORDER BY started_at DESC, rowid DESC) AS newest_done
      FROM runs)
  SELECT id FROM ranked
   WHERE status != 'running' AND newest_done > 1
     AND (@keep_runs IS NOT NULL OR @cutoff IS NOT NULL)
     AND (@keep_runs IS NULL OR newest > @keep_runs)
     AND (@cutoff IS NULL OR started_at < @cutoff)`;

function fileBytes(path: string): number {
  let total = 0;
  for (const f of [path, path + '-wal']) {
    try {
      total += statSync(f).size;
    } catch {
      /* no WAL file */
    }
  }
  return total;
}

/**
 * A connection for reading only (serve's pages): the store is opened (and migrated) as usual,
 * then a second connection with `query_only`, so no page can write whatever its SQL says.
 */
export function openStoreReader(stateDir: string): { db: Database.Database; path: string } {
  const store = openStore(stateDir);
  const path = store.path;
  store.close();
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.pragma('query_only = ON');
  return { db, path };
}

const json = (v: unknown): string => JSON.stringify(redact(v));
const parse = <T>(s: string | null | undefined): T | undefined => (s == null ? undefined : (JSON.parse(s) as T));
const bool = (b: boolean | undefined): number | null => (b === undefined ? null : b ? 1 : 0);

interface RunRow {
  id: string;
  mode: RunMode;
  inventory: string | null;
  playbook: string | null;
  started_at: string;
  finished_at: string | null;
  status: RunStatus;
  summary: string | null;
  info: string;
  interrupted: number;
}

class SqliteRunStore implements RunStore {
  private readonly stmt;
  private readonly recordHostTx: (runId: string, result: HostResult) => void;
  private readonly recordHostsTx: (runId: string, results: readonly HostResult[]) => void;
  private readonly recordHostsOnceTx: (runId: string, results: readonly HostResult[]) => HostResult[];

  constructor(
    private readonly db: Database.Database,
    readonly path: string,
  ) {
    // Prepared once: recordHost runs once per host, for fleets of thousands.
    this.stmt = {
      insertRun: db.prepare(
        `INSERT INTO runs (id, mode, inventory, playbook, started_at, status, info, options)
         VALUES (@id, @mode, @inventory, @playbook, @started_at, 'running', @info, @options)`,
      ),
      insertPending: db.prepare(`INSERT OR IGNORE INTO run_hosts (run_id, host) VALUES (?, ?)`),
      upsertHost: db.prepare(
        `INSERT INTO run_hosts (run_id, host, address, port, status, error_code, error_message,
                                started_at, finished_at, state, compliant, result, groups, failed_controls)
         VALUES (@run_id, @host, @address, @port, @status, @error_code, @error_message,
                 @started_at, @finished_at, @state, @compliant, @result, @groups, @failed_controls)
         ON CONFLICT (run_id, host) DO UPDATE SET
           address = excluded.address, port = excluded.port, status = excluded.status,
           error_code = excluded.error_code, error_message = excluded.error_message,
           started_at = excluded.started_at, finished_at = excluded.finished_at,
           state = excluded.state, compliant = excluded.compliant, result = excluded.result,
           groups = excluded.groups, failed_controls = excluded.failed_controls`,
      ),
      deleteSamples: db.prepare(`DELETE FROM samples WHERE run_id = ? AND host = ?`),
      insertSample: db.prepare(
        `INSERT INTO samples (run_id, host, seq, taken_at, boot_id, enabled, failure, pid,
                              backlog_limit, backlog, lost, wait_actual)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deleteFindings: db.prepare(`DELETE FROM findings WHERE run_id = ? AND host = ?`),
      insertFinding: db.prepare(
        `INSERT INTO findings (run_id, host, code, severity, message) VALUES (?, ?, ?, ?, ?)`,
      ),
      upsertTask: db.prepare(
        `INSERT OR REPLACE INTO task_results (run_id, host, seq, play, task, module, status, changed,
                                              rc, duration_ms, json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      finishRun: db.prepare(
        `UPDATE runs SET finished_at = ?, status = ?, interrupted = ?, summary = ?, info = ? WHERE id = ?`,
      ),
      runById: db.prepare(`SELECT * FROM runs WHERE id = ?`),
      runsByPrefix: db.prepare(`SELECT * FROM runs WHERE substr(id, 1, length(@p)) = @p LIMIT 2`),
      latestRun: db.prepare(`SELECT * FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1`),
      hostsOfRun: db.prepare(`SELECT host, status, result FROM run_hosts WHERE run_id = ? ORDER BY rowid`),
      tasksOfRun: db.prepare(`SELECT host, json FROM task_results WHERE run_id = ? ORDER BY host, seq`),
      hostStatus: db.prepare(`SELECT status FROM run_hosts WHERE run_id = ? AND host = ?`),
      trimTasks: db.prepare(`DELETE FROM task_results WHERE run_id = ? AND host = ? AND seq >= ?`),
      insertFleetFinding: db.prepare(`INSERT INTO fleet_findings (run_id, host, json) VALUES (?, ?, ?)`),
      fleetFindingsOfRun: db.prepare(`SELECT host, json FROM fleet_findings WHERE run_id = ? ORDER BY rowid`),
      history: db.prepare(
        `SELECT h.run_id, h.status, h.state, h.finished_at, r.started_at,
                s.taken_at, s.backlog, s.lost, s.backlog_limit, s.enabled, s.failure
           FROM run_hosts h
           JOIN runs r ON r.id = h.run_id
           LEFT JOIN samples s ON s.run_id = h.run_id AND s.host = h.host
             AND s.seq = (SELECT MAX(seq) FROM samples x WHERE x.run_id = h.run_id AND x.host = h.host)
          WHERE h.host = ? AND h.status != 'pending'
          ORDER BY r.started_at DESC, r.rowid DESC
          LIMIT ?`,
      ),
      previous: db.prepare(
        `SELECT r.id FROM runs r, runs b
          WHERE b.id = @before AND r.id != b.id AND r.inventory IS @inventory AND r.mode = b.mode
            AND r.status != 'running'
            AND (r.started_at < b.started_at OR (r.started_at = b.started_at AND r.rowid < b.rowid))
          ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1`,
      ),
    };
    this.recordHostTx = db.transaction((runId: string, result: HostResult) => this.writeHost(runId, result));
    this.recordHostsTx = db.transaction((runId: string, results: readonly HostResult[]) => {
      for (const r of results) this.writeHost(runId, r);
    });
    this.recordHostsOnceTx = db.transaction((runId: string, results: readonly HostResult[]) => {
      const refused: HostResult[] = [];
      for (const r of results) {
        const row = this.stmt.hostStatus.get(runId, r.host) as { status: string } | undefined;
        if (row && row.status !== 'pending') refused.push(r);
        else this.writeHost(runId, r);
      }
      return refused;
    });
  }

  startRun(run: RunInfo, hosts: string[]): void {
    const { id, mode, inventory, playbook, started_at, ...options } = run;
    this.db.transaction(() => {
      this.stmt.insertRun.run({
        id,
        mode,
        inventory: inventory ?? null,
        playbook: playbook ?? null,
        started_at,
        info: json(run),
        options: json(options),
      });
      for (const h of hosts) this.stmt.insertPending.run(id, h);
    })();
  }

  recordHost(runId: string, result: HostResult): void {
    this.recordHostTx(runId, result);
  }

  recordHosts(runId: string, results: readonly HostResult[]): void {
    if (results.length) this.recordHostsTx(runId, results);
  }

  recordHostsOnce(runId: string, results: readonly HostResult[]): HostResult[] {
    return results.length ? this.recordHostsOnceTx(runId, results) : [];
  }

  private writeHost(runId: string, raw: HostResult): void {
    const r = redact(raw);
    const { tasks, ...rest } = r;
    this.stmt.upsertHost.run({
      run_id: runId,
      host: r.host,
      address: r.address,
      port: r.port,
      status: r.status,
      error_code: r.error?.code ?? null,
      error_message: r.error?.message ?? null,
      started_at: r.started_at,
      finished_at: r.finished_at,
      state: r.diagnosis?.state ?? null,
      compliant: bool(r.compliance?.compliant),
      result: JSON.stringify(rest),
      groups: r.groups ? JSON.stringify(r.groups) : null,
      failed_controls: r.compliance ? JSON.stringify(r.compliance.failed_controls.map((c) => c.id)) : null,
    });
    this.stmt.deleteSamples.run(runId, r.host);
    (r.facts?.samples ?? []).forEach((s, seq) => {
      const a = s.auditctl.kind === 'ok' ? s.auditctl.status : undefined;
      this.stmt.insertSample.run(
        runId, r.host, seq, s.taken_at, s.system.boot_id ?? null,
        a?.enabled ?? null, a?.failure ?? null, a?.pid ?? null, a?.backlog_limit ?? null,
        a?.backlog ?? null, a?.lost ?? null, a?.backlog_wait_time_actual ?? null,
      );
    });
    this.stmt.deleteFindings.run(runId, r.host);
    for (const f of r.diagnosis?.findings ?? []) {
      this.stmt.insertFinding.run(runId, r.host, f.code, f.severity, f.message);
    }
    if (!tasks) return;
    // The host's task list is the truth: rows past its end (an earlier, longer write) go.
    tasks.forEach((t, seq) => this.writeTask(runId, r.host, seq, t));
    this.stmt.trimTasks.run(runId, r.host, tasks.length);
  }

  recordFleetFindings(runId: string, byHost: Readonly<Record<string, readonly Finding[]>>): void {
    this.db.transaction(() => {
      for (const [host, findings] of Object.entries(byHost)) {
        for (const f of findings) {
          this.stmt.insertFleetFinding.run(runId, host, JSON.stringify(f));
          this.stmt.insertFinding.run(runId, host, f.code, f.severity, f.message);
        }
      }
    })();
  }

  recordTask(runId: string, host: string, seq: number, task: TaskResult): void {
    this.writeTask(runId, host, seq, redact(task));
  }

  private writeTask(runId: string, host: string, seq: number, t: TaskResult): void {
    this.stmt.upsertTask.run(
      runId, host, seq, t.play, t.task, t.module, t.status, t.changed ? 1 : 0,
      t.rc ?? null, Math.round(t.duration_ms), JSON.stringify(redact(t)),
    );
  }

  finishRun(runId: string, summary: RunSummary, opts: { interrupted?: boolean; finished_at?: string } = {}): void {
    const row = this.stmt.runById.get(runId) as RunRow | undefined;
    if (!row) throw new FleetmendError('E_INTERNAL', `finishRun: no run ${runId} in the store`);
    const interrupted = opts.interrupted === true;
    const finishedAt = opts.finished_at ?? new Date().toISOString();
    const info: RunInfo = { ...(JSON.parse(row.info) as RunInfo), finished_at: finishedAt };
    if (interrupted) info.interrupted = true;
    this.db.transaction(() => {
      this.stmt.finishRun.run(
        finishedAt, interrupted ? 'interrupted' : 'finished', interrupted ? 1 : 0, json(summary), json(info), runId,
      );
      // serve's fleet page reads the lost records per sweep from here, not from 10,000 samples
      if (row.mode === 'sweep') writeRollup(this.db, runId);
    })();
  }

  prune(opts: PruneOptions): PruneResult {
    const bytesBefore = fileBytes(this.path);
    const doomed = this.db.prepare(PRUNE_SELECT).all({
      keep_runs: opts.keepRuns ?? null,
      cutoff: opts.keepDays === undefined ? null : new Date(opts.now - opts.keepDays * 86_400_000).toISOString(),
    }) as { id: string }[];
    const del = this.db.prepare(`DELETE FROM runs WHERE id = ?`);
    this.db.transaction(() => {
      for (const r of doomed) del.run(r.id);
    })();
    // deleted pages go back to the file system only with VACUUM (WAL checkpoint first, so the file shrinks now)
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    const kept = (this.db.prepare(`SELECT COUNT(*) AS n FROM runs`).get() as { n: number }).n;
    return { deleted_runs: doomed.length, kept_runs: kept, bytes_before: bytesBefore, bytes_after: fileBytes(this.path) };
  }

  getRun(idOrLatest: string): StoredRun {
    const row = this.findRun(idOrLatest);
    if (!row) throw new FleetmendError('E_USAGE', `no run "${idOrLatest}" in the store (${this.path})`);
    return this.readRun(row);
  }

  private findRun(idOrLatest: string): RunRow | undefined {
    if (idOrLatest === 'latest') return this.stmt.latestRun.get() as RunRow | undefined;
    const exact = this.stmt.runById.get(idOrLatest) as RunRow | undefined;
    if (exact) return exact;
    const byPrefix = this.stmt.runsByPrefix.all({ p: idOrLatest }) as RunRow[];
    if (byPrefix.length > 1) throw new FleetmendError('E_USAGE', `run id prefix "${idOrLatest}" is ambiguous`);
    return byPrefix[0];
  }

  private readRun(row: RunRow): StoredRun {
    const tasks = new Map<string, TaskResult[]>();
    for (const t of this.stmt.tasksOfRun.all(row.id) as { host: string; json: string }[]) {
      const list = tasks.get(t.host) ?? [];
      list.push(JSON.parse(t.json) as TaskResult);
      tasks.set(t.host, list);
    }
    const fleet = new Map<string, Finding[]>();
    for (const f of this.stmt.fleetFindingsOfRun.all(row.id) as { host: string; json: string }[]) {
      fleet.set(f.host, [...(fleet.get(f.host) ?? []), JSON.parse(f.json) as Finding]);
    }
    const hosts: HostResult[] = [];
    const pending: string[] = [];
    for (const h of this.stmt.hostsOfRun.all(row.id) as { host: string; status: string; result: string | null }[]) {
      if (h.result == null) {
        pending.push(h.host);
        continue;
      }
      const result = JSON.parse(h.result) as HostResult;
      const t = tasks.get(h.host);
      if (t) result.tasks = t;
      const extra = fleet.get(h.host);
      // fleet findings (outliers) come after the host's own: the list stays most severe first
      if (extra && result.diagnosis) result.diagnosis.findings = withMoreFindings(result.diagnosis.findings, extra);
      hosts.push(result);
    }
    const run = JSON.parse(row.info) as RunInfo;
    const summary = parse<RunSummary>(row.summary);
    return {
      run,
      status: row.status,
      finished: row.status !== 'running',
      ...(summary ? { summary } : {}),
      hosts,
      pending,
    };
  }

  listRuns(opts: { limit?: number; mode?: RunMode; inventory?: string } = {}): RunListItem[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (opts.mode) (where.push('r.mode = ?'), params.push(opts.mode));
    if (opts.inventory !== undefined) (where.push('r.inventory = ?'), params.push(opts.inventory));
    params.push(opts.limit ?? 20);
    // Filters vary per call; listing runs is rare, so preparing here is fine.
    const rows = this.db
      .prepare(
        `SELECT r.*, (SELECT COUNT(*) FROM run_hosts h WHERE h.run_id = r.id) AS host_count FROM runs r
         ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?`,
      )
      .all(...params) as (RunRow & { host_count: number })[];
    return rows.map((r) => {
      const summary = parse<RunSummary>(r.summary);
      const info = parse<RunInfo>(r.info);
      return {
        id: r.id,
        mode: r.mode,
        ...(r.inventory != null ? { inventory: r.inventory } : {}),
        ...(r.playbook != null ? { playbook: r.playbook } : {}),
        started_at: r.started_at,
        ...(r.finished_at != null ? { finished_at: r.finished_at } : {}),
        status: r.status,
        ...(summary ? { summary } : {}),
        host_count: r.host_count,
        ...(info?.check !== undefined ? { check: info.check } : {}),
        ...(info?.limit ? { limit: info.limit } : {}),
      };
    });
  }

  hostHistory(host: string, opts: { limit?: number } = {}): HostHistoryRow[] {
    type Row = {
      run_id: string; status: string; state: HostState | null; finished_at: string | null; started_at: string;
      taken_at: number | null; backlog: number | null; lost: number | null; backlog_limit: number | null;
      enabled: number | null; failure: number | null;
    };
    const rows = this.stmt.history.all(host, opts.limit ?? 50) as Row[];
    return rows.reverse().map((r) => ({
      run_id: r.run_id,
      taken_at: r.taken_at ?? Date.parse(r.finished_at ?? r.started_at),
      state: r.state,
      backlog: r.backlog,
      lost: r.lost,
      backlog_limit: r.backlog_limit,
      enabled: r.enabled,
      failure: r.failure,
      reachable: r.status !== 'unreachable',
    }));
  }

  previousRun(inventory: string | undefined, beforeRunId: string): StoredRun | undefined {
    const row = this.stmt.previous.get({ before: beforeRunId, inventory: inventory ?? null }) as { id: string } | undefined;
    return row ? this.getRun(row.id) : undefined;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
