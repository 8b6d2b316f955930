/**
 * The module contract. A module is one file: its argument schema, `check()` (read the host,
 * compute a plan and a diff, enforce guards, change nothing) and `apply()` (execute the plan
 * through the Transport, then verify). Check mode is the same code path stopped before
 * `apply()` (STYLE: pyinfra's "operations yield the commands they would run").
 */
import type { z } from 'zod';
import type { ErrorCode, SourcePosition } from '../errors.js';
import type { Clock } from '../executor/clock.js';
import type { HostError, TaskStatus } from '../results/index.js';
import type { Transport } from '../transport/types.js';
import type { HostSession } from '../host/session.js';
import type { HostFacts } from '../facts/types.js';
import type { Diagnosis } from '../diagnosis/types.js';

export interface DiffEntry {
  before: string;
  after: string;
  path?: string;
}

/** What the play tells the guards; the guards hold whatever the task's arguments say. */
export interface PlayGuardContext {
  /** Hosts in the play (after --limit). */
  hostsInPlay: number;
  /** Hosts in the batch this host runs in. */
  batchSize: number;
  /** Share of MemAvailable a backlog limit may pin (memory guard, default 0.10). */
  memoryShare: number;
  /** Play-level override of the reboot guard. */
  allowParallelReboot: boolean;
}

export interface ModuleContext {
  host: string;
  /**
   * The host's session: its current transport, and the facts of the probe's round trip. Guards
   * read facts here (`ctx.session.fact('memory', ctx.become)`), never with a command of their own.
   */
  session: HostSession;
  check: boolean;
  diff: boolean;
  /** sudo: true/false from the play or task `become`; unset follows the connection. */
  become?: boolean;
  clock: Clock;
  play: PlayGuardContext;
  /** Scope of `when`/`assert`: vars, facts, diagnosis, registered results. */
  scope: Record<string, unknown>;
  /** Last facts gathered by `audit_status` on this host, if any. */
  facts?: HostFacts;
  diagnosis?: Diagnosis;
  /** Interval between the two samples a guard takes (panic/growth guard). */
  guardSampleMs: number;
  /**
   * Where a relative `src` (copy, template) is looked up, innermost first: the task's role
   * directory (then its parent roles'), then the playbook's directory; absolute paths. For each
   * directory Ansible tries `<dir>/files/<src>` (copy) or `<dir>/templates/<src>` (template), then
   * `<dir>/<src>`: src/util/search-paths.ts `taskFileCandidates` lists them in that order.
   */
  searchPaths?: readonly string[];
  /** A fresh, connected transport to the same host (reboot: wait for SSH to return). */
  reconnect(): Promise<Transport>;
  /** The playbook's templater on a whole text with the task's scope (the `template` module). */
  renderTemplate?(text: string, source: string): string;
}

export interface ModuleOutcome {
  status: Exclude<TaskStatus, 'unreachable'> | 'unreachable';
  msg?: string;
  diff?: DiffEntry[];
  stdout?: string;
  stderr?: string;
  rc?: number | null;
  warnings?: string[];
  error?: HostError;
  /** Extra values registered with `register:` (besides status, changed, msg, rc, stdout, stderr). */
  data?: Record<string, unknown>;
  /** New facts for later tasks' `when` (audit_status). */
  facts?: HostFacts;
  diagnosis?: Diagnosis;
  /** The transport to use from now on (reboot replaced the connection). */
  transport?: Transport;
  /** Variables for the later tasks on this host (set_fact). */
  vars?: Record<string, unknown>;
  /** Ansible facts for the later tasks (setup, package_facts, service_facts): merged into `ansible_facts`. */
  ansibleFacts?: Record<string, unknown>;
}

/** check() predicts; `plan` is what apply() needs (absent when nothing is to be done). */
export interface Checked<P> extends ModuleOutcome {
  plan?: P;
}

export interface Module<A = unknown, P = unknown> {
  name: string;
  /** Argument schema (strict: an unknown argument is an error at load time). */
  schema: z.ZodType<A>;
  /** Arguments run by `sh -c`: interpolated values are quoted for where they land (unless `{{ raw x }}`). */
  shellArgs?: readonly string[];
  /** Arguments split into words by fleetmend (src/util/shellwords.ts): values quoted for that grammar. */
  wordArgs?: readonly string[];
  /** A free-form string value (`shell: echo hi`) becomes this argument. */
  freeForm?: string;
  /** Arguments never templated (expressions such as `assert.that`). */
  noTemplate?: readonly string[];
  /** Arguments the module evaluates as an expression and shows (`debug: var:`): watched like templates for secrets. */
  exprArgs?: readonly string[];
  /** Load-time checks beyond the schema (e.g. expressions compile); throws with the position. */
  validate?(args: A, position: SourcePosition): void;
  check(ctx: ModuleContext, args: A): Promise<Checked<P>>;
  apply(ctx: ModuleContext, args: A, plan: P, checked: Checked<P>): Promise<ModuleOutcome>;
}

export function failed(code: ErrorCode, message: string, extra: Partial<ModuleOutcome> = {}): ModuleOutcome {
  return { status: 'failed', msg: message, error: { code, message }, ...extra };
}
