import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ErrorCode } from '../errors.js';
import type { HostResult, RunEvent, RunSummary, TaskResult } from '../results/index.js';
// hostset.js and view.js, not report/index.js: that one loads the template engine, which a run
// needs only when it writes reports
import { foldHosts, naturalCompare } from '../report/hostset.js';
import { diffLines, needsAttention, sortHosts } from '../report/view.js';

import { noPaint, terminalLine, terminalTable, type Colour, type Paint } from '../util/terminal.js';
import { adviceLines, seriousFindings } from './advice.js';

type Out = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/**
 * Terminal output, a consumer of run events; writes to stderr so that `--json` keeps stdout a
 * single JSON document. A host that is not ok gets a line as it finishes: one that needs
 * attention (failed, unreachable, interrupted, non-compliant, a finding above `low`) or that a
 * playbook changed (`changed` is the news of a run, as in ansible-playbook); ok hosts get none,
 * so 10,000 healthy hosts print nothing per host. On a TTY one live line (below those lines) shows
 * the counts by status, the hosts in flight and the elapsed time; elsewhere (a log, CI) a final
 * line gives the same counts and the time taken.
 */
export class Progress {
  private total = 0;
  /** Host → its latest status: a playbook's plays each finish a host, and a host counts once. */
  private readonly finished = new Map<string, string>();
  /** Playbook hosts whose results were shown per play (play-host-done). */
  private readonly shownPerPlay = new Set<string>();
  /** Host → when it started, for the "in flight" count and the longest-running host. */
  private readonly inFlight = new Map<string, number>();
  private startedAt = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private ticker: ReturnType<typeof setInterval> | undefined;
  /** Error code -> the hosts that failed with it: the first gets its line, the rest are counted. */
  private readonly errors = new Map<ErrorCode, { hosts: string[]; message: string }>();
  private inventory: string | undefined;

  constructor(
    private readonly out: Out,
    private readonly quiet = false,
    /** Print the before/after of every change (run --diff). */
    private readonly showDiff = false,
    private readonly now: () => number = Date.now,
  ) {}

  private get live(): boolean {
    return !!this.out.isTTY;
  }

  readonly listener = (e: RunEvent): void => {
    if (this.quiet) return;
    switch (e.type) {
      case 'run-start':
        this.total = e.hosts.length;
        this.startedAt = this.now();
        this.inventory = e.run.inventory;
        this.write([`fleetmend ${e.run.mode} ${e.run.id}: ${e.hosts.length} host(s), forks ${e.run.forks}`]);
        // the elapsed time moves while hosts are slow to answer (logins on a stalled host take tens of seconds)
        if (this.live) {
          this.ticker = setInterval(() => this.draw(true), 1000);
          this.ticker.unref?.();
        }
        break;
      case 'host-start':
        this.inFlight.set(e.host, this.now());
        if (this.live) this.draw(false);
        break;
      case 'play-host-done':
        this.shownPerPlay.add(e.result.host);
        this.hostDone(e.result);
        break;
      case 'host-done':
        // a playbook host was shown play by play: its merged result only updates the counts
        if (this.shownPerPlay.has(e.result.host)) this.finished.set(e.result.host, e.result.status);
        else this.hostDone(e.result);
        break;
      case 'task':
        this.task(e.host, e.result);
        break;
      case 'run-end':
        if (this.ticker) clearInterval(this.ticker);
        this.ticker = undefined;
        this.inFlight.clear();
        this.write([...foldedErrorLines(this.errors, this.inventory), this.statusLine('done')]);
        break;
      default:
        break;
    }
  };

  private hostDone(result: HostResult): void {
    this.inFlight.delete(result.host);
    this.finished.set(result.host, result.status);
    if (worthALine(result) && this.firstWithItsError(result)) this.lines([lineFor(result)]);
    else if (this.live) this.draw(false);
  }

  /**
   * The one way out to the terminal. Host output, names and every field of a result reach these
   * lines (from Redis, in distributed mode): each line is made safe on its own (a newline inside
   * a field is shown, not obeyed), before the live line's own erase sequence is put in front.
   */
  private write(lines: readonly string[], end = '\n'): void {
    this.out.write(`${this.live ? '\r\x1b[2K' : ''}${lines.map(terminalLine).join('\n')}${end}`);
  }

