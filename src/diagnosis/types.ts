export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export type HostState =
  | 'healthy'
  | 'backlog-growing'
  | 'records-lost'
  | 'auditd-not-running'
  | 'audit-disabled'
  | 'config-locked'
  | 'panic-mode'
  | 'tasks-stalled'
  | 'degraded'
  | 'unknown';

export interface Finding {
  /** Stable code, e.g. `backlog-growing`. */
  code: string;
  severity: Severity;
  /** One line, in the operator's terms. */
  message: string;
  /** The numbers behind it. */
  evidence: Record<string, number | string | boolean | null>;
  /** Recommended (safe) action. */
  action: string;
}

export interface Diagnosis {
  state: HostState;
  findings: Finding[];
}
