/**
 * The tasks of a playbook run, as ansible-playbook shows them: `PLAY [name]`, `TASK [name]`,
 * then `ok:` / `changed:` / `skipping:` / `failed:` per host, `debug` messages, warnings and,
 * with --diff, the before/after. At fleet scale hosts with an identical result share one line
 * (`ok: [web-[01-40]] (40 hosts)`), as the summary and the recap fold; -v gives every host its
 * line and each task's message, -vv adds rc, stdout, stderr and the time taken.
 */
import type { HostResult, TaskResult } from '../results/index.js';
import { IGNORED_WARNING, isIgnored } from '../playbook/recap.js';
import { foldHosts, naturalCompare } from '../report/hostset.js';
import { diffLines } from '../report/view.js';
import { noPaint, terminalLine, type Colour, type Paint } from '../util/terminal.js';

export interface TaskStreamOptions {
  /** 0: folded; 1 (-v): a line per host, every message; 2 (-vv): rc, stdout, stderr, duration. */
  verbose?: number;
  /** --diff: the before/after of each change. */
  diff?: boolean;
  paint?: Paint;
}

interface TaskColumn {
  play: string;
  task: string;
  /** Host → its result for this task. */
  results: Map<string, TaskResult>;
}

/**
 * The tasks in the order they ran: a task first seen on a later host (a `when:` that skipped it
 * elsewhere leaves no result there) goes after the task that host ran before it. A name repeated
 * within a play is a task of its own (keyed by its occurrence).
 */
function columns(results: readonly HostResult[]): TaskColumn[] {
  const order: string[] = [];
  const byKey = new Map<string, TaskColumn>();
  for (const h of results) {
    const seen = new Map<string, number>();
    let previous = -1;
    for (const t of h.tasks ?? []) {
      const base = JSON.stringify([t.play, t.task]);
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      const key = `${base}#${n}`;
      let col = byKey.get(key);
      if (!col) {
        col = { play: t.play, task: t.task, results: new Map() };
        byKey.set(key, col);
        order.splice(previous + 1, 0, key);
      }
      col.results.set(h.host, t);
      previous = order.indexOf(key);
    }
  }
  return order.map((k) => byKey.get(k)!);
}

const WORDS: Record<TaskResult['status'], [string, Colour]> = {
  ok: ['ok', 'green'],
  changed: ['changed', 'yellow'],
  skipped: ['skipping', 'cyan'],
  failed: ['failed', 'red'],
  unreachable: ['unreachable', 'red'],
};

/** What follows `[hosts]` on the status line: the reason of a failure, a debug message, with -v any message. */
function detail(t: TaskResult, verbose: number): string {
  if (t.status === 'failed' || t.status === 'unreachable') {
    const why = t.error ? `${t.error.code}: ${t.error.message}` : (t.msg ?? '');
    return why ? `: ${why}` : '';
  }
  if (t.msg && (t.module === 'debug' || verbose >= 1)) return ` => ${t.msg}`;
  return '';
}

/** The lines under the status line (each escaped here): warnings, -vv output, --diff. */
function extraLines(t: TaskResult, opts: Required<Pick<TaskStreamOptions, 'verbose' | 'diff'>>): string[] {
  const out = (t.warnings ?? []).filter((w) => w !== IGNORED_WARNING).map((w) => `  [WARNING]: ${w}`);
  if (opts.verbose >= 2) {
    if (t.rc !== undefined && t.rc !== null) out.push(`  rc: ${t.rc}`);
    for (const [name, text] of [['stdout', t.stdout], ['stderr', t.stderr]] as const) {
      for (const l of (text ?? '').split('\n').filter(Boolean)) out.push(`  ${name}: ${l}`);
    }
    out.push(`  took ${(t.duration_ms / 1000).toFixed(1)}s`);
  }
  if (opts.diff && t.changed) {
    for (const d of t.diff ?? []) {
      out.push(`  --- before${d.path ? `: ${d.path}` : ''}`, `  +++ after${d.path ? `: ${d.path}` : ''}`);
      for (const l of diffLines(d.before, d.after)) if (l.sign !== ' ') out.push(`  ${l.sign}${l.text}`);
    }
  }
  return out.map(terminalLine);
}

function taskLines(col: TaskColumn, opts: Required<TaskStreamOptions>): string[] {
  const groups = new Map<string, { hosts: string[]; t: TaskResult; extra: string[] }>();
  const hosts = [...col.results.keys()].sort(naturalCompare);
  for (const host of hosts) {
    const t = col.results.get(host)!;
    const extra = extraLines(t, opts);
    const word = isIgnored(t) ? 'failed (ignored)' : WORDS[t.status][0];
    // -v: a line per host; else hosts whose line and extra lines read the same share one
    const key = opts.verbose >= 1 ? host : JSON.stringify([word, detail(t, opts.verbose), extra]);
    const g = groups.get(key);
    if (g) g.hosts.push(host);
    else groups.set(key, { hosts: [host], t, extra });
  }
  const lines: string[] = [];
  for (const { hosts: hs, t, extra } of groups.values()) {
    const [word, colour] = isIgnored(t) ? ['failed (ignored)', 'yellow' as const] : WORDS[t.status];
    const who = `[${foldHosts(hs)}]${hs.length > 1 ? ` (${hs.length} hosts)` : ''}`;
    lines.push(`${opts.paint(`${word}:`, colour)} ${terminalLine(who + detail(t, opts.verbose))}`, ...extra);
  }
  return lines;
}

/** `TASK [name] ******`: ansible-playbook's banner, one escaped line. */
function banner(kind: 'PLAY' | 'TASK', name: string): string {
  const head = terminalLine(`${kind} [${name}]`);
  return `${head} ${'*'.repeat(Math.max(3, 72 - head.length))}`;
}

/** The whole stream, each line escaped (colour only around escaped text). */
export function taskStreamLines(results: readonly HostResult[], opts: TaskStreamOptions = {}): string[] {
  const full: Required<TaskStreamOptions> = { verbose: opts.verbose ?? 0, diff: !!opts.diff, paint: opts.paint ?? noPaint };
  const lines: string[] = [];
  let play: string | undefined;
  for (const col of columns(results)) {
    if (col.play !== play) {
      play = col.play;
      lines.push('', banner('PLAY', col.play));
    }
    lines.push('', banner('TASK', col.task), ...taskLines(col, full));
  }
  return lines;
}
