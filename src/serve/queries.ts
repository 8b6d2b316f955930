/**
 * The read model behind `fleetmend serve`: one method per page, each a fixed number of set-based
 * statements (no query per row), prepared once. What ARA's index showed (a query per row: 2 s vs
 * 58 ms joined, ara#534) is what the 10,000 x 500 bench guards against (bench/serve.ts).
 */
import type Database from 'better-sqlite3';
import { SEVERITY_ORDER, STATE_PRECEDENCE } from '../diagnosis/severity.js';
import { LAST_SAMPLE } from '../store/index.js';
import { foldHosts } from '../report/hostset.js';
import type { RunSummary, TaskResult } from '../results/index.js';
import { linearRegExp } from '../expr/regex.js';
import { FleetmendError } from '../errors.js';

export const PAGE_SIZE = 50;

export interface Page<T> {
  items: T[];
  page: number;
  pages: number;
  total: number;
}

export function paged<T>(items: T[], total: number, page: number, size = PAGE_SIZE): Page<T> {
  return { items, page, pages: Math.max(1, Math.ceil(total / size)), total };
}

/** `CASE state WHEN 'panic-mode' THEN 0 ...`: the state precedence as a sortable number. */
const rankCase = (col: string, order: readonly string[]) =>
  `(CASE ${col} ${order.map((s, i) => `WHEN '${s}' THEN ${i}`).join(' ')} ELSE ${order.length} END)`;
const STATE_RANK = (col: string) => rankCase(col, STATE_PRECEDENCE);
const SEV_RANK = (col: string) => rankCase(col, SEVERITY_ORDER);

export interface RunRef {
  id: string;
  mode: string;
  inventory: string | null;
  playbook: string | null;
  started_at: string;
  finished_at: string | null;
  status: string;
  summary: RunSummary | undefined;
  check: boolean;
}

/** A `runs` row as SQLite returns it: the summary and the run's info still JSON text. */
interface RunRow extends Omit<RunRef, 'summary' | 'check'> {
  summary: string | null;
  info: string;
}

function runRef(r: RunRow): RunRef {
  const info = JSON.parse(r.info) as { check?: boolean };
  return {
    id: r.id, mode: r.mode, inventory: r.inventory, playbook: r.playbook, started_at: r.started_at,
    finished_at: r.finished_at, status: r.status, summary: r.summary ? (JSON.parse(r.summary) as RunSummary) : undefined,
    check: info.check === true,
  };
}

/** One host in one run, as the tables show it. */
export interface HostRow {
  host: string;
  status: string;
  state: string | null;
  compliant: number | null;
  backlog: number | null;
  backlog_limit: number | null;
  lost: number | null;
  wait_actual: number | null;
  worst_severity: string | null;
  top_finding: string | null;
  run_id: string;
}

/** The columns of HostRow, for a `run_hosts h` row of run `h.run_id`. */
const HOST_COLUMNS = `h.host, h.status, h.state, h.compliant, h.run_id,
  s.backlog, s.backlog_limit, s.lost, s.wait_actual,
  (SELECT f.severity FROM findings f WHERE f.run_id = h.run_id AND f.host = h.host ORDER BY ${SEV_RANK('f.severity')} LIMIT 1) AS worst_severity,
  (SELECT f.code || ': ' || f.message FROM findings f WHERE f.run_id = h.run_id AND f.host = h.host ORDER BY ${SEV_RANK('f.severity')} LIMIT 1) AS top_finding`;
const HOST_FROM = `run_hosts h LEFT JOIN samples s ON s.run_id = h.run_id AND s.host = h.host AND ${LAST_SAMPLE}`;

/**
 * A page of hosts in two steps: `keys` picks the page's (run_id, host) pairs with their sort
 * keys o1..o4 (sorting 10,000 bare keys), then only those 50 rows get their sample and their
 * worst finding. Decorating before the LIMIT would look up findings for every host of the run.
 */
