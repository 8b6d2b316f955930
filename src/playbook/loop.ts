/**
 * A task's `loop`: its items (templated), the module once per item through attempt.ts, and
 * the aggregate outcome and `register` (`results`, one per item) Ansible gives a looped task.
 */
import { toFleetmendError } from '../errors.js';
import type { ModuleOutcome } from '../modules/types.js';
import { extendScope, type Scope } from './scope.js';
import type { Task } from './types.js';
import { loopItemsOf, type Effective } from './keywords.js';
import { atTask, registeredValue, runOnce, type Executed } from './attempt.js';
import type { Env, TaskRun } from './env.js';

/** The loop's items: a list (strings templated) or a `{{ list }}` template (keywords.ts loopItemsOf). */
export function loopItems(env: Env, loop: NonNullable<Task['loop']>, position: Task['position'], scope: Scope): unknown[] {
  const value = typeof loop.items === 'string' ? env.templater.render(loop.items, scope, 'none', position) : env.templater.renderTree(loop.items, scope, position);
  return loopItemsOf(loop, value, position);
}

/**
 * A loop: the module once per item (each with its own `when`), as in Ansible; the task failed if
 * an item failed (later items still run), unreachable stops the loop. `register` holds
 * `results` (one registered value per item, with `item`) and the aggregate flags.
 */
export async function runLoop(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<Executed> {
  let items: unknown[];
  try {
    items = loopItems(env, task.loop!, task.position, scope);
  } catch (err) {
    const e = atTask(toFleetmendError(err, run.host.name), task);
    const o: ModuleOutcome = { status: 'failed', msg: e.oneLine(), error: { code: e.code, message: e.message } };
    return { o, reg: registeredValue(o) };
  }
  const { loopVar, indexVar } = task.loop!;
  const results: Record<string, unknown>[] = [];
  const outcomes: ModuleOutcome[] = [];
  const labels: string[] = [];
  for (const [i, item] of items.entries()) {
    const itemScope = extendScope(scope, { [loopVar]: item, ansible_loop_var: loopVar, ...(indexVar ? { [indexVar]: i } : {}) });
    labels.push(itemLabel(env, task, item, itemScope));
    const { o, reg } = await runOnce(env, task, run, itemScope, eff);
    outcomes.push(o);
    results.push({ ...reg, [loopVar]: item, item, ansible_loop_var: loopVar, ...(indexVar ? { [indexVar]: i } : {}) });
    if (o.status === 'unreachable') break;
  }
  const has = (st: string) => outcomes.some((o) => o.status === st);
  const status: ModuleOutcome['status'] = has('unreachable') ? 'unreachable' : has('failed') ? 'failed' : has('changed') ? 'changed' : outcomes.every((o) => o.status === 'skipped') ? 'skipped' : 'ok';
  const label = (i: number) => labels[i] ?? stringOfItem(items[i]);
  const bad = outcomes.findIndex((o) => o.status === 'failed' || o.status === 'unreachable');
  const counts = ['changed', 'ok', 'skipped', 'failed'].map((st) => [st, outcomes.filter((o) => o.status === st).length] as const).filter(([, n]) => n);
  const msg = bad >= 0 ? `item ${label(bad)}: ${outcomes[bad]!.msg ?? ''}` : `${items.length} item(s): ${counts.map(([st, n]) => `${n} ${st}`).join(', ') || 'none'}`;
  const stdout = outcomes.map((o) => o.stdout ?? '').join('');
  const o: ModuleOutcome = {
    status,
    msg,
    ...(outcomes.some((x) => x.stdout !== undefined) ? { stdout } : {}),
    warnings: outcomes.flatMap((x, i) => (x.warnings ?? []).map((w) => `item ${label(i)}: ${w}`)),
    ...(bad >= 0 && outcomes[bad]!.error ? { error: outcomes[bad]!.error } : {}),
  };
  const reg = { ...registeredValue(o), results, changed: has('changed'), failed: has('failed'), skipped: status === 'skipped' };
  return { o, reg };
}

/** loop_control.label names the item in messages (rendered per item); else the item itself. */
function itemLabel(env: Env, task: Task, item: unknown, scope: Scope): string {
  const label = task.loop?.label;
  if (label === undefined) return stringOfItem(item);
  try {
    return stringOfItem(env.templater.render(label, scope, 'none', task.position));
  } catch {
    return stringOfItem(item);
  }
}

function stringOfItem(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}