  /** Records the host's error; true unless another host already printed the same error code. */
  private firstWithItsError(r: HostResult): boolean {
    if (!r.error) return true;
    const seen = this.errors.get(r.error.code);
    if (seen?.hosts.includes(r.host)) return false; // a playbook host seen in an earlier play
    if (seen) seen.hosts.push(r.host);
    else this.errors.set(r.error.code, { hosts: [r.host], message: r.error.message });
    return !seen;
  }

  /** Lines above the live line (which is redrawn after them). */
  private lines(lines: readonly string[]): void {
    this.write(lines);
    if (this.live) this.draw(true);
  }

  /** Failed tasks always, diffs of changes with --diff, like ansible-playbook. */
  private task(host: string, t: TaskResult): void {
    const failed = t.status === 'failed' || t.status === 'unreachable';
    const diffs = this.showDiff && t.changed ? (t.diff ?? []) : [];
    if (!failed && !diffs.length && !t.warnings?.length) return;
    const lines = [`TASK [${t.task}] ${host}: ${t.status}${t.msg ? ` - ${t.msg}` : ''}`];
    for (const w of t.warnings ?? []) lines.push(`  warning: ${w}`);
    for (const d of diffs) {
      lines.push(`  --- before${d.path ? `: ${d.path}` : ''}`, `  +++ after${d.path ? `: ${d.path}` : ''}`);
      for (const l of diffLines(d.before, d.after)) if (l.sign !== ' ') lines.push(`  ${l.sign}${l.text}`);
    }
    this.lines(lines);
  }

  /** `[150/200] ok 147, failed 2, unreachable 1 | 50 in flight (longest web-07 41s) | 12s` */
  private statusLine(head?: string): string {
    const elapsed = (this.now() - this.startedAt) / 1000;
    const counts: Record<string, number> = {};
    for (const st of this.finished.values()) counts[st] = (counts[st] ?? 0) + 1;
    const parts = Object.entries(counts)
      .sort(([a], [b]) => statusOrder(a) - statusOrder(b))
      .map(([k, v]) => `${k} ${v}`);
    const text = parts.length ? parts.join(', ') : 'no host finished';
    const done = this.finished.size;
    if (head) return `${head}: ${done}/${this.total} host(s) in ${seconds(elapsed)}: ${text}`;
    let flight = '';
    if (this.inFlight.size) {
      const [host, since] = [...this.inFlight].reduce((a, b) => (b[1] < a[1] ? b : a));
      const waited = (this.now() - since) / 1000;
      flight = ` | ${this.inFlight.size} in flight${waited >= 5 ? ` (longest ${host} ${seconds(waited)})` : ''}`;
    }
    return `[${done}/${this.total}] ${text}${flight} | ${seconds(elapsed)}`;
  }

  private draw(force: boolean): void {
    const now = this.now();
    if (!force && now - this.lastDraw < 100 && this.finished.size < this.total) return;
    this.lastDraw = now;
    const width = this.out.columns && this.out.columns > 20 ? this.out.columns - 1 : 200;
    const text = terminalLine(this.statusLine());
    this.write([text.length > width ? `${text.slice(0, width - 1)}…` : text], '');
  }
}

/**
 * The fix for an error every host of a fleet tends to share, said once per run. An unknown host
 * key: `fleetmend sim` writes its known_hosts beside its inventory, so a file there is named.
 */
export function errorFix(code: ErrorCode, inventory?: string, message = ''): string | undefined {
  switch (code) {
    case 'E_HOSTKEY_UNKNOWN': {
      const beside = inventory ? join(dirname(resolve(inventory)), 'known_hosts') : undefined;
      // not when that file is the one already searched (the error names it)
      if (beside && existsSync(beside) && !message.includes(beside)) return `add --known-hosts ${beside} (the known_hosts beside the inventory, as \`fleetmend sim\` writes it)`;
      return "add the hosts' keys to the known_hosts file the error names, or give yours with --known-hosts FILE (or trust keys on first use: --host-key-checking accept-new)";
    }
    case 'E_HOSTKEY_CHANGED':
      return 'verify the new key out of band before removing the old one (ssh-keygen -R HOST -f FILE)';
    case 'E_AUTH':
      return 'check ansible_user and the key (ansible_ssh_private_key_file, --private-key or ssh-agent)';
    case 'E_CONNECT':
    case 'E_CONNECT_TIMEOUT':
      return 'check that the hosts are up and sshd listens on ansible_host:ansible_port';
    default:
      return undefined;
  }
}

