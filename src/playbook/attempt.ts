/**
 * One execution of a task's module on one host (one loop item): its `when`, the module (check,
 * then apply unless in check mode), its effects on the host's state and session, `until` with
 * retries, and the changed_when / failed_when overrides; what `register` holds of it.
 */
import { FleetmendError, toFleetmendError } from '../errors.js';
import { taskStatusOfCode } from '../results/index.js';
import type { ModuleContext, ModuleOutcome } from '../modules/types.js';
import { allHold } from '../expr/conditions.js';
import { extendScope, type Scope } from './scope.js';
import { argDialects } from './template.js';
import type { Task } from './types.js';
import { countOf, type Effective } from './keywords.js';
import type { Env, TaskRun } from './env.js';

/** A task's outcome and what `register` holds of it. */
export interface Executed {
  o: ModuleOutcome;
  reg: Record<string, unknown>;
}

/** Trailing CR/LF removed (Python's rstrip("\r\n"), which Ansible's command module applies). */
function chomp(text: string | undefined): string {
  return (text ?? '').replace(/[\r\n]+$/, '');
}

/** What `register` (and `result` in changed_when/failed_when/until) holds of an outcome. */
export function registeredValue(o: ModuleOutcome): Record<string, unknown> {
  return {
    ...(o.data ?? {}),
    status: o.status,
    changed: o.status === 'changed',
    failed: o.status === 'failed',
    skipped: o.status === 'skipped',
    unreachable: o.status === 'unreachable',
    msg: o.msg ?? '',
    rc: o.rc ?? null,
    // as Ansible's command module registers them: trailing "\r\n" stripped (x.stdout == '8192')
    stdout: chomp(o.stdout),
    stderr: chomp(o.stderr),
    stdout_lines: chomp(o.stdout) === '' ? [] : chomp(o.stdout).split(/\r?\n/),
    warnings: o.warnings ?? [],
  };
}

/** changed_when / failed_when (never able to turn a guard refusal into a success). */
function applyOverrides(task: Task, o: ModuleOutcome, scope: Scope): ModuleOutcome {
  if (o.status === 'skipped' || o.status === 'unreachable' || o.error?.code === 'E_GUARD') return o;
  let out = o;
  if (task.failedWhen) {
    if (allHold(task.failedWhen, scope).ok) {
      const message = `failed_when: ${task.failedWhen.map((c) => c.source).join(' and ')}`;
      out = { ...out, status: 'failed', msg: out.msg ? `${out.msg}; ${message}` : message, error: { code: 'E_MODULE', message } };
    } else if (out.status === 'failed') {
      const { error: _dropped, ...rest } = out;
      out = { ...rest, status: out.rc !== undefined && out.rc !== null ? 'changed' : 'ok' };
    }
  }
  if (task.changedWhen && out.status !== 'failed') out = { ...out, status: allHold(task.changedWhen, scope).ok ? 'changed' : 'ok' };
  return out;
}

async function executeModule(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<ModuleOutcome> {
  const mod = task.module;
  const rendered = env.templater.renderArgs(task.args, scope, argDialects(mod), mod.noTemplate ?? [], task.position);
  for (const k of mod.exprArgs ?? []) {
    const source = rendered[k];
    if (typeof source === 'string') env.templater.observeExpression(source, scope, task.position);
  }
  const parsed = mod.schema.safeParse(rendered);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FleetmendError('E_SCHEMA', `${task.moduleName}: ${issue?.message ?? 'invalid arguments'}${issue?.path.length ? ` at ${issue.path.join('.')}` : ''} (after templating)`, {
      position: task.position,
    });
  }
  const ctx: ModuleContext = {
    host: run.host.name,
    session: run.session,
    check: eff.check,
    diff: eff.diff,
    ...(eff.become !== undefined ? { become: eff.become } : {}),
    clock: env.clock,
    searchPaths: task.searchPaths,
    play: {
      hostsInPlay: run.hostsInPlay,
      batchSize: run.batchSize,
      memoryShare: run.play.memoryShare,
      allowParallelReboot: run.play.allowParallelReboot,
    },
    scope,
    ...(run.state.facts ? { facts: run.state.facts } : {}),
    ...(run.state.diagnosis ? { diagnosis: run.state.diagnosis } : {}),
    guardSampleMs: env.guardSampleMs,
    reconnect: () => env.opts.connect(run.host),
    renderTemplate: (text, source) => env.templater.renderFile(text, scope, { file: source }),
  };
  const checked = await mod.check(ctx, parsed.data);
  if (ctx.check || checked.status !== 'changed' || checked.plan === undefined) return checked;
  return mod.apply(ctx, parsed.data, checked.plan, checked);
}

