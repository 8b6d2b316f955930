/**
 * The reasons and the advice after a sweep's table: what needs attention, why, and the safe
 * action, said once per identical finding across the fleet (30 hosts losing records get one
 * entry naming the 30 hosts, not 30 entries). The data is the findings' own `message` and
 * `action` (also in `--json`); this file only groups and words them.
 */
import type { HostResult } from '../results/index.js';
import type { Finding } from '../diagnosis/types.js';
import { severityRank } from '../diagnosis/severity.js';
import { foldHosts, naturalCompare } from '../report/hostset.js';
import { terminalLine, type Paint, noPaint } from '../util/terminal.js';

/** Findings worth the operator's eyes in the terminal: low and info ones stay in the reports. */
export function seriousFindings(r: HostResult): Finding[] {
  return (r.diagnosis?.findings ?? []).filter((f) => f.severity !== 'low' && f.severity !== 'info');
}

interface Entry {
  /** Sort key: errors first (-1), then findings by severity, then policy controls. */
  rank: number;
  hosts: string[];
  head: string;
  /** The first host's message, and whether the others' differ (numbers per host). */
  message: string;
  differs: boolean;
  action?: string;
}

function add(entries: Map<string, Entry>, key: string, host: string, e: Omit<Entry, 'hosts' | 'differs'>): void {
  // a host with two findings of one code (two fleet outliers: lost rate and backlog) gets both,
  // in entries of their own: an entry counts each host once
  let n = 0;
  while (entries.get(`${key}#${n}`)?.hosts.includes(host)) n++;
  key = `${key}#${n}`;
  const seen = entries.get(key);
  if (!seen) return void entries.set(key, { ...e, hosts: [host], differs: false });
  seen.hosts.push(host);
  if (e.message !== seen.message) seen.differs = true;
}

function entriesOf(results: readonly HostResult[]): Entry[] {
  const entries = new Map<string, Entry>();
  for (const r of results) {
    // one entry per status and code: the messages differ only by host (address, port, fingerprint)
    if (r.error) add(entries, JSON.stringify(['e', r.status, r.error.code]), r.host, { rank: -1, head: `${r.status} (${r.error.code})`, message: r.error.message });
    for (const f of seriousFindings(r)) {
      add(entries, JSON.stringify(['f', f.code, f.severity, f.action]), r.host, { rank: severityRank(f.severity), head: `[${f.severity}] ${f.code}`, message: f.message, action: f.action });
    }
    for (const c of r.compliance?.compliant === false ? r.compliance.failed_controls : []) {
      add(entries, JSON.stringify(['c', c.id]), r.host, { rank: 10, head: `non-compliant: ${c.id}`, message: c.message ? `${c.title}: ${c.message}` : c.title });
    }
  }
  return [...entries.values()].sort((a, b) => a.rank - b.rank || b.hosts.length - a.hosts.length || naturalCompare(a.hosts[0]!, b.hosts[0]!));
}

/**
 * `What needs attention:` and one entry per identical finding, error or failed control, worst
 * first; empty when nothing does. Each line is escaped on its own (terminalLine); colour goes
 * around escaped text only.
 */
export function adviceLines(results: readonly HostResult[], paint: Paint = noPaint): string[] {
  const entries = entriesOf(results);
  if (!entries.length) return [];
  const out = [paint('What needs attention:', 'bold')];
  for (const e of entries) {
    const who = e.hosts.length === 1 ? e.hosts[0]! : `${foldHosts(e.hosts)} (${e.hosts.length} hosts)`;
    const example = e.differs ? ` (${e.hosts[0]})` : '';
    out.push(`  ${terminalLine(who)}: ${paint(terminalLine(e.head), e.rank <= 1 ? 'red' : 'yellow')}: ${terminalLine(e.message)}${terminalLine(example)}`);
    if (e.action) out.push(`      ${paint('→', 'cyan')} ${terminalLine(e.action)}`);
  }
  return out;
}
