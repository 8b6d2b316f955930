import type { HostResult, RunEvent, RunSummary, TaskResult } from '../executor/events.js';
import { diffLines, sortHosts } from '../report/view.js';
import { terminalLine } from '../util/terminal.js';

/**
 * Terminal output, a consumer of run events: a live counter on a TTY, one plain line per host
 * otherwise. Writes to stderr so that `--json` keeps stdout a single JSON document.
 */
export class Progress {
  private total = 0;
  private done = 0;
  private readonly counts: Record<string, number> = {};
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly quiet = false,
    /** Print the before/after of every change (run --diff). */
    private readonly showDiff = false,
  ) {}

  readonly listener = (e: RunEvent): void => {
    if (this.quiet) return;
    switch (e.type) {
      case 'run-start':
        this.total = e.hosts.length;
        this.out.write(`fleetmend ${e.run.mode} ${e.run.id}: ${e.hosts.length} host(s), forks ${e.run.forks}\n`);
        break;
      case 'host-done':
        this.done++;
        this.counts[e.result.status] = (this.counts[e.result.status] ?? 0) + 1;
        if (this.out.isTTY) this.draw(false);
        else this.out.write(`${terminalLine(lineFor(e.result))}\n`);
        break;
      case 'task':
        this.task(e.host, e.result);
        break;
      case 'run-end':
        if (this.out.isTTY) this.draw(true);
        break;
      default:
        break;
    }
  };

  /** Failed tasks always, diffs of changes with --diff, like ansible-playbook. */
  private task(host: string, t: TaskResult): void {
    const failed = t.status === 'failed' || t.status === 'unreachable';
    const diffs = this.showDiff && t.changed ? (t.diff ?? []) : [];
    if (!failed && !diffs.length && !t.warnings?.length) return;
    // host output and names reach these lines: each is made safe for the terminal on its own,
    // before the progress line's own erase sequence is put in front
    const lines = [`TASK [${t.task}] ${host}: ${t.status}${t.msg ? ` - ${t.msg}` : ''}`];
    for (const w of t.warnings ?? []) lines.push(`  warning: ${w}`);
    for (const d of diffs) {
      lines.push(`  --- before${d.path ? `: ${d.path}` : ''}`, `  +++ after${d.path ? `: ${d.path}` : ''}`);
      for (const l of diffLines(d.before, d.after)) if (l.sign !== ' ') lines.push(`  ${l.sign}${l.text}`);
    }
    this.out.write(`${this.out.isTTY ? '\r\x1b[2K' : ''}${lines.map(terminalLine).join('\n')}\n`);
  }

  private draw(final: boolean): void {
    const now = Date.now();
    if (!final && now - this.lastDraw < 100 && this.done < this.total) return;
    this.lastDraw = now;
    const parts = Object.entries(this.counts).map(([k, v]) => `${k} ${v}`);
    this.out.write(`\r\x1b[2K[${this.done}/${this.total}] ${parts.join(', ')}${final ? '\n' : ''}`);
  }
}

/** The most severe finding worth a glance (low/info ones stay in the reports). */
function notable(r: HostResult): string {
  const f = r.diagnosis?.findings.find((x) => x.severity !== 'low' && x.severity !== 'info');
  return f?.code ?? '';
}

function lineFor(r: HostResult): string {
  const state = r.diagnosis ? ` ${r.diagnosis.state}` : '';
  const err = r.error ? ` ${r.error.code}: ${r.error.message}` : '';
  return `${r.status.padEnd(11)} ${r.host}${state}${err}`;
}

/** The closing table, sorted so the worst hosts come first. */
export function summaryTable(results: readonly HostResult[], summary: RunSummary): string {
  const rows = sortHosts(results);
  const header = ['HOST', 'STATUS', 'STATE', 'BACKLOG/LIMIT', 'LOST', 'NOTE'];
  const body = rows.map((r) => [
    terminalLine(r.host),
    r.status,
    r.diagnosis?.state ?? '-',
    r.audit ? `${r.audit.backlog}/${r.audit.backlog_limit}` : '-',
    r.audit ? String(r.audit.lost) : '-',
    r.error ? r.error.code : notable(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const totals =
    `hosts=${summary.hosts} ok=${summary.ok} changed=${summary.changed} failed=${summary.failed} ` +
    `unreachable=${summary.unreachable}` +
    (summary.interrupted ? ` interrupted=${summary.interrupted}` : '') +
    (summary.non_compliant !== undefined ? ` non_compliant=${summary.non_compliant}` : '');
  return [fmt(header), ...body.map(fmt), '', totals].join('\n') + '\n';
}
