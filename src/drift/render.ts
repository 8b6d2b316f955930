import type { Drift, HostChange } from './types.js';
import { escapeControls } from '../util/terminal.js';

const signed = (n: number) => (n >= 0 ? `+${n}` : String(n));

/**
 * Host names and messages come from inventories and hosts: escape control characters so that a
 * hostile value cannot move the cursor or rewrite earlier lines of the operator's terminal.
 */
export function printable(s: string): string {
  return escapeControls(s);
}

/** One line, in the operator's terms, for one change. */
export function describeChange(c: HostChange): string {
  switch (c.kind) {
    case 'host-added':
      return 'new in the inventory';
    case 'host-removed':
      return 'no longer in the inventory';
    case 'became-unreachable':
      return `became unreachable${c.error_code ? ` (${c.error_code}${c.error ? `: ${c.error}` : ''})` : ''}`;
    case 'reachable-again': {
      const what = [c.state, ...c.findings.filter((f) => f !== c.state)].filter(Boolean).join(', ');
      return `reachable again${what ? ` (${what})` : ''}`;
    }
    case 'status-changed':
      return `status ${c.from} → ${c.to}${c.error_code ? ` (${c.error_code})` : ''}`;
    case 'state-changed':
      return `state ${c.from} → ${c.to}`;
    case 'compliance-changed':
      return c.to
        ? 'now compliant'
        : `no longer compliant${c.failed_controls.length ? ` (failed: ${c.failed_controls.join(', ')})` : ''}`;
    case 'new-finding':
      return `new finding ${c.code} [${c.severity}]: ${c.message}`;
    case 'resolved-finding':
      return `resolved finding ${c.code}`;
    case 'lost-increased':
      return `lost increased by ${c.by} (${c.from} → ${c.to}${c.since_reboot ? ', since a reboot' : ''})`;
    case 'backlog-grew':
      return `backlog grew by ${c.by} (${c.from} → ${c.to})`;
    case 'limit-changed':
      return `backlog limit changed ${c.from} → ${c.to} (${signed(c.to - c.from)})`;
  }
}

/** The drift for the terminal: a header line, then each changed host with one change a line. */
export function renderDriftText(drift: Drift): string {
  if (!drift.previous) return `drift: no previous run of ${printable(drift.inventory ?? 'this inventory')} to compare with (this run is the baseline)\n`;
  const since = `since run ${drift.previous.id} (${drift.previous.started_at})`;
  const lines: string[] = [];
  if (!drift.changed) lines.push(`drift: no change ${since}`);
  else {
    const n = drift.hosts.length;
    lines.push(`drift: ${n} host${n === 1 ? '' : 's'} changed ${since}`);
    const width = Math.max(...drift.hosts.map((h) => printable(h.host).length));
    for (const h of drift.hosts) {
      h.changes.forEach((c, i) => lines.push(`  ${(i === 0 ? printable(h.host) : '').padEnd(width)}  ${printable(describeChange(c))}`));
    }
  }
  for (const note of drift.notes) lines.push(`  note: ${printable(note)}`);
  return lines.join('\n') + '\n';
}