/** At the end of a run: each error shared by several hosts, once, with the hosts folded, and its fix. */
export function foldedErrorLines(errors: ReadonlyMap<ErrorCode, { hosts: readonly string[]; message: string }>, inventory?: string): string[] {
  const out: string[] = [];
  for (const [code, { hosts, message }] of errors) {
    // a host alone keeps its own line, whose message says what to do
    if (hosts.length < 2) continue;
    out.push(`${code} on ${hosts.length} hosts: ${foldHosts(hosts)} (the first one's line above)`);
    const fix = errorFix(code, inventory, message);
    if (fix) out.push(`  fix (${code}): ${fix}`);
  }
  return out;
}

const STATUS_ORDER = ['ok', 'changed', 'failed', 'unreachable', 'interrupted', 'skipped'];
function statusOrder(s: string): number {
  const i = STATUS_ORDER.indexOf(s);
  return i < 0 ? STATUS_ORDER.length : i;
}

function worthALine(r: HostResult): boolean {
  return r.status === 'changed' || needsAttention(r);
}

function seconds(s: number): string {
  return s < 10 ? `${s.toFixed(1)}s` : `${Math.round(s)}s`;
}

/**
 * What a host's STATE column says: the diagnosis when the host was read (`records-lost`), else
 * why it could not be (`unreachable`, `failed`): "ok" meant "read", and beside `records-lost`
 * it read as "fine".
 */
function stateCell(r: HostResult): string {
  return r.diagnosis?.state ?? r.status;
}

/** The failing controls' ids, for `non-compliant: backlog-limit, disk-actions`. */
function failedControls(r: HostResult): string[] {
  return r.compliance?.compliant === false ? r.compliance.failed_controls.map((c) => c.id) : [];
}

/**
 * The NOTE: what STATE does not already say. The read status when the host was read but did
 * not end ok, the error code, the serious findings other than the one STATE names, and the
 * failing controls.
 */
function noteOf(r: HostResult, withStatus = true): string {
  const parts: string[] = [];
  if (withStatus && r.diagnosis && r.status !== 'ok') parts.push(r.status);
  if (r.error) parts.push(r.error.code);
  for (const f of seriousFindings(r)) if (f.code !== stateCell(r) && !parts.includes(f.code)) parts.push(f.code);
  const controls = failedControls(r);
  if (controls.length) parts.push(`non-compliant: ${controls.join(', ')}`);
  return parts.join('; ');
}

function stateColour(r: HostResult): Colour {
  if (r.status === 'failed' || r.status === 'unreachable' || r.status === 'interrupted') return 'red';
  return needsAttention(r) ? 'yellow' : 'green';
}

/**
 * A finished host's progress line: what it needs first (`records-lost`, `unreachable`, a
 * playbook's `changed`), never `ok` beside a diagnosis that is not.
 */
function lineFor(r: HostResult): string {
  const lead = r.status === 'ok' ? stateCell(r) : r.status;
  const state = r.status !== 'ok' && r.diagnosis ? ` ${r.diagnosis.state}` : '';
  const note = noteOf(r, false);
  return `${lead.padEnd(11)} ${r.host}${state}${note ? ` (${note})` : ''}${r.error ? `: ${r.error.message}` : ''}`;
}

