/**
 * One task on one host, start to end: its variables and scope (watched for secrets), its
 * keywords, the module once or per loop item, `register` and taint, and the result as it may be
 * shown (secrets masked), emitted as a `task` event.
 */
import { FleetmendError, toFleetmendError } from '../errors.js';
import { taskStatusOfCode, type TaskResult } from '../results/index.js';
import { taint, TaintWatch } from '../secrets/index.js';
import { IGNORED_WARNING } from './recap.js';
import { buildScope, extendScope, type LazyTemplating, type Scope } from './scope.js';
import type { Block, Play, Task } from './types.js';
import { effectiveKeywords, type Effective } from './keywords.js';
import type { Extra } from './walk.js';
import type { Vars } from './vars.js';
import { atTask, runOnce } from './attempt.js';
import { loopItems, runLoop } from './loop.js';
import type { Env, PlayHostOptions, TaskRun } from './env.js';

/** --tags / --skip-tags: `always` runs under any --tags, a skipped tag wins over a selected one. */
export function tagSelected(task: Task, opts: PlayHostOptions): boolean {
  if (opts.skipTags?.some((t) => task.tags.includes(t))) return false;
  if (!opts.tags?.length) return true;
  return task.tags.includes('always') || opts.tags.some((t) => task.tags.includes(t));
}

/**
 * Inventory, play, role, block, task and `-e` variables are templated when read; set_fact values
 * (host data) are not. `above`: the layers that outrank set_fact (role params, -e).
 */
function lazyTemplating(env: Env, vars: Vars, setFacts: Vars, above: Vars): LazyTemplating {
  const names = new Set(Object.keys(vars).filter((k) => k in above || !(k in setFacts)));
  return { names, render: (value, scope) => env.templater.renderTree(value, scope) };
}

/**
 * A task's variables in Ansible's precedence (types.ts TaskVars): role defaults < inventory <
 * play vars (vars_files) < role vars < block vars < task vars < set_fact < role/include params < -e.
 */
function taskVars(env: Env, task: Pick<Task, 'vars'>, run: TaskRun): { vars: Vars; above: Vars } {
  const extra = env.opts.extraVars ?? {};
  const above = { ...task.vars.params, ...extra };
  return { vars: { ...task.vars.defaults, ...run.vars, ...task.vars.vars, ...run.state.setFacts, ...above }, above };
}

/** The magic variables a task adds to the play's: its role, and ansible_check_mode as it runs. */
function taskMagic(run: TaskRun, task: Pick<Task, 'role'>, check: boolean): Record<string, unknown> {
  return {
    ...run.magic,
    ansible_check_mode: check,
    check_mode: check,
    ...(task.role ? { role_name: task.role.name, role_path: task.role.path, ansible_role_name: task.role.name } : {}),
  };
}

/** The scope a task (or an include's loop) is evaluated in, watched for the secrets it reads. */
function taskScope(env: Env, task: Pick<Task, 'vars' | 'role'>, run: TaskRun, check: boolean, extra: Extra): { scope: Scope; watch: TaintWatch; watched: Env } {
  const { vars, above } = taskVars(env, task, run);
  // every template the task evaluates is watched for the secrets it reads (src/secrets/taint.ts),
  // a var templated lazily (an inventory var holding {{ }}) included
  const watch = new TaintWatch(vars, run.state);
  const watched: Env = { ...env, templater: env.templater.observing(watch.onRead) };
  const base = buildScope(run.host, vars, run.state, check, lazyTemplating(watched, vars, run.state.setFacts, above), taskMagic(run, task, check));
  return { scope: Object.keys(extra).length ? extendScope(base, extra) : base, watch, watched };
}

