import type { Clock } from '../executor/clock.js';
import type { HostResult, RunEvent, RunInfo, RunSummary } from '../results/index.js';
import type { Interrupt } from '../executor/interrupt.js';
import type { HostRecap, RolloutStop } from '../playbook/index.js';
import type { ReportFormat } from '../report/formats.js';
import type { RunStore } from '../store/index.js';
import type { HostKeyChecking } from '../transport/types.js';
import type { ConnectionPool } from '../transport/pool.js';

/** How hosts are reached: what sweep, run and schedule share (the CLI's connection options). */
export interface ConnectionOptions {
  inventory: string;
  limit?: string;
  forks: number;
  user?: string;
  privateKey?: string;
  knownHosts?: string;
  hostKeyChecking: HostKeyChecking;
  sshConfig?: string;
  become?: boolean;
  becomeUser?: string;
  askBecomePass?: boolean;
  connectTimeout: number;
  commandTimeout: number;
  maxOutput: number;
}

/** Reports written after the run (`-o DIR`). */
export interface ReportOptions {
  output?: string;
  format: ReportFormat[];
  perHost?: boolean;
  templateDir?: string;
}

/** Where the run is recorded. */
export interface RecordOptions {
  /** False: nothing recorded (no lock, no retry file, no history). */
  store: boolean;
  stateDir?: string;
}

export interface SweepOptions extends ConnectionOptions, ReportOptions, RecordOptions {
  samples: number;
  /** ms between samples. */
  interval: number;
  /** A policy file, false for none, undefined for the shipped baseline. */
  policy?: string | false;
}

export interface PlaybookOptions extends ConnectionOptions, ReportOptions, RecordOptions {
  check?: boolean;
  diff?: boolean;
  extraVars: string[];
  tags?: string;
  skipTags?: string;
  /** A run id: hosts that finished ok/changed in it (and the runs it resumed) are skipped. */
  resume?: string;
  /** The run-wide failure budget (issue 27): `N` hosts or `P%` of those attempted (from 10 on). */
  maxFailures?: string;
  /** The same for unreachable hosts, counted apart. */
  maxUnreachable?: string;
  /** Every play's first batch is one host, and its failure holds the run. */
  canary?: boolean;
  /** `--watch SECONDS`: overrides every play's `watch:` (0: no watch). */
  watch?: number;
  /** --start-at-task NAME: the plays before the task named NAME, and its play's tasks before it, are not run. */
  startAtTask?: string;
}

/** A run, as the CLI, the scheduler or a test asks for it: everything is validated before any host. */
export type RunRequest =
  | { kind: 'sweep'; options: SweepOptions }
  | { kind: 'playbook'; playbook: string; options: PlaybookOptions };

/** The playbook part of an outcome (the recap and a stopped rollout). */
export interface PlaybookOutcome {
  recap: HostRecap[];
  stopped: RolloutStop | null;
}

/** A finished run: every result here is final and is what the store holds. */
export interface RunOutcome {
  run: RunInfo;
  summary: RunSummary;
  /** Host results with the fleet findings merged into their diagnosis (as the store reads them back). */
  results: HostResult[];
  interrupted: boolean;
  exitCode: number;
  /** Report files written (`-o`). */
  reports: string[];
  retryFile?: string;
  playbook?: PlaybookOutcome;
  /** Hosts skipped because `--resume` found them done. */
  resumedSkipped?: number;
}

/**
 * A consumer of a run: the terminal, the store writer, metrics, drift. `onEvent` sees every event
 * as it happens; `onFinished` the outcome once the run is recorded and its reports written, with
 * the store still open (undefined with --no-store). One that throws is reported and the run goes on.
 */
export interface RunSubscriber {
  /** Names it in the warning when it throws (it is isolated: the run goes on). */
  readonly name?: string;
  onEvent?(event: RunEvent): void;
  onFinished?(outcome: RunOutcome, store: RunStore | undefined): void | Promise<void>;
}

/** What the caller provides around a request. */
export interface RunContext {
  env: NodeJS.ProcessEnv;
  clock: Clock;
  /** Warnings (inventory, stale locks) and the interrupt notices. */
  stderr: NodeJS.WritableStream;
  subscribers: readonly RunSubscriber[];
  /** Default: SIGINT/SIGTERM handlers, two-stage. */
  interrupt?: () => Interrupt;
  /** The caller (the scheduler) already holds this inventory's run lock. */
  lockHeld?: boolean;
  /** How long to wait for another sweep or run of the inventory (a scheduled one) to finish; default 0. */
  lockWaitMs?: number;
  /** Warm connections of a long-lived caller (schedule): the run leases them instead of logging in. */
  pool?: ConnectionPool;
}
