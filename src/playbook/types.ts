import type { SourcePosition } from '../errors.js';
import type { Module } from '../modules/types.js';
import type { Condition } from '../expr/conditions.js';
import type { BudgetLimit } from '../executor/budget.js';
import type { Serial } from '../executor/batches.js';
import type { Vars } from './vars.js';

/**
 * `loop:` — a list (its strings templated) or one `{{ list }}` template; each item as `loopVar`.
 * `with_items` flattens one level and `with_dict` gives `{key, value}` items, as Ansible's lookups.
 */
export interface TaskLoop {
  items: unknown[] | string | Record<string, unknown>;
  loopVar: string;
  kind: 'loop' | 'with_items' | 'with_list' | 'with_dict';
  /** loop_control.index_var: the item's 0-based index under this name. */
  indexVar?: string;
  /** loop_control.label: what names an item in messages (templated per item). */
  label?: string;
}

/** `until`/`retries`/`delay`: the task again until the condition holds (Ansible: 3 retries, 5 s). */
export interface TaskUntil {
  until: Condition[];
  retries: number | string;
  delay: number | string;
}

/** A keyword value given as a boolean or as a template rendered per host (`ignore_errors: "{{ x }}"`). */
export type Templated<T> = T | string;

/**
 * The variable layers a task adds around the host's and the play's, in Ansible's precedence
 * (docs: "Understanding variable precedence"): `defaults` (role defaults) below the inventory,
 * `vars` (role vars, block vars, task vars, in that order) above the play's and below set_fact,
 * `params` (role params: `roles: - role: x, vars:`, include_role vars) above set_fact.
 */
export interface TaskVars {
  defaults: Vars;
  vars: Vars;
  params: Vars;
}

/** The role a task came from: role_name, role_path, and the role's files/templates. */
export interface RoleRef {
  name: string;
  path: string;
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
  /** Handlers: the topics (besides its name) a handler answers (`listen`). */
  listen?: string[];
  ignoreErrors: Templated<boolean>;
  tags: string[];
  become?: Templated<boolean>;
  /** `check_mode: true|false`: forced check / forced apply (Ansible's task keyword over --check). */
  checkMode?: Templated<boolean>;
  /** `diff: true|false` for this task, over --diff. */
  diff?: Templated<boolean>;
  /** Task-level any_errors_fatal: this task's failure stops the batch as the play keyword does. */
  anyErrorsFatal?: boolean;
  loop?: TaskLoop;
  until?: TaskUntil;
  /** Role, block and task variables (empty layers when none). */
  vars: TaskVars;
  role?: RoleRef;
  /**
   * Directories a module looks in for a relative `src` (copy, template), innermost first: the
   * role's directory (then its parents' for a nested role), then the playbook's directory. For
   * each, Ansible's order is `<dir>/files/<src>` (copy) or `<dir>/templates/<src>` (template),
   * then `<dir>/<src>`. Absolute paths.
   */
  searchPaths: string[];
  position: SourcePosition;
}

/**
 * `block` with `rescue` and `always`. Keywords on the block (when, tags, become, vars, ...) are
 * inherited by its tasks at load time, as Ansible applies them to each task; what stays here is
 * the structure: a failed task in `block` runs `rescue` (the host is not failed if rescue
 * succeeds), `always` runs whatever happened. `include_tasks`/`include_role` load as blocks too
 * (with a `loop` when they have one).
 */
export interface Block {
  kind: 'block';
  name: string;
  block: PlayTask[];
  rescue: PlayTask[];
  always: PlayTask[];
  /** include_tasks/include_role with a loop: the block once per item. */
  loop?: TaskLoop;
  /** The include's variables and role, for rendering its loop. */
  vars?: TaskVars;
  role?: RoleRef;
  position: SourcePosition;
}

export type PlayTask = Task | Block;

export function isBlock(t: PlayTask): t is Block {
  return (t as Block).kind === 'block';
}

/** Every task of a tree, in order (block, rescue, always). */
export function flatTasks(list: readonly PlayTask[]): Task[] {
  return list.flatMap((t) => (isBlock(t) ? [...flatTasks(t.block), ...flatTasks(t.rescue), ...flatTasks(t.always)] : [t]));
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
  /** Tasks in order: `pre_tasks`, roles, `tasks`, `post_tasks`; blocks nest. */
  tasks: PlayTask[];
  /** The play's handlers, then its roles' (a notify reaches either by name or `listen` topic). */
  handlers: Task[];
  /** The playbook's directory (absolute): `playbook_dir`. */
  dir: string;
  position: SourcePosition;
}

export interface Playbook {
  file: string;
  plays: Play[];
}
