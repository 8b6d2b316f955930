/**
 * Ordering of severities and states, and how a host's state follows from its findings.
 */
import type { Diagnosis, Finding, HostState, Severity } from './types.js';
import { SEVERITY_ORDER } from './concepts.js';

export { SEVERITY_ORDER };

/**
 * State precedence, most severe first: breaks ties between findings of equal severity.
 * - panic-mode: the next lost record panics the host;
 * - records-lost: the audit trail has holes now;
 * - backlog-growing: auditd is not draining, loss is next;
 * - tasks-stalled: processes are blocked, the host feels frozen;
 * - auditd-not-running: nothing drains (records go to the kernel log);
 * - audit-disabled: nothing is audited;
 * - config-locked: runtime changes are impossible until reboot;
 * - unknown: the status could not be read;
 * - degraded: configuration problems that do not hurt yet;
 * - healthy.
 */
export const STATE_PRECEDENCE: readonly HostState[] = [
  'panic-mode',
  'records-lost',
  'backlog-growing',
  'tasks-stalled',
  'auditd-not-running',
  'audit-disabled',
  'config-locked',
  'unknown',
  'degraded',
  'healthy',
];

const CODE_STATE: Record<string, HostState> = {
  'panic-mode': 'panic-mode',
  'records-lost': 'records-lost',
  'backlog-growing': 'backlog-growing',
  'tasks-stalled': 'tasks-stalled',
  'auditd-not-running': 'auditd-not-running',
  'audit-disabled': 'audit-disabled',
  'config-locked': 'config-locked',
  'auditctl-missing': 'unknown',
  'auditctl-not-permitted': 'unknown',
  'audit-unsupported': 'unknown',
  'auditctl-unparseable': 'unknown',
  'no-sample': 'unknown',
};

/** The state a finding puts its host in (configuration findings: degraded). */
export function stateOfFinding(code: string): HostState {
  return CODE_STATE[code] ?? 'degraded';
}

export function severityRank(s: Severity): number {
  const i = SEVERITY_ORDER.indexOf(s);
  return i < 0 ? SEVERITY_ORDER.length : i;
}

function stateRank(s: HostState): number {
  const i = STATE_PRECEDENCE.indexOf(s);
  return i < 0 ? STATE_PRECEDENCE.length : i;
}

/** Most severe first; equal severities by state precedence, then code (stable output). */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    severityRank(a.severity) - severityRank(b.severity) ||
    stateRank(stateOfFinding(a.code)) - stateRank(stateOfFinding(b.code)) ||
    (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)
  );
}

/** A host's findings with the fleet's (outliers) added: still most severe first. */
export function withMoreFindings(own: readonly Finding[], more: readonly Finding[]): Finding[] {
  return [...own, ...more].sort(compareFindings);
}

/**
 * The state of a host = the state of its most severe finding of severity medium or above
 * (low and info findings are advice and leave a host healthy); healthy without such findings.
 */
export function stateOf(findings: readonly Finding[]): HostState {
  const top = [...findings].sort(compareFindings).find((f) => severityRank(f.severity) <= severityRank('medium'));
  return top ? stateOfFinding(top.code) : 'healthy';
}

/** The worst severity among the findings ('info' when there are none). */
export function worstSeverity(d: Pick<Diagnosis, 'findings'>): Severity {
  let best = SEVERITY_ORDER.length - 1;
  for (const f of d.findings) best = Math.min(best, severityRank(f.severity));
  return SEVERITY_ORDER[best] ?? 'info';
}

/**
 * Comparator for sorting hosts worst first: by worst finding severity, then state
 * precedence, then number of findings (more first).
 */
export function compareDiagnoses(a: Diagnosis, b: Diagnosis): number {
  return (
    severityRank(worstSeverity(a)) - severityRank(worstSeverity(b)) ||
    stateRank(a.state) - stateRank(b.state) ||
    b.findings.length - a.findings.length
  );
}
