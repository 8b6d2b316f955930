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
  /** Machine-readable form of `action`, for modules and reports (added; optional). */
  action_code?: ActionCode;
}

/**
 * What the recommended action is, as a stable code. Note there is deliberately no code for
 * "raise the backlog limit" on a host whose auditd is not draining (reference §4).
 */
export type ActionCode =
  | 'none'
  | 'restart-auditd'
  | 'start-auditd'
  | 'resume-auditd'
  | 'enable-audit'
  | 'reboot-to-unlock'
  | 'drain-before-changing-failure'
  | 'persist-runtime-limit'
  | 'lower-backlog-limit'
  | 'review-disk-actions'
  | 'fix-plugin-queue'
  | 'set-boot-backlog-limit'
  | 'tune-rules-or-limit'
  | 'resample'
  | 'install-auditctl'
  | 'use-become'
  | 'investigate';

export interface Diagnosis {
  state: HostState;
  findings: Finding[];
}
