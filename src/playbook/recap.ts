/**
 * The per-host recap of ansible-playbook (`ok=3 changed=1 unreachable=0 failed=0 skipped=0`),
 * as data; the CLI prints it. As in Ansible, `ok` counts every task that succeeded, changed or
 * not; a failure under `ignore_errors` counts as `ignored`, not `failed`.
 */
import type { HostResult, TaskResult } from '../results/index.js';
// hostset.js, not the folder's index: that one loads the template engine, which a run needs only for reports
import { foldHosts, naturalCompare } from '../report/hostset.js';

export const IGNORED_WARNING = 'failed, ignored (ignore_errors: true)';
/** A failure a block's `rescue` handled: the host is not failed (Ansible's recap counts it `rescued`). */
export const RESCUED_WARNING = 'failed, rescued (the block\'s rescue succeeded)';

export interface HostRecap {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  /** Failures a block's rescue handled (printed when non-zero). */
  rescued: number;
  ignored: number;
}

export function isIgnored(t: TaskResult): boolean {
  return t.status === 'failed' && (t.warnings ?? []).includes(IGNORED_WARNING);
}

export function isRescued(t: TaskResult): boolean {
  return t.status === 'failed' && (t.warnings ?? []).includes(RESCUED_WARNING);
}

/** A failure that fails the host: neither ignored nor rescued. */
export function isHostFailure(t: TaskResult): boolean {
  return t.status === 'failed' && !isIgnored(t) && !isRescued(t);
}

export function recapHost(r: HostResult): HostRecap {
  const rec: HostRecap = { host: r.host, ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, rescued: 0, ignored: 0 };
  for (const t of r.tasks ?? []) {
    if (t.status === 'ok' || t.status === 'changed') rec.ok++;
    if (t.status === 'changed') rec.changed++;
    if (t.status === 'skipped') rec.skipped++;
    if (t.status === 'unreachable') rec.unreachable++;
    if (t.status === 'failed') {
      if (isIgnored(t)) rec.ignored++;
      else if (isRescued(t)) rec.rescued++;
      else rec.failed++;
    }
  }
  // A host we could not even connect to has no task results: still one unreachable.
  if (r.status === 'unreachable' && rec.unreachable === 0) rec.unreachable = 1;
  return rec;
}

export function recapOf(results: readonly HostResult[]): HostRecap[] {
  return results.map(recapHost);
}

/** Ansible's recap line; `rescued=` only when non-zero, so the line of a run without blocks is unchanged. */
export function formatRecapLine(r: HostRecap, width = 0): string {
  return (
    `${r.host.padEnd(width)} : ok=${r.ok} changed=${r.changed} unreachable=${r.unreachable} ` +
    `failed=${r.failed} skipped=${r.skipped}${r.rescued ? ` rescued=${r.rescued}` : ''} ignored=${r.ignored}`
  );
}

/** A host whose recap needs a look: a task failed (not ignored) or it could not be reached. */
export function recapNeedsAttention(r: HostRecap): boolean {
  return r.failed > 0 || r.unreachable > 0;
}

/**
 * The recap lines. With `fold` (the CLI's default; `-v` turns it off), hosts that need attention
 * come first, one line each, and the others share one line per identical set of counts, named
 * as a host set like `clush -b`: `node-[001-200] : ok=3 changed=1 ...`.
 */
export function formatRecap(recap: readonly HostRecap[], opts: { fold?: boolean } = {}): string {
  return recapLines(recap, opts).join('\n');
}

/** formatRecap's lines, one per entry (the terminal escapes each on its own). */
export function recapLines(recap: readonly HostRecap[], opts: { fold?: boolean } = {}): string[] {
  const lines = opts.fold ? foldRecap(recap) : recap;
  const width = Math.max(0, ...lines.map((r) => r.host.length));
  return lines.map((r) => formatRecapLine(r, width));
}

function foldRecap(recap: readonly HostRecap[]): HostRecap[] {
  const attention = recap.filter(recapNeedsAttention).sort((a, b) => naturalCompare(a.host, b.host));
  const groups = new Map<string, { first: HostRecap; hosts: string[] }>();
  for (const r of recap) {
    if (recapNeedsAttention(r)) continue;
    const key = [r.ok, r.changed, r.unreachable, r.failed, r.skipped, r.rescued, r.ignored].join(' ');
    const g = groups.get(key);
    if (g) g.hosts.push(r.host);
    else groups.set(key, { first: r, hosts: [r.host] });
  }
  const folded = [...groups.values()]
    .sort((a, b) => b.hosts.length - a.hosts.length || naturalCompare(a.hosts[0]!, b.hosts[0]!))
    .map((g) => ({ ...g.first, host: foldHosts(g.hosts) }));
  return [...attention, ...folded];
}