const decoratedPage = (keys: string) => `
  SELECT ${HOST_COLUMNS} FROM (${keys}) k
    JOIN run_hosts h ON h.run_id = k.run_id AND h.host = k.host
    LEFT JOIN samples s ON s.run_id = h.run_id AND s.host = h.host AND ${LAST_SAMPLE}
   ORDER BY k.o1, k.o2, k.o3, k.o4`;

export interface HostFilter {
  state?: string;
  status?: string;
  /** Host name glob (`web*`), SQLite GLOB syntax. */
  glob?: string;
  /** Host name regular expression (JavaScript syntax). */
  regex?: string;
  group?: string;
  code?: string;
  control?: string;
  severity?: string;
}

/**
 * A user's regex runs inside SQLite on every host name: bounded in length, compiled once, on
 * V8's linear-time engine (a pathological pattern cannot stall the server: src/expr/regex.ts).
 */
const MAX_REGEX = 200;

function compileRegex(src: string): RegExp {
  if (src.length > MAX_REGEX) throw new FleetmendError('E_USAGE', `regex longer than ${MAX_REGEX} characters`);
  try {
    return linearRegExp(src);
  } catch (err) {
    throw new FleetmendError('E_USAGE', `bad regex: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function filterSql(f: HostFilter, params: Record<string, unknown>): string[] {
  const where: string[] = [];
  const add = (key: keyof HostFilter, sql: string) => {
    const v = f[key];
    if (v === undefined || v === '') return;
    params[key] = v;
    where.push(sql);
  };
  add('state', 'h.state = @state');
  add('status', 'h.status = @status');
  add('glob', 'h.host GLOB @glob');
  add('group', 'EXISTS (SELECT 1 FROM json_each(h.groups) g WHERE g.value = @group)');
  // the finding's hosts as one set (index findings_run_code), not a probe per host
  add('code', '(h.run_id, h.host) IN (SELECT f.run_id, f.host FROM findings f WHERE f.code = @code AND f.run_id IN (SELECT value FROM json_each(@runs)))');
  add('control', 'EXISTS (SELECT 1 FROM json_each(h.failed_controls) c WHERE c.value = @control)');
  add('severity', `(SELECT f.severity FROM findings f WHERE f.run_id = h.run_id AND f.host = h.host ORDER BY ${SEV_RANK('f.severity')} LIMIT 1) = @severity`);
  if (f.regex) {
    compileRegex(f.regex);
    params['regex'] = f.regex;
    where.push('regexp(@regex, h.host)');
  }
  return where;
}

export interface TrendPoint {
  run_id: string;
  started_at: string;
  by_state: Record<string, number>;
  compliant: number;
  non_compliant: number;
  hosts: number;
  lost_new: number;
  lost_per_hour: number | null;
}

export interface FleetView {
  inventories: { inventory: string | null; runs: number; latest: string }[];
  inventory: string | null;
  latest: RunRef | undefined;
  states: { state: string; hosts: number }[];
  compliance: { compliant: number; non_compliant: number; unknown: number };
  trend: TrendPoint[];
  worst: Page<HostRow>;
  groups: Page<{ grp: string; hosts: number; non_compliant: number; worst_state: string }>;
}

export interface TimelineEvent {
  run_id: string;
  at: string;
  code: string;
  severity: string;
  message: string;
  change: 'appeared' | 'resolved';
}

export interface HostView {
  host: string;
  history: { run_id: string; started_at: string; state: string | null; backlog: number | null; backlog_limit: number | null; lost: number | null; wait_actual: number | null; status: string }[];
  timeline: Page<TimelineEvent>;
  changes: Page<{ run_id: string; started_at: string; playbook: string | null; task: string; module: string; diff: NonNullable<TaskResult['diff']>; msg: string | null }>;
  latest: { run_id: string; groups: string[]; facts: { key: string; value: string }[]; findings: { code: string; severity: string; message: string }[] } | undefined;
}

export interface MatrixGroup {
  hosts: number;
  folded: string;
  outcomes: { seq: number; status: string; changed: boolean }[];
}

export interface RunView {
  run: RunRef;
  hosts: Page<HostRow>;
  matrix: { tasks: { seq: number; name: string }[]; groups: Page<MatrixGroup> } | undefined;
}

export interface CompareRow {
  host: string;
  a_state: string | null;
  b_state: string | null;
  a_compliant: number | null;
  b_compliant: number | null;
  a_codes: string;
  b_codes: string;
  a_limit: number | null;
  b_limit: number | null;
  a_enabled: number | null;
  b_enabled: number | null;
  a_failure: number | null;
  b_failure: number | null;
  appeared: string[];
  resolved: string[];
  verdict: 'regressed' | 'improved' | 'changed';
}

export interface CompareView {
  a: RunRef;
  b: RunRef;
  rows: Page<CompareRow>;
  counts: { regressed: number; improved: number; changed: number };
}

/** Fact values shown on a host page: the last sample's audit status and system, flattened. */
function flatten(prefix: string, v: unknown, out: { key: string; value: string }[], depth = 0): void {
  if (v === null || v === undefined) return;
  if (typeof v !== 'object') {
    out.push({ key: prefix, value: String(v) });
    return;
  }
  if (depth > 2 || Array.isArray(v)) {
    out.push({ key: prefix, value: JSON.stringify(v).slice(0, 300) });
    return;
  }
  for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out, depth + 1);
}

export class ReadModel {
  private readonly q;

  constructor(private readonly db: Database.Database) {
    const regexCache = new Map<string, RegExp>();
    db.function('regexp', { deterministic: true }, (re: unknown, s: unknown) => {
      const src = String(re);
      let rx = regexCache.get(src);
      if (!rx) {
        if (regexCache.size > 100) regexCache.clear();
        rx = compileRegex(src);
        regexCache.set(src, rx);
      }
      return rx.test(String(s)) ? 1 : 0;
    });
    this.q = {
      runById: db.prepare(`SELECT * FROM runs WHERE id = ?`),
      inventories: db.prepare(
        `SELECT inventory, COUNT(*) AS runs, MAX(started_at) AS latest FROM runs WHERE mode = 'sweep' GROUP BY inventory ORDER BY latest DESC`,
      ),
      latestSweep: db.prepare(
        `SELECT * FROM runs WHERE mode = 'sweep' AND status != 'running' AND inventory IS ? ORDER BY started_at DESC, rowid DESC LIMIT 1`,
      ),
      stateCounts: db.prepare(`SELECT COALESCE(state, 'none') AS state, COUNT(*) AS hosts FROM run_hosts WHERE run_id = ? GROUP BY state ORDER BY ${STATE_RANK('state')}`),
      compliance: db.prepare(
        `SELECT SUM(compliant = 1) AS compliant, SUM(compliant = 0) AS non_compliant, SUM(compliant IS NULL) AS unknown FROM run_hosts WHERE run_id = ?`,
      ),
      trend: db.prepare(
        `SELECT r.id, r.started_at, r.summary, o.lost_new, p.started_at AS prev_started
           FROM runs r LEFT JOIN run_rollups o ON o.run_id = r.id LEFT JOIN runs p ON p.id = o.prev_run_id
          WHERE r.mode = 'sweep' AND r.status != 'running' AND r.inventory IS ?
          ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?`,
      ),
      worst: db.prepare(
        decoratedPage(`SELECT h.run_id, h.host, ${STATE_RANK('h.state')} AS o1, h.compliant IS NOT 0 AS o2, -COALESCE(s.lost, 0) AS o3, h.host AS o4
           FROM ${HOST_FROM} WHERE h.run_id = ? ORDER BY o1, o2, o3, o4 LIMIT ? OFFSET ?`),
      ),
      hostCount: db.prepare(`SELECT COUNT(*) AS n FROM run_hosts WHERE run_id = ?`),
      groups: db.prepare(
        `SELECT g.value AS grp, COUNT(*) AS hosts, COALESCE(SUM(h.compliant = 0), 0) AS non_compliant, MIN(${STATE_RANK('h.state')}) AS worst
           FROM run_hosts h, json_each(h.groups) g WHERE h.run_id = ? GROUP BY g.value ORDER BY worst, non_compliant DESC, grp LIMIT ? OFFSET ?`,
      ),
      groupCount: db.prepare(`SELECT COUNT(DISTINCT g.value) AS n FROM run_hosts h, json_each(h.groups) g WHERE h.run_id = ?`),
      history: db.prepare(
        `SELECT h.run_id, r.started_at, h.state, h.status, s.backlog, s.backlog_limit, s.lost, s.wait_actual
           FROM run_hosts h JOIN runs r ON r.id = h.run_id
           LEFT JOIN samples s ON s.run_id = h.run_id AND s.host = h.host AND ${LAST_SAMPLE}
          WHERE h.host = ? AND r.mode = 'sweep' AND h.status != 'pending'
          ORDER BY r.started_at DESC, r.rowid DESC LIMIT ?`,
      ),
      hostFindings: db.prepare(
        `SELECT f.run_id, f.code, f.severity, f.message FROM findings f WHERE f.host = ? AND f.run_id IN (SELECT value FROM json_each(?))`,
      ),
      changes: db.prepare(
        `SELECT t.run_id, r.started_at, r.playbook, t.task, t.module, t.json FROM task_results t JOIN runs r ON r.id = t.run_id
          WHERE t.host = ? AND t.changed = 1 ORDER BY r.started_at DESC, t.seq LIMIT ? OFFSET ?`,
      ),
      changeCount: db.prepare(`SELECT COUNT(*) AS n FROM task_results WHERE host = ? AND changed = 1`),
      latestResult: db.prepare(
        `SELECT h.run_id, h.result, h.groups FROM run_hosts h JOIN runs r ON r.id = h.run_id
          WHERE h.host = ? AND h.result IS NOT NULL ORDER BY r.started_at DESC, r.rowid DESC LIMIT 1`,
      ),
      findingsOf: db.prepare(`SELECT code, severity, message FROM findings WHERE run_id = ? AND host = ? ORDER BY ${SEV_RANK('severity')}, code`),
      tasks: db.prepare(`SELECT seq, MIN(task) AS name FROM task_results WHERE run_id = ? GROUP BY seq ORDER BY seq`),
      outcomeGroups: db.prepare(
        `SELECT sig, COUNT(*) AS hosts, group_concat(host, char(10)) AS names FROM (
           SELECT host, group_concat(seq || ':' || status || ':' || changed, ',') AS sig
             FROM (SELECT host, seq, status, changed FROM task_results WHERE run_id = ? ORDER BY host, seq) GROUP BY host)
          GROUP BY sig ORDER BY hosts DESC, sig LIMIT ? OFFSET ?`,
      ),
      outcomeCount: db.prepare(
        `SELECT COUNT(*) AS n FROM (SELECT DISTINCT sig FROM (SELECT group_concat(seq || ':' || status || ':' || changed, ',') AS sig
           FROM (SELECT host, seq, status, changed FROM task_results WHERE run_id = ? ORDER BY host, seq) GROUP BY host))`,
      ),
      compareSide: db.prepare(COMPARE_SIDE),
    };
  }

  run(id: string): RunRef {
    const row = this.q.runById.get(id) as RunRow | undefined;
    if (!row) throw new FleetmendError('E_USAGE', `no run "${id}" in the store`);
    return runRef(row);
  }

  fleet(opts: { inventory?: string | null; n: number; worstPage: number; groupPage: number }): FleetView {
    const inventories = this.q.inventories.all() as FleetView['inventories'];
    const inventory = opts.inventory !== undefined ? opts.inventory : (inventories[0]?.inventory ?? null);
    const row = this.q.latestSweep.get(inventory) as RunRow | undefined;
    const latest = row ? runRef(row) : undefined;
    const empty = { items: [], page: 1, pages: 1, total: 0 };
    if (!latest) return { inventories, inventory, latest, states: [], compliance: { compliant: 0, non_compliant: 0, unknown: 0 }, trend: [], worst: empty, groups: empty };
    const c = this.q.compliance.get(latest.id) as { compliant: number | null; non_compliant: number | null; unknown: number | null };
    const total = (this.q.hostCount.get(latest.id) as { n: number }).n;
    const groupTotal = (this.q.groupCount.get(latest.id) as { n: number }).n;
    const groups = (this.q.groups.all(latest.id, PAGE_SIZE, (opts.groupPage - 1) * PAGE_SIZE) as { grp: string; hosts: number; non_compliant: number; worst: number }[])
      .map((g) => ({ grp: g.grp, hosts: g.hosts, non_compliant: g.non_compliant, worst_state: STATE_PRECEDENCE[g.worst] ?? 'none' }));
    return {
      inventories,
      inventory,
      latest,
      states: this.q.stateCounts.all(latest.id) as FleetView['states'],
      compliance: { compliant: c.compliant ?? 0, non_compliant: c.non_compliant ?? 0, unknown: c.unknown ?? 0 },
      trend: this.trend(inventory, opts.n),
      worst: paged(this.q.worst.all(latest.id, PAGE_SIZE, (opts.worstPage - 1) * PAGE_SIZE) as HostRow[], total, opts.worstPage),
      groups: paged(groups, groupTotal, opts.groupPage),
    };
  }

  private trend(inventory: string | null, n: number): TrendPoint[] {
    type Row = { id: string; started_at: string; summary: string | null; lost_new: number | null; prev_started: string | null };
    return (this.q.trend.all(inventory, n) as Row[]).reverse().map((r) => {
      const s = r.summary ? (JSON.parse(r.summary) as RunSummary) : undefined;
      const hours = r.prev_started ? (Date.parse(r.started_at) - Date.parse(r.prev_started)) / 3_600_000 : 0;
      const nc = s?.non_compliant ?? 0;
      return {
        run_id: r.id,
        started_at: r.started_at,
        by_state: s?.by_state ?? {},
        hosts: s?.hosts ?? 0,
        non_compliant: nc,
        compliant: s?.non_compliant === undefined ? 0 : (s.hosts - s.unreachable - nc),
        lost_new: r.lost_new ?? 0,
        lost_per_hour: hours > 0 ? Math.round((r.lost_new ?? 0) / hours) : null,
      };
    });
  }

  host(name: string, opts: { n: number; timelinePage: number; changesPage: number }): HostView {
    const history = (this.q.history.all(name, opts.n) as HostView['history']).reverse();
    const latestRow = this.q.latestResult.get(name) as { run_id: string; result: string; groups: string | null } | undefined;
    const changeTotal = (this.q.changeCount.get(name) as { n: number }).n;
    type ChangeRow = { run_id: string; started_at: string; playbook: string | null; task: string; module: string; json: string };
    const changes = (this.q.changes.all(name, PAGE_SIZE, (opts.changesPage - 1) * PAGE_SIZE) as ChangeRow[]).map((c) => {
      const t = JSON.parse(c.json) as TaskResult;
      return { run_id: c.run_id, started_at: c.started_at, playbook: c.playbook, task: c.task, module: c.module, diff: t.diff ?? [], msg: t.msg ?? null };
    });
    return {
      host: name,
      history,
      timeline: this.timeline(name, history, opts.timelinePage),
      changes: paged(changes, changeTotal, opts.changesPage),
      latest: latestRow ? this.latestFacts(name, latestRow) : undefined,
    };
  }

  /** Findings that appeared or resolved between consecutive sweeps of the host, newest first. */
  private timeline(name: string, history: HostView['history'], page: number): Page<TimelineEvent> {
    const byRun = new Map<string, Map<string, { severity: string; message: string }>>();
    const rows = this.q.hostFindings.all(name, JSON.stringify(history.map((h) => h.run_id))) as { run_id: string; code: string; severity: string; message: string }[];
    for (const f of rows) {
      const m = byRun.get(f.run_id) ?? new Map();
      m.set(f.code, { severity: f.severity, message: f.message });
      byRun.set(f.run_id, m);
    }
    const events: TimelineEvent[] = [];
    let prev = new Map<string, { severity: string; message: string }>();
    for (const h of history) {
      const cur = byRun.get(h.run_id) ?? new Map();
      for (const [code, f] of cur) if (!prev.has(code)) events.push({ run_id: h.run_id, at: h.started_at, code, ...f, change: 'appeared' });
      for (const [code, f] of prev) if (!cur.has(code)) events.push({ run_id: h.run_id, at: h.started_at, code, ...f, change: 'resolved' });
      prev = cur;
    }
    events.reverse();
    return paged(events.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE), events.length, page);
  }

  private latestFacts(name: string, row: { run_id: string; result: string; groups: string | null }): NonNullable<HostView['latest']> {
    const result = JSON.parse(row.result) as { audit?: unknown; facts?: { samples?: { system?: unknown }[] } };
    const facts: { key: string; value: string }[] = [];
    flatten('audit', result.audit, facts);
    const samples = result.facts?.samples ?? [];
    flatten('system', samples[samples.length - 1]?.system, facts);
    return {
      run_id: row.run_id,
      groups: row.groups ? (JSON.parse(row.groups) as string[]) : [],
      facts,
      findings: this.q.findingsOf.all(row.run_id, name) as { code: string; severity: string; message: string }[],
    };
  }

  runView(id: string, filter: HostFilter, page: number, matrixPage: number): RunView {
    const run = this.run(id);
    const hosts = this.hostPage([id], filter, page);
    let matrix: RunView['matrix'];
    if (run.mode === 'run') {
      const tasks = this.q.tasks.all(id) as { seq: number; name: string }[];
      const total = (this.q.outcomeCount.get(id) as { n: number }).n;
      const groups = (this.q.outcomeGroups.all(id, PAGE_SIZE, (matrixPage - 1) * PAGE_SIZE) as { sig: string; hosts: number; names: string }[]).map((g) => ({
        hosts: g.hosts,
        folded: foldHosts(g.names.split('\n')),
        outcomes: g.sig.split(',').map((o) => {
          const [seq, status, changed] = o.split(':');
          return { seq: Number(seq), status: status!, changed: changed === '1' };
        }),
      }));
      matrix = { tasks, groups: paged(groups, total, matrixPage) };
    }
    return { run, hosts, matrix };
  }

  /** Hosts of the given runs that match the filter, worst first. */
  hostPage(runIds: string[], filter: HostFilter, page: number): Page<HostRow> {
    const params: Record<string, unknown> = { runs: JSON.stringify(runIds), limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE };
    const where = ['h.run_id IN (SELECT value FROM json_each(@runs))', "h.status != 'pending'", ...filterSql(filter, params)].join(' AND ');
    // Filters vary per request; SQLite caches nothing across prepares, but preparing costs microseconds.
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM run_hosts h WHERE ${where}`).get(params) as { n: number }).n;
    const keys = `SELECT h.run_id, h.host, ${STATE_RANK('h.state')} AS o1, h.host AS o2, h.run_id AS o3, 0 AS o4
      FROM run_hosts h WHERE ${where} ORDER BY o1, o2, o3 LIMIT @limit OFFSET @offset`;
    const items = this.db.prepare(decoratedPage(keys)).all(params) as HostRow[];
    return paged(items, total, page);
  }

  /** The newest finished sweep of each inventory: what "now" means for search. */
  latestSweeps(): string[] {
    return (this.q.inventories.all() as { inventory: string | null }[])
      .map((i) => (this.q.latestSweep.get(i.inventory) as RunRow | undefined)?.id)
      .filter((id): id is string => id !== undefined);
  }

  listRuns(opts: { page: number; inventory?: string; mode?: string }): Page<RunRef> {
    const params: Record<string, unknown> = { limit: PAGE_SIZE, offset: (opts.page - 1) * PAGE_SIZE };
    const where: string[] = [];
    if (opts.inventory) (where.push('inventory = @inventory'), (params['inventory'] = opts.inventory));
    if (opts.mode) (where.push('mode = @mode'), (params['mode'] = opts.mode));
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM runs ${w}`).get(params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM runs ${w} ORDER BY started_at DESC, rowid DESC LIMIT @limit OFFSET @offset`).all(params) as RunRow[];
    return paged(rows.map(runRef), total, opts.page);
  }

  compare(aId: string, bId: string, page: number): CompareView {
    let a = this.run(aId);
    let b = this.run(bId);
    if (a.started_at > b.started_at) [a, b] = [b, a];
    type Row = Side & { host: string };
    const before = new Map((this.q.compareSide.all({ run: a.id }) as Row[]).map((r) => [r.host, r]));
    const rows: (CompareRow & { rank: number })[] = [];
    const seen = new Set<string>();
    for (const after of this.q.compareSide.all({ run: b.id }) as Row[]) {
      seen.add(after.host);
      const row = compareRow(after.host, before.get(after.host), after);
      if (row) rows.push(row);
    }
    for (const [host, gone] of before) {
      if (seen.has(host)) continue;
      const row = compareRow(host, gone, undefined);
      if (row) rows.push(row);
    }
    const order = { regressed: 0, improved: 1, changed: 2 };
    rows.sort((x, y) => order[x.verdict] - order[y.verdict] || x.rank - y.rank || (x.host < y.host ? -1 : 1));
    const counts = { regressed: 0, improved: 0, changed: 0 };
    for (const r of rows) counts[r.verdict]++;
    const items = rows.slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE).map(({ rank: _r, ...r }) => r);
    return { a, b, rows: paged(items, rows.length, page), counts };
  }
}

