/**
 * The per-host recap of ansible-playbook (`ok=3 changed=1 unreachable=0 failed=0 skipped=0`),
 * as data; the CLI prints it. As in Ansible, `ok` counts every task that succeeded, changed or
 * not; a failure under `ignore_errors` counts as `ignored`, not `failed`.
 */
import type { HostResult, TaskResult } from '../executor/events.js';

export const IGNORED_WARNING = 'failed, ignored (ignore_errors: true)';

export interface HostRecap {
  host: string;
  ok: number;
  changed: number;
  unreachable: number;
  failed: number;
  skipped: number;
  ignored: number;
}

export function isIgnored(t: TaskResult): boolean {
  return t.status === 'failed' && (t.warnings ?? []).includes(IGNORED_WARNING);
}

export function recapHost(r: HostResult): HostRecap {
  const rec: HostRecap = { host: r.host, ok: 0, changed: 0, unreachable: 0, failed: 0, skipped: 0, ignored: 0 };
  for (const t of r.tasks ?? []) {
    if (t.status === 'ok' || t.status === 'changed') rec.ok++;
    if (t.status === 'changed') rec.changed++;
    if (t.status === 'skipped') rec.skipped++;
    if (t.status === 'unreachable') rec.unreachable++;
    if (t.status === 'failed') {
      if (isIgnored(t)) rec.ignored++;
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

export function formatRecapLine(r: HostRecap, width = 0): string {
  return (
    `${r.host.padEnd(width)} : ok=${r.ok} changed=${r.changed} unreachable=${r.unreachable} ` +
    `failed=${r.failed} skipped=${r.skipped} ignored=${r.ignored}`
  );
}

export function formatRecap(recap: readonly HostRecap[]): string {
  const width = Math.max(0, ...recap.map((r) => r.host.length));
  return recap.map((r) => formatRecapLine(r, width)).join('\n');
}
