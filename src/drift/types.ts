import type { HostStatus } from '../results/index.js';
import type { HostState, Severity } from '../diagnosis/types.js';

/**
 * One thing that changed on one host between two runs of the same inventory. `kind` is a stable
 * code (the notification JSON carries it verbatim, see README "Drift and notifications").
 */
export type HostChange =
  | { kind: 'host-added' }
  | { kind: 'host-removed' }
  | { kind: 'became-unreachable'; error_code?: string; error?: string }
  /** Nothing older to compare with: the state and findings it came back with. */
  | { kind: 'reachable-again'; state?: HostState; findings: string[] }
  /** failed ↔ ok/changed (a host that answered but whose commands failed, e.g. E_BECOME). */
  | { kind: 'status-changed'; from: HostStatus; to: HostStatus; error_code?: string }
  | { kind: 'state-changed'; from: HostState; to: HostState }
  | { kind: 'compliance-changed'; from: boolean; to: boolean; failed_controls: string[] }
  | { kind: 'new-finding'; code: string; severity: Severity; message: string }
  | { kind: 'resolved-finding'; code: string }
  /** `since_reboot`: the host rebooted in between, so the kernel counter restarted from 0. */
  | { kind: 'lost-increased'; by: number; from: number; to: number; since_reboot: boolean }
  | { kind: 'backlog-grew'; by: number; from: number; to: number }
  | { kind: 'limit-changed'; from: number; to: number };

export type HostChangeKind = HostChange['kind'];

export interface HostDrift {
  host: string;
  changes: HostChange[];
}

export interface RunRef {
  id: string;
  mode: 'sweep' | 'run';
  started_at: string;
  finished_at?: string;
  status?: 'running' | 'finished' | 'interrupted';
}

export interface Drift {
  inventory?: string;
  current: RunRef;
  /** The run compared with; absent for the first run of an inventory (nothing to compare). */
  previous?: RunRef;
  /** True when at least one host has a change. */
  changed: boolean;
  /** Only hosts with changes, in the current run's order, removed hosts last. */
  hosts: HostDrift[];
  /** How many hosts had each kind of change (only kinds that occurred). */
  counts: Partial<Record<HostChangeKind, number>>;
  /** Why some comparisons were not made (different --limit, hosts not measured). */
  notes: string[];
}

export interface DriftOptions {
  /** Report backlog growth only from this many records up (default 1: any growth). */
  backlogGrowthMin?: number;
}