/**
 * One run's side of a comparison: per host its state, compliance, finding codes (one grouped
 * pass over the run's findings) and configured values from its last sample. The two sides are
 * joined by host name in JS: SQLite runs a FULL JOIN of two 10,000-row subqueries as a nested
 * loop (seconds), two scans and a Map take milliseconds.
 */
const COMPARE_SIDE = `
  SELECT h.host, h.state, h.compliant, ${STATE_RANK('h.state')} AS rank, COALESCE(c.codes, '') AS codes,
         s.backlog_limit AS lim, s.enabled, s.failure
    FROM ${HOST_FROM}
    LEFT JOIN (SELECT host, group_concat(code, ' ') AS codes
                 FROM (SELECT DISTINCT host, code FROM findings WHERE run_id = @run ORDER BY host, code) GROUP BY host) c ON c.host = h.host
   WHERE h.run_id = @run AND h.status != 'pending'`;

type Side = { state: string | null; compliant: number | null; rank: number; codes: string; lim: number | null; enabled: number | null; failure: number | null };
const ABSENT = STATE_PRECEDENCE.length + 1;

/** A host's change between two runs, or undefined when nothing compared changed. */
function compareRow(host: string, a: Side | undefined, b: Side | undefined): (CompareRow & { rank: number }) | undefined {
  const same = a && b && a.state === b.state && a.compliant === b.compliant && a.codes === b.codes && a.lim === b.lim && a.enabled === b.enabled && a.failure === b.failure;
  if (same) return undefined;
  const was = new Set(a?.codes ? a.codes.split(' ') : []);
  const is = new Set(b?.codes ? b.codes.split(' ') : []);
  const appeared = [...is].filter((c) => !was.has(c));
  const resolved = [...was].filter((c) => !is.has(c));
  const aRank = a?.rank ?? ABSENT;
  const bRank = b?.rank ?? ABSENT;
  const worse = bRank < aRank || (a?.compliant === 1 && b?.compliant === 0) || (appeared.length > 0 && bRank <= aRank);
  const better = bRank > aRank || (a?.compliant === 0 && b?.compliant === 1) || (resolved.length > 0 && appeared.length === 0);
  return {
    host,
    a_state: a?.state ?? null, b_state: b?.state ?? null,
    a_compliant: a?.compliant ?? null, b_compliant: b?.compliant ?? null,
    a_codes: a?.codes ?? '', b_codes: b?.codes ?? '',
    a_limit: a?.lim ?? null, b_limit: b?.lim ?? null,
    a_enabled: a?.enabled ?? null, b_enabled: b?.enabled ?? null,
    a_failure: a?.failure ?? null, b_failure: b?.failure ?? null,
    appeared, resolved,
    verdict: worse ? 'regressed' : better ? 'improved' : 'changed',
    rank: bRank,
  };
}
