/**
 * Report data and the view models the templates see. Templates only format: every number,
 * ordering and grouping is computed here, from the stored run, once.
 */
import type { HostResult, RunInfo, RunSummary, TaskResult } from '../results/index.js';
import type { Finding, Severity } from '../diagnosis/types.js';
import { SEVERITY_ORDER } from '../diagnosis/concepts.js';
import { severityRank } from '../diagnosis/severity.js';
import type { ControlResult } from '../policy/types.js';
import type { HostHistoryRow, RunStatus, StoredRun } from '../store/index.js';
import { redact } from '../secrets/index.js';
import { foldHosts, naturalCompare } from './hostset.js';
import { humanValue } from './numbers.js';
import { summarize } from '../results/index.js';

/** What a report is rendered from. */
export interface ReportData {
  run: RunInfo;
  status: RunStatus;
  /** Computed from `hosts` when absent. */
  summary?: RunSummary;
  hosts: HostResult[];
  /** Hosts that were started but have no result. */
  pending?: string[];
  /** Past sweeps per host name, oldest first (store.hostHistory), for sparklines. */
  history?: Record<string, HostHistoryRow[]>;
  /** ISO time of rendering (injectable for reproducible output). */
  generated_at?: string;
}

export function reportDataFromStored(stored: StoredRun, history?: Record<string, HostHistoryRow[]>): ReportData {
  return {
    run: stored.run,
    status: stored.status,
    ...(stored.summary ? { summary: stored.summary } : {}),
    hosts: stored.hosts,
    pending: stored.pending,
    ...(history ? { history } : {}),
  };
}

const NONE_RANK = SEVERITY_ORDER.length;

/** Lower is worse. A host that could not be examined ranks with `high` findings. */
export function hostRank(h: HostResult): number {
  let rank = NONE_RANK;
  for (const f of h.diagnosis?.findings ?? []) rank = Math.min(rank, severityRank(f.severity));
  if (h.status === 'failed' || h.status === 'unreachable') rank = Math.min(rank, severityRank('high'));
  if (h.status === 'interrupted') rank = Math.min(rank, severityRank('medium'));
  if (h.compliance && !h.compliance.compliant) rank = Math.min(rank, severityRank('low'));
  return rank;
}

/**
 * The severity badge: the worst finding's, or `none`. Not the sort rank, which also ranks an
 * unreachable or failed host with `high` findings: a host whose only finding is medium showed a
 * "high" badge (issue 26.5); its status has a badge of its own.
 */
export function worstFindingSeverity(h: HostResult): Severity | 'none' {
  let rank = NONE_RANK;
  for (const f of h.diagnosis?.findings ?? []) rank = Math.min(rank, severityRank(f.severity));
  return rank < NONE_RANK ? SEVERITY_ORDER[rank]! : 'none';
}

/**
 * A host an operator must look at: it failed, was unreachable or interrupted, is non-compliant, or
 * has a finding above `low` (low and info findings are history and notes; they stay in reports).
 * The terminal lists these one per line and folds the rest.
 */
export function needsAttention(h: HostResult): boolean {
  if (h.status === 'failed' || h.status === 'unreachable' || h.status === 'interrupted') return true;
  if (h.compliance && !h.compliance.compliant) return true;
  return (h.diagnosis?.findings ?? []).some((f) => f.severity !== 'low' && f.severity !== 'info');
}

export function sortHosts(hosts: readonly HostResult[]): HostResult[] {
  return hosts
    .map((h) => ({ h, r: hostRank(h) }))
    .sort((a, b) => a.r - b.r || naturalCompare(a.h.host, b.h.host))
    .map((x) => x.h);
}

/** The run summary, computed once for runs and reports alike (executor's `summarize`). */
export { summarize };

export interface Count {
  key: string;
  count: number;
}

export interface GroupView {
  /** Folded host set, e.g. `web[001-500]`. */
  hosts: string;
  count: number;
  status: string;
  state: string;
  severity: Severity | 'none';
  findings: { code: string; severity: Severity; message: string }[];
  error?: string;
}

