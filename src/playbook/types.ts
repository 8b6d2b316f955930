import type { SourcePosition } from '../errors.js';
import type { Module } from '../modules/types.js';
import type { Condition } from '../expr/conditions.js';
import type { BudgetLimit } from '../executor/budget.js';
import type { Serial } from './batches.js';
import type { Vars } from './vars.js';

/** `loop:` — a list (its strings templated) or one `{{ list }}` template; each item as `loopVar`. */
export interface TaskLoop {
  items: unknown[] | string;
  loopVar: string;
}

export interface Task {
  /** Display name (`name:` or the module name). */
  name: string;
  moduleName: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  module: Module<any, any>;
  /** Raw arguments, templated per host at run time, then validated by the module's schema. */
  args: Record<string, unknown>;
  when: Condition[];
  changedWhen?: Condition[];
  failedWhen?: Condition[];
  register?: string;
  notify: string[];
  ignoreErrors: boolean;
  tags: string[];
  become?: boolean;
  loop?: TaskLoop;
  position: SourcePosition;
}

export interface Play {
  name: string;
  hosts: string;
  vars: Vars;
  /** Unset: the connection decides (ansible_become / --become). */
  become?: boolean;
  serial?: Serial;
  maxFailPercentage?: number;
  /** The run-wide failure budget while this play runs (issue 27). */
  maxFailures?: BudgetLimit;
  /** Disruption budget (issue 27 §5): hosts of the play that may be unavailable at once. */
  maxUnavailable?: BudgetLimit;
  /** Seconds a changed host is watched after its play (0: no watch). */
  watch: number;
  anyErrorsFatal: boolean;
  /** Memory guard: share of MemAvailable a backlog limit may pin (default 0.10). */
  memoryShare: number;
  /** Reboot guard override. */
  allowParallelReboot: boolean;
  tasks: Task[];
  handlers: Task[];
  position: SourcePosition;
}

export interface Playbook {
  file: string;
  plays: Play[];
}