/** The task's keywords for this host; an error rendering them fails the task. */
function resolveKeywords(env: Env, task: Task, run: TaskRun, extra: Extra): { eff?: Effective; error?: FleetmendError } {
  try {
    // a scope costs a build per task: only templated keyword values need one
    const templated = [task.become, task.checkMode, task.diff, task.ignoreErrors].some((v) => typeof v === 'string');
    const scope = templated ? taskScope(env, task, run, env.opts.check ?? false, extra).scope : {};
    return { eff: effectiveKeywords(env.templater, task, scope, { check: env.opts.check ?? false, diff: env.opts.diff ?? false, ...(run.play.become !== undefined ? { playBecome: run.play.become } : {}) }) };
  } catch (err) {
    return { error: atTask(toFleetmendError(err, run.host.name), task) };
  }
}

export async function runTask(env: Env, task: Task, run: TaskRun, extra: Extra = {}): Promise<TaskResult> {
  const t0 = env.clock.now();
  const base = { play: run.play.name, task: task.name, module: task.moduleName };
  const { eff, error } = resolveKeywords(env, task, run, extra);
  if (!eff) {
    const result: TaskResult = { ...base, status: taskStatusOfCode(error!.code), changed: false, msg: error!.oneLine(), duration_ms: env.clock.now() - t0, error: { code: error!.code, message: error!.message } };
    env.emit({ type: 'task', host: run.host.name, result });
    return result;
  }
  const { scope, watch, watched } = taskScope(env, task, run, eff.check, extra);
  const { o, reg } = task.loop ? await runLoop(watched, task, run, scope, eff) : await runOnce(watched, task, run, scope, eff);
  if (task.register) run.state.registered[task.register] = reg;
  if (watch.isTainted) {
    const facts = task.module.name === 'set_fact' ? watch.taintedKeys(task.args) : [];
    taint(run.state, [...(task.register ? [task.register] : []), ...facts]);
  }
  const warnings = [...(o.warnings ?? [])];
  if (o.status === 'failed' && eff.ignoreErrors) warnings.push(IGNORED_WARNING);
  // a secret-named or tainted var (inventory, play vars, -e, set_fact, register) a task templated
  // into what it printed or reported is masked before anything sees the result (the transport
  // masks only the connection's own secrets); the module itself parsed the real output
  const commands = Object.fromEntries([...(task.module.shellArgs ?? []), ...(task.module.wordArgs ?? [])].map((k) => [k, task.args[k]]));
  const result: TaskResult = watch.maskResult({
    ...base,
    status: o.status,
    changed: o.status === 'changed',
    ...(o.msg !== undefined ? { msg: o.msg } : {}),
    ...(eff.diff && o.diff?.length ? { diff: o.diff } : {}),
    ...(o.stdout !== undefined ? { stdout: o.stdout } : {}),
    ...(o.stderr !== undefined ? { stderr: o.stderr } : {}),
    ...(o.rc !== undefined ? { rc: o.rc } : {}),
    duration_ms: env.clock.now() - t0,
    ...(warnings.length ? { warnings } : {}),
    ...(o.error ? { error: o.error } : {}),
  } satisfies TaskResult, commands);
  env.emit({ type: 'task', host: run.host.name, result });
  return result;
}

export function skippedTask(play: Play, task: Task, msg: string): TaskResult {
  return { play: play.name, task: task.name, module: task.moduleName, status: 'skipped', changed: false, msg, duration_ms: 0 };
}

/** An include's loop items for this host, or the failed result that says why there are none. */
export function blockItems(env: Env, b: Block, run: TaskRun, extra: Extra): unknown[] | TaskResult {
  const owner = { vars: b.vars ?? { defaults: {}, vars: {}, params: {} }, ...(b.role ? { role: b.role } : {}) };
  try {
    const { scope } = taskScope(env, owner, run, env.opts.check ?? false, extra);
    return loopItems(env, b.loop!, b.position, scope);
  } catch (err) {
    const e = toFleetmendError(err, run.host.name);
    const r: TaskResult = { play: run.play.name, task: b.name, module: 'include_tasks', status: 'failed', changed: false, msg: e.oneLine(), duration_ms: 0, error: { code: e.code, message: e.message } };
    env.emit({ type: 'task', host: run.host.name, result: r });
    return r;
  }
}