export interface BarView {
  host: string;
  anchor: string;
  backlog: number;
  limit: number;
  y: number;
  limit_width: number;
  backlog_width: number;
  label_y: number;
  over: boolean;
}

export interface NoteView {
  code: string;
  severity: Severity;
  count: number;
  hosts: string;
  /** The first host's message and action (the hosts' own values are in their sections). */
  message: string;
  action: string;
}

/**
 * A trade-off such as auditd's SUSPEND on a full disk is the same on every stock host: one note
 * with the hosts folded, instead of the same paragraph as the "top finding" of most hosts.
 */
export function fleetNotes(hosts: readonly HostResult[]): NoteView[] {
  const byCode = new Map<string, { first: Finding; hosts: string[] }>();
  for (const h of hosts) {
    for (const f of h.diagnosis?.findings ?? []) {
      if (f.severity !== 'low' && f.severity !== 'info') continue;
      const seen = byCode.get(f.code);
      if (seen) seen.hosts.push(h.host);
      else byCode.set(f.code, { first: f, hosts: [h.host] });
    }
  }
  return [...byCode.values()]
    .filter((n) => n.hosts.length > 1)
    .map(({ first, hosts: names }) => ({ code: first.code, severity: first.severity, count: names.length, hosts: foldHosts(names), message: first.message, action: first.action }));
}

export interface FleetView {
  tool: { name: string };
  generated_at: string;
  run: RunInfo;
  status: RunStatus;
  summary: RunSummary;
  by_status: Count[];
  by_state: Count[];
  non_compliant: number;
  pending: string;
  pending_hosts: string[];
  pending_count: number;
  groups: GroupView[];
  /** Low and info findings several hosts share: said once for the fleet, not per host. */
  notes: NoteView[];
  chart: { bars: BarView[]; shown: number; total: number; height: number; width: number; bar_x: number; bar_max: number };
  junit: { tests: number; failures: number; errors: number; skipped: number; time: string };
  /** Set by the renderer for the HTML CSP. */
  script_hash?: string;
}

export interface TaskView extends TaskResult {
  diffs: { path?: string; lines: { sign: string; text: string }[]; unified: string[] }[];
}

export interface HostView {
  index: number;
  name: string;
  /** Safe in an HTML id / URL fragment: never derived from the host name. */
  anchor: string;
  address: string;
  port: number;
  status: string;
  state: string;
  severity: Severity | 'none';
  rank: number;
  audited: boolean;
  backlog: number | null;
  backlog_limit: number | null;
  lost: number | null;
  lost_delta: number | null;
  backlog_delta: number | null;
  wait_actual: number | null;
  enabled: number | null;
  failure: number | null;
  pid: number | null;
  top_finding: Finding | undefined;
  findings: (Finding & { evidence_list: { key: string; value: string }[] })[];
  compliant: boolean | null;
  controls: ControlResult[];
  /** Failed controls that count (impact > 0). */
  failed_controls: ControlResult[];
  /** Failed informational controls (impact 0): reported apart, they never make a host non-compliant. */
  informational_controls: ControlResult[];
  tasks: TaskView[];
  changed_tasks: TaskView[];
  kernel_lines: string[];
  panic_lines: string[];
  error: HostResult['error'];
  history: HistoryView | undefined;
  /** Anything to say beyond one table row. */
  noteworthy: boolean;
  /** Lowercased text the HTML filter box matches against. */
  search: string;
  junit: { cases: JunitCase[] };
}

export interface JunitCase {
  name: string;
  kind: 'pass' | 'failure' | 'error' | 'skipped';
  type?: string;
  message?: string;
  body?: string;
}

export interface HistoryView {
  points: number;
  backlog_points: string;
  lost_points: string;
  max_backlog: number;
  max_lost: number;
  first: string;
  last: string;
  width: number;
  height: number;
}

const SPARK_W = 160;
const SPARK_H = 32;

