/**
 * The result model of a run: what a host's work produces (HostResult, TaskResult) and the events
 * a run emits (RunEvent). Every layer that reads results imports them from here.
 */
import type { ErrorCode } from '../errors.js';
import type { AuditStatus, HostFacts } from '../facts/types.js';
import type { Diagnosis, Finding } from '../diagnosis/types.js';
import type { Compliance } from '../policy/types.js';

/** A host as the executor runs it and as its result names it. */
export interface HostTarget {
  name: string;
  address: string;
  port: number;
  groups?: string[];
}

export type RunMode = 'sweep' | 'run';
export type HostStatus = 'ok' | 'changed' | 'failed' | 'unreachable' | 'skipped' | 'interrupted'
  // issue 27: not started because a failure budget or the canary held the rollout
  | 'held';
export type TaskStatus = 'ok' | 'changed' | 'failed' | 'skipped' | 'unreachable';

export interface RunInfo {
  id: string;
  mode: RunMode;
  started_at: string;
  finished_at?: string;
  forks: number;
  inventory?: string;
  playbook?: string;
  check?: boolean;
  limit?: string;
  /** Set when the run was interrupted (SIGINT/SIGTERM). */
  interrupted?: boolean;
  resumed_from?: string;
}

export interface HostError {
  code: ErrorCode;
  message: string;
}

export interface TaskResult {
  play: string;
  task: string;
  module: string;
  status: TaskStatus;
  changed: boolean;
  msg?: string;
  diff?: { before: string; after: string; path?: string }[];
  stdout?: string;
  stderr?: string;
  rc?: number | null;
  duration_ms: number;
  /** Guard findings / warnings raised by the module (e.g. growth guard). */
  warnings?: string[];
  error?: HostError;
}

export interface HostResult {
  host: string;
  address: string;
  port: number;
  status: HostStatus;
  started_at: string;
  finished_at: string;
  /** Last sample's auditctl -s status, when it parsed. */
  audit?: AuditStatus;
  facts?: HostFacts;
  diagnosis?: Diagnosis;
  compliance?: Compliance;
  tasks?: TaskResult[];
  error?: HostError;
  groups?: string[];
  /** Distributed mode: the worker (`--name`) that produced this result. */
  worker?: string;
}

export interface RunSummary {
  hosts: number;
  ok: number;
  changed: number;
  failed: number;
  unreachable: number;
  skipped: number;
  interrupted: number;
  /** Hosts held by a failure budget (issue 27); absent when none. */
  held?: number;
  by_state?: Record<string, number>;
  non_compliant?: number;
}

export type RunEvent =
  | { type: 'run-start'; run: RunInfo; hosts: string[] }
  | { type: 'host-start'; host: string; at: string }
  | { type: 'task'; host: string; result: TaskResult }
  /** Final: one per host per run; nothing changes a host's result after this event. */
  | { type: 'host-done'; result: HostResult }
  /**
   * Progress of a playbook: a host's result for one play (that play's tasks only). Not final:
   * the host's `host-done`, with every play merged, comes after its last play.
   */
  | { type: 'play-host-done'; play: string; result: HostResult }
  /**
   * Sweeps: findings that compare hosts (outliers) need every host's result, so they come once
   * after the last host-done, by host, instead of being appended to results already emitted.
   */
  | { type: 'fleet-findings'; findings: Record<string, Finding[]> }
  | { type: 'run-end'; run: RunInfo; summary: RunSummary };

export type RunEventListener = (event: RunEvent) => void;