/** Folded like `clush -b`: hosts with the same state, error code, finding codes and failing controls. */
function foldedLines(hosts: readonly HostResult[], paint: Paint): string[] {
  const groups = new Map<string, HostResult[]>();
  for (const h of hosts) {
    const codes = [...new Set((h.diagnosis?.findings ?? []).map((f) => f.code))].sort();
    const key = JSON.stringify([stateCell(h), h.status, h.error?.code ?? '', codes, failedControls(h)]);
    const list = groups.get(key);
    if (list) list.push(h);
    else groups.set(key, [h]);
  }
  const groupsSorted = [...groups.values()].sort((a, b) => b.length - a.length || naturalCompare(a[0]!.host, b[0]!.host));
  const rows = groupsSorted.map((g) => {
    const h = g[0]!;
    const codes = [...new Set((h.diagnosis?.findings ?? []).map((f) => `${f.code} (${f.severity})`))].sort();
    const note = [`${g.length} host${g.length === 1 ? '' : 's'}`, ...(h.error ? [h.error.code] : []), ...codes].join(', ');
    return [foldHosts(g.map((x) => x.host)), stateCell(h), note];
  });
  return rows.length ? terminalTable(rows, (row, col) => (col === 1 ? stateColour(groupsSorted[row]![0]!) : undefined), paint) : [];
}

export interface SummaryOptions {
  /** -v: every host its own row. */
  verbose?: boolean;
  /** The reasons and advice block (`What needs attention:`); -q leaves it out. */
  advice?: boolean;
  /** Colour (a TTY without NO_COLOR / --no-color): see painterFor. */
  paint?: Paint;
}

/**
 * Hosts that failed the same way (status and error code, with no audit values to tell them apart)
 * share one row, at the place of the first; every other host keeps its own.
 */
function foldErrors(rows: readonly HostResult[]): HostResult[][] {
  const groups = new Map<string, HostResult[]>();
  const out: HostResult[][] = [];
  for (const r of rows) {
    const key = r.error && !r.audit ? `${r.status} ${r.error.code}` : undefined;
    const group = key ? groups.get(key) : undefined;
    if (group) {
      group.push(r);
      continue;
    }
    const mine = [r];
    if (key) groups.set(key, mine);
    out.push(mine);
  }
  return out;
}

/**
 * The closing summary, worst first. Hosts that need attention get a row each; the others fold
 * into one line per identical outcome (`node-[001-200]  healthy  200 hosts`). `verbose`
 * (`-v`) gives every host its row. Then what needs attention and the safe action, said once
 * per identical finding (advice.ts), then the totals.
 */
export function summaryTable(results: readonly HostResult[], summary: RunSummary, opts: SummaryOptions = {}): string {
  const paint = opts.paint ?? noPaint;
  const rows = sortHosts(results);
  const listed = opts.verbose ? rows : rows.filter(needsAttention);
  const rest = opts.verbose ? [] : rows.filter((r) => !needsAttention(r));
  const header = ['HOST', 'STATE', 'BACKLOG/LIMIT', 'LOST', 'NOTE'];
  const groups = foldErrors(listed);
  const body = groups.map((g) => {
    const r = g[0]!;
    if (g.length > 1) return [foldHosts(g.map((x) => x.host)), stateCell(r), '-', '-', `${r.error!.code} (${g.length} hosts)`];
    return [r.host, stateCell(r), r.audit ? `${r.audit.backlog}/${r.audit.backlog_limit}` : '-', r.audit ? String(r.audit.lost) : '-', noteOf(r)];
  });
  // every line below is escaped where it is built (terminalTable, terminalLine, adviceLines): colour goes around escaped text
  const out: string[] = [];
  if (body.length) out.push(...terminalTable([header, ...body], (row, col) => (row > 0 && col === 1 ? stateColour(groups[row - 1]![0]!) : undefined), paint));
  const folded = foldedLines(rest, paint);
  if (folded.length) out.push(...(out.length ? [''] : []), ...folded);
  const advice = opts.advice === false ? [] : adviceLines(results, paint);
  if (advice.length) out.push('', ...advice);
  const totals =
    `hosts=${summary.hosts} ok=${summary.ok} changed=${summary.changed} failed=${summary.failed} ` +
    `unreachable=${summary.unreachable}` +
    (summary.interrupted ? ` interrupted=${summary.interrupted}` : '') +
    (summary.non_compliant !== undefined ? ` non_compliant=${summary.non_compliant}` : '') +
    (rest.length > folded.length ? '  (-v: one line per host)' : '');
  return [...out, '', terminalLine(totals)].join('\n') + '\n';
}