function sparkPoints(values: (number | null)[], max: number): string {
  const n = values.length;
  return values
    .map((v, i) => [i, v] as const)
    .filter((p): p is readonly [number, number] => p[1] !== null)
    .map(([i, v]) => {
      const x = n === 1 ? 0 : (i * SPARK_W) / (n - 1);
      const y = SPARK_H - 2 - (max > 0 ? (v / max) * (SPARK_H - 4) : 0);
      return `${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
}

function historyView(rows: HostHistoryRow[] | undefined): HistoryView | undefined {
  if (!rows || rows.length < 2) return undefined;
  // a host no sweep could read (unreachable every time) has no history to draw: "max backlog 0" would be invented
  if (rows.filter((r) => r.backlog !== null || r.lost !== null).length < 2) return undefined;
  const backlog = rows.map((r) => r.backlog);
  const lost = rows.map((r) => r.lost);
  const maxB = Math.max(0, ...backlog.map((v) => v ?? 0));
  const maxL = Math.max(0, ...lost.map((v) => v ?? 0));
  return {
    points: rows.length,
    backlog_points: sparkPoints(backlog, maxB),
    lost_points: sparkPoints(lost, maxL),
    max_backlog: maxB,
    max_lost: maxL,
    first: new Date(rows[0]!.taken_at).toISOString(),
    last: new Date(rows[rows.length - 1]!.taken_at).toISOString(),
    width: SPARK_W,
    height: SPARK_H,
  };
}

/** Changed lines between two texts: common head and tail trimmed, the middle as -/+. */
export function diffLines(before: string, after: string): { sign: string; text: string }[] {
  const a = before.replace(/\n$/, '').split('\n');
  const b = after.replace(/\n$/, '').split('\n');
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const ctx = (l: string): { sign: string; text: string } => ({ sign: ' ', text: l });
  return [
    ...a.slice(Math.max(0, head - 2), head).map(ctx),
    ...a.slice(head, a.length - tail).map((text) => ({ sign: '-', text })),
    ...b.slice(head, b.length - tail).map((text) => ({ sign: '+', text })),
    ...a.slice(a.length - tail, a.length - tail + 2).map(ctx),
  ];
}

function junitCases(h: HostResult, kernel: string[]): JunitCase[] {
  const cases: JunitCase[] = (h.compliance?.controls ?? []).map((c) => ({
    name: `${c.id} ${c.title}`,
    kind: c.passed ? 'pass' : 'failure',
    ...(c.passed ? {} : { type: c.id, message: c.message ?? 'control failed', body: [c.message ?? '', ...kernel].join('\n') }),
  }));
  if (h.status === 'unreachable' || h.status === 'failed') {
    cases.push({
      name: h.status === 'unreachable' ? 'reachable' : 'run',
      kind: 'error',
      type: h.error?.code ?? 'E_INTERNAL',
      message: h.error?.message ?? h.status,
      body: h.error?.message ?? '',
    });
  } else if (cases.length === 0) {
    cases.push({ name: 'run', kind: h.status === 'skipped' || h.status === 'interrupted' ? 'skipped' : 'pass', message: h.status });
  }
  return cases;
}

export function hostView(h: HostResult, index: number, history?: HostHistoryRow[]): HostView {
  const samples = h.facts?.samples ?? [];
  const statusOf = (i: number) => {
    const s = samples[i];
    return s && s.auditctl.kind === 'ok' ? s.auditctl.status : undefined;
  };
  const last = h.audit ?? statusOf(samples.length - 1);
  const first = samples.length > 1 ? statusOf(0) : undefined;
  const lastSample = samples[samples.length - 1];
  const findings = (h.diagnosis?.findings ?? []).map((f) => ({
    ...f,
    evidence_list: Object.entries(f.evidence ?? {}).map(([key, value]) => ({ key, value: humanValue(value) })),
  }));
  const tasks: TaskView[] = (h.tasks ?? []).map((t) => ({
    ...t,
    diffs: (t.diff ?? []).map((d) => {
      const lines = diffLines(d.before, d.after);
      return { ...(d.path !== undefined ? { path: d.path } : {}), lines, unified: lines.map((l) => `${l.sign}${l.text}`) };
    }),
  }));
  const kernel = lastSample?.kernel_log.recent_lines ?? [];
  const failed = (h.compliance?.failed_controls ?? []).filter((c) => c.impact > 0);
  const informational = (h.compliance?.failed_controls ?? []).filter((c) => c.impact === 0);
  const rank = hostRank(h);
  const severity = worstFindingSeverity(h);
  const state = h.diagnosis?.state ?? 'unknown';
  // low and info findings are notes (said once for the fleet), never a host's top finding
  const top = [...(h.diagnosis?.findings ?? [])]
    .filter((f) => f.severity !== 'low' && f.severity !== 'info')
    .sort((a, b) => severityRank(a.severity) - severityRank(b.severity))[0];
  const changed = tasks.filter((t) => t.changed);
  return {
    index,
    name: h.host,
    anchor: `host-${index}`,
    address: h.address,
    port: h.port,
    status: h.status,
    state,
    severity,
    rank,
    audited: last !== undefined,
    backlog: last?.backlog ?? null,
    backlog_limit: last?.backlog_limit ?? null,
    lost: last?.lost ?? null,
    lost_delta: first && last ? last.lost - first.lost : null,
    backlog_delta: first && last ? last.backlog - first.backlog : null,
    wait_actual: last?.backlog_wait_time_actual ?? null,
    enabled: last?.enabled ?? null,
    failure: last?.failure ?? null,
    pid: last?.pid ?? null,
    top_finding: top,
    findings,
    compliant: h.compliance ? h.compliance.compliant : null,
    controls: h.compliance?.controls ?? [],
    failed_controls: failed,
    informational_controls: informational,
    tasks,
    changed_tasks: changed,
    kernel_lines: kernel,
    panic_lines: lastSample?.kernel_log.panic_lines ?? [],
    error: h.error,
    history: historyView(history),
    // low and info findings alone do not earn a section: the fleet notes say them once
    noteworthy: findings.some((f) => f.severity !== 'low' && f.severity !== 'info') || failed.length > 0 || changed.length > 0 || kernel.length > 0 || h.error !== undefined || !['ok'].includes(h.status),
    search: [h.host, h.address, h.status, state, ...findings.map((f) => f.code)].join(' ').toLowerCase(),
    junit: { cases: junitCases(h, kernel) },
  };
}

function groupKey(h: HostResult): string {
  return JSON.stringify([
    h.status,
    h.diagnosis?.state ?? 'unknown',
    h.error?.code ?? null,
    (h.diagnosis?.findings ?? []).map((f) => [f.code, f.message]).sort(),
  ]);
}

/** Like `clush -b`: hosts with identical status, state, error code and findings share one line. */
export function groupHosts(hosts: readonly HostResult[]): GroupView[] {
  const groups = new Map<string, { names: string[]; sample: HostResult; rank: number }>();
  for (const h of hosts) {
    const k = groupKey(h);
    const g = groups.get(k);
    if (g) g.names.push(h.host);
    else groups.set(k, { names: [h.host], sample: h, rank: hostRank(h) });
  }
  return [...groups.values()]
    .sort((a, b) => a.rank - b.rank || b.names.length - a.names.length || naturalCompare(a.names[0]!, b.names[0]!))
    .map(({ names, sample }) => ({
      hosts: foldHosts(names),
      count: names.length,
      status: sample.status,
      state: sample.diagnosis?.state ?? 'unknown',
      severity: worstFindingSeverity(sample),
      findings: (sample.diagnosis?.findings ?? []).map((f) => ({ code: f.code, severity: f.severity, message: f.message })),
      ...(sample.error ? { error: sample.error.code } : {}),
    }));
}

const CHART_MAX_BARS = 40;
const BAR_H = 14;
const BAR_GAP = 4;
const BAR_X = 180;
const BAR_MAX = 420;

/** Backlog against limit for the hosts closest to their limit (at most 40 bars). */
function chart(views: { h: HostResult; index: number }[]): FleetView['chart'] {
  const rows = views
    .map(({ h, index }) => ({ h, index, a: h.audit ?? lastStatus(h) }))
    .filter((r) => r.a !== undefined && r.a.backlog_limit > 0)
    .map((r) => ({ ...r, ratio: r.a!.backlog / r.a!.backlog_limit }))
    .sort((x, y) => y.ratio - x.ratio || naturalCompare(x.h.host, y.h.host));
  const shown = rows.slice(0, CHART_MAX_BARS);
  const bars = shown.map((r, i) => {
    const y = 20 + i * (BAR_H + BAR_GAP);
    return {
      host: r.h.host,
      anchor: `host-${r.index}`,
      backlog: r.a!.backlog,
      limit: r.a!.backlog_limit,
      y,
      label_y: y + BAR_H - 3,
      limit_width: BAR_MAX,
      backlog_width: Math.max(r.a!.backlog > 0 ? 1 : 0, Math.round(Math.min(1, r.ratio) * BAR_MAX)),
      over: r.a!.backlog >= r.a!.backlog_limit,
    };
  });
  return { bars, shown: bars.length, total: rows.length, height: 30 + bars.length * (BAR_H + BAR_GAP), width: BAR_X + BAR_MAX + 120, bar_x: BAR_X, bar_max: BAR_MAX };
}

function lastStatus(h: HostResult) {
  const s = h.facts?.samples[h.facts.samples.length - 1];
  return s && s.auditctl.kind === 'ok' ? s.auditctl.status : undefined;
}

function counts(rec: Record<string, number>): Count[] {
  return Object.entries(rec)
    .filter(([, n]) => n > 0)
    .map(([key, count]) => ({ key, count }));
}

/** The fleet-level view; `hosts` must already be sorted and redacted. */
export function fleetView(data: ReportData, hosts: readonly HostResult[], now: () => Date = () => new Date()): FleetView {
  const summary = data.summary ?? summarize(hosts);
  const { hosts: _n, by_state, non_compliant, ...statuses } = summary;
  let tests = 0, failures = 0, errors = 0, skipped = 0;
  for (const h of hosts) {
    const controls = h.compliance?.controls ?? [];
    failures += controls.filter((c) => !c.passed).length;
    const err = h.status === 'unreachable' || h.status === 'failed';
    if (err) errors += 1;
    const extra = err || controls.length === 0 ? 1 : 0;
    if (!err && controls.length === 0 && (h.status === 'skipped' || h.status === 'interrupted')) skipped += 1;
    tests += controls.length + extra;
  }
  const started = Date.parse(data.run.started_at);
  const finished = data.run.finished_at ? Date.parse(data.run.finished_at) : NaN;
  const pending = data.pending ?? [];
  return {
    tool: { name: 'fleetmend' },
    generated_at: data.generated_at ?? now().toISOString(),
    run: data.run,
    status: data.status,
    summary,
    by_status: counts(statuses as unknown as Record<string, number>),
    by_state: counts(by_state ?? summarize(hosts).by_state ?? {}).sort((a, b) => b.count - a.count),
    non_compliant: non_compliant ?? summarize(hosts).non_compliant ?? 0,
    pending: foldHosts(pending),
    pending_hosts: pending,
    pending_count: pending.length,
    groups: groupHosts(hosts),
    notes: fleetNotes(hosts),
    chart: chart(hosts.map((h, index) => ({ h, index }))),
    junit: { tests, failures, errors, skipped, time: Number.isFinite(finished - started) ? ((finished - started) / 1000).toFixed(3) : '0' },
  };
}

/** Redact and sort once; templates then see only safe, ordered data. */
export function prepareHosts(data: ReportData): HostResult[] {
  return sortHosts(redact(data.hosts));
}
