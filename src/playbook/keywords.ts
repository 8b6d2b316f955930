/**
 * Task keywords whose value Ansible templates per host (`become: "{{ x }}"`,
 * `ignore_errors: "{{ ansible_check_mode }}"`, `check_mode`, `diff`, `retries`, `delay`), resolved
 * once per task against its scope, and the loop lookups (`with_items`, `with_dict`).
 */
import { FleetmendError, type SourcePosition } from '../errors.js';
import { ansibleBool } from './ansible.js';
import type { Templater } from './template.js';
import type { Task, TaskLoop, Templated } from './types.js';

/** What one task runs with, after its templated keywords are rendered. */
export interface Effective {
  check: boolean;
  diff: boolean;
  /** Unset: the play's, else the connection's. */
  become?: boolean;
  ignoreErrors: boolean;
}

function boolOf(templater: Templater, v: Templated<boolean>, scope: Record<string, unknown>, keyword: string, position: SourcePosition): boolean {
  if (typeof v === 'boolean') return v;
  const rendered = templater.render(v, scope, 'none', position);
  const r = ansibleBool.safeParse(rendered);
  if (!r.success) throw new FleetmendError('E_TEMPLATE', `${keyword}: ${JSON.stringify(v)} gave ${JSON.stringify(rendered)}, not a boolean`, { position });
  return r.data;
}

export function effectiveKeywords(
  templater: Templater,
  task: Task,
  scope: Record<string, unknown>,
  run: { check: boolean; diff: boolean; playBecome?: boolean },
): Effective {
  const b = (v: Templated<boolean> | undefined, keyword: string, dflt: boolean) => (v === undefined ? dflt : boolOf(templater, v, scope, keyword, task.position));
  const become = task.become === undefined ? run.playBecome : b(task.become, 'become', false);
  return {
    check: b(task.checkMode, 'check_mode', run.check),
    diff: b(task.diff, 'diff', run.diff),
    ...(become !== undefined ? { become } : {}),
    ignoreErrors: b(task.ignoreErrors, 'ignore_errors', false),
  };
}

/** `retries`/`delay`: a count, or a template giving one. */
export function countOf(templater: Templater, v: number | string, scope: Record<string, unknown>, keyword: string, position: SourcePosition): number {
  const n = typeof v === 'number' ? v : Number(templater.render(v, scope, 'none', position));
  if (!Number.isInteger(n) || n < 0) throw new FleetmendError('E_TEMPLATE', `${keyword}: ${JSON.stringify(v)} is not a count`, { position });
  return n;
}

/**
 * The items of a rendered loop value. `with_items` flattens one level (Ansible's `items`
 * lookup); `with_dict` turns a mapping into `{key, value}` items (`dict2items`); `loop` and
 * `with_list` take the list as it is.
 */
export function loopItemsOf(loop: TaskLoop, value: unknown, position: SourcePosition): unknown[] {
  if (loop.kind === 'with_dict') {
    if (!value || typeof value !== 'object' || Array.isArray(value)) {
      throw new FleetmendError('E_TEMPLATE', `with_dict: ${JSON.stringify(loop.items).slice(0, 200)} is not a mapping`, { position });
    }
    return Object.entries(value).map(([key, v]) => ({ key, value: v }));
  }
  if (!Array.isArray(value)) {
    const what = value === null ? 'null' : typeof value;
    throw new FleetmendError('E_TEMPLATE', `${loop.kind}: ${JSON.stringify(loop.items).slice(0, 200)} is not a list (got ${what})`, { position });
  }
  return loop.kind === 'with_items' ? value.flatMap((x) => (Array.isArray(x) ? x : [x])) : value;
}