/** One execution of the task's module (one loop item): when, module, state updates, overrides. */
export async function runOnce(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<Executed> {
  let o: ModuleOutcome;
  try {
    const w = allHold(task.when, scope);
    if (!w.ok) {
      o = { status: 'skipped', msg: `when: ${w.failed} is false` };
    } else {
      return await attempts(env, task, run, scope, eff);
    }
  } catch (err) {
    const e = atTask(toFleetmendError(err, run.host.name), task);
    o = { status: taskStatusOfCode(e.code), msg: e.oneLine(), error: { code: e.code, message: e.message } };
  }
  return { o, reg: registeredValue(o) };
}

/** The module once, with its effects on the host's state and the overrides. */
async function attempt(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<Executed> {
  let o = await executeModule(env, task, run, scope, eff);
  if (o.transport) run.session.replaceTransport(o.transport);
  // a task that changed the host, or failed part way through a change (any module, a
  // command included), makes the cached facts stale
  else if (!eff.check && o.status !== 'ok' && o.status !== 'skipped') run.session.invalidate();
  if (o.facts) {
    run.state.facts = o.facts;
    if (o.diagnosis) run.state.diagnosis = o.diagnosis;
  }
  if (o.vars) Object.assign(run.state.setFacts, o.vars);
  if (o.ansibleFacts) run.state.ansibleFacts = { ...run.state.ansibleFacts, ...o.ansibleFacts };
  const reg = registeredValue(o);
  o = applyOverrides(task, o, extendScope(scope, { result: reg, ...(task.register ? { [task.register]: reg } : {}) }));
  return { o, reg: registeredValue(o) };
}

/**
 * `until`: the module again, `delay` seconds apart, until the condition holds over its result
 * (registered as `attempts`); Ansible's count: `retries` + 1 attempts. Without `until`, once.
 */
async function attempts(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<Executed> {
  if (!task.until) return attempt(env, task, run, scope, eff);
  const retries = countOf(env.templater, task.until.retries, scope, 'retries', task.position);
  const delay = countOf(env.templater, task.until.delay, scope, 'delay', task.position);
  const total = Math.max(1, retries + 1);
  for (let n = 1; ; n++) {
    const { o, reg } = await attempt(env, task, run, scope, eff);
    const regN = { ...reg, attempts: n };
    const held = o.status !== 'unreachable' && allHold(task.until.until, extendScope(scope, { result: regN, ...(task.register ? { [task.register]: regN } : {}) })).ok;
    if (held || o.status === 'unreachable') return { o, reg: regN };
    if (n >= total || env.opts.signal?.aborted) {
      const msg = `until: ${task.until.until.map((c) => c.source).join(' and ')} still false after ${n} attempt(s)${o.msg ? `; ${o.msg}` : ''}`;
      const failedO: ModuleOutcome = { ...o, status: 'failed', msg, error: o.error ?? { code: 'E_MODULE', message: msg } };
      return { o: failedO, reg: { ...registeredValue(failedO), attempts: n } };
    }
    await env.clock.sleep(delay * 1000);
  }
}

/** A playbook error raised where the file is not known (a module's `assert`, a lazy var) points at its task. */
export function atTask(e: FleetmendError, task: Task): FleetmendError {
  if (e.position || !['E_UNDEFINED', 'E_TEMPLATE', 'E_EXPR'].includes(e.code)) return e;
  return new FleetmendError(e.code, e.message, { position: task.position, ...(e.details ? { details: e.details } : {}) });
}
