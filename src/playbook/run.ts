/**
 * Runs a playbook: plays in order, each play's hosts in rolling batches (`serial`), each host's
 * tasks in order through its own Transport. Per-host failures never stop other hosts; a batch
 * whose failures cross the play's threshold stops the rollout (BATCHES.md). Concurrency inside a
 * batch is the caller's: pass the executor's p-limit runner as `runHosts`.
 */
import { dirname } from 'node:path';
import { FleetmendError, toFleetmendError } from '../errors.js';
import { isoNow, systemClock, type Clock } from '../executor/clock.js';
import {
  hostResult,
  hostStatusOfCode,
  mergePlay,
  taskStatusOfCode,
  type HostError,
  type HostResult,
  type HostStatus,
  type HostTarget,
  type RunEventListener,
  type TaskResult,
} from '../results/index.js';
import type { HostFacts } from '../facts/types.js';
import type { Diagnosis } from '../diagnosis/types.js';
import type { ModuleContext, ModuleOutcome } from '../modules/types.js';
import type { Transport } from '../transport/types.js';
import { factsProbe, HostSession, type FactsProbe } from '../host/index.js';
import { FailureBudget, type BudgetLimits } from '../executor/budget.js';
import { planRollout } from './batches.js';
import { preflightDisruption } from './disruption.js';
import type { DisruptionBudget } from '../executor/disruption.js';
import { watchHost } from './watch.js';
import { allHold } from '../expr/conditions.js';
import { IGNORED_WARNING, isHostFailure, recapOf, type HostRecap } from './recap.js';
import { buildScope, extendScope, playMagicVars, type LazyTemplating, type Scope } from './scope.js';
import { argDialects, Templater } from './template.js';
import { flatTasks, type Block, type Play, type Playbook, type Task } from './types.js';
import { countOf, effectiveKeywords, loopItemsOf, type Effective } from './keywords.js';
import { endsHost, HostWalk, type Extra } from './walk.js';
import { mergeVars, type Vars } from './vars.js';
import { taint, TaintWatch } from '../secrets/index.js';
import { newNonce } from '../util/nonce.js';

export interface PlaybookHost extends HostTarget {
  /** Inventory host vars (group vars merged), lowest precedence. */
  vars: Vars;
}

/**
 * The concurrency hook: run `job` for every host of one batch of `play` and return their results.
 * The default runs them all at once; the executor passes its p-limit runner (forks), e.g.
 * `(hosts, job, play) => runHosts(hosts, job, { forks, clock, interrupt, onEvent, play })`.
 * `job` never throws. It is called once per batch of each play. The results are one play's
 * (progress); the host's final `host-done` is emitted by runPlaybook after the last play.
 */
export type RunHostsHook = <H extends PlaybookHost>(hosts: readonly H[], job: (host: H) => Promise<HostResult>, play: string) => Promise<HostResult[]>;

/** What running one play on one host needs (in this process, or on a queue worker). */
export interface PlayHostOptions {
  /** A new, connected Transport to the host. Called again by `reboot` to wait for the host. */
  connect(host: PlaybookHost): Promise<Transport>;
  extraVars?: Vars;
  check?: boolean;
  diff?: boolean;
  /** `--watch SECONDS`: every play's watch (0: none), over the play's own `watch:`. */
  watch?: number;
  /** Run only tasks with one of these tags / skip tasks with one of these. */
  tags?: readonly string[];
  skipTags?: readonly string[];
  clock?: Clock;
  onEvent?: RunEventListener;
  /** Interval between the two samples the panic/growth guards take (default 2000 ms). */
  guardSampleMs?: number;
  nonce?: string;
  /** Aborted: no new task or batch starts (SIGINT). */
  signal?: AbortSignal;
  /**
   * Every inventory host (for `groups` and `hostvars`). Default: the hosts of `selectHosts('all')`
   * in a local run, the host alone on a worker.
   */
  allHosts?: readonly PlaybookHost[];
}

/** One play on one host, asked of another process (distributed mode). */
export interface RemotePlayRequest {
  playIndex: number;
  batchIndex: number;
  host: PlaybookHost;
  batch: { size: number; hostsInPlay: number };
  /** The host's state before this play (JSON). */
  state: HostState;
}

export interface RemotePlayReply {
  result: HostResult;
  /** The host's state after this play (registered vars, set_facts, facts, diagnosis). */
  state: HostState;
}

export interface RunPlaybookOptions extends PlayHostOptions {
  /** Hosts matching a play's `hosts:` pattern (inventory selectHosts, --limit applied). */
  selectHosts(pattern: string): readonly PlaybookHost[];
  runHosts?: RunHostsHook;
  /**
   * Distributed mode: each host's play runs elsewhere (a queue worker calls `playOneHost`).
   * The batches, the rollout rules and the merge of plays stay here, so a rollout stops exactly
   * as a local one. The hook never throws for a host's failure: it returns the host's result.
   */
  playOnHost?: (req: RemotePlayRequest) => Promise<RemotePlayReply>;
  /** The run-wide failure budget (issue 27): counted over every play and batch of this run. */
  budget?: BudgetLimits;
  /** `--canary`: every play's first batch is one host, and its failure holds the run. */
  canary?: boolean;
  /** Hosts in flight at once (-f): `serial: ramp` grows to it; it bounds a budget's overshoot. Default 50. */
  forks?: number;
}

export interface RolloutStop {
  play: string;
  /** 1-based batch that stopped the rollout. */
  batch: number;
  batches: number;
  reason: string;
  /** A failure budget or the canary stopped it: hosts not started are `held` (resume with --resume). */
  held?: boolean;
}

export interface PlayRunResult {
  play: string;
  batches: string[][];
  /** Batches actually run. */
  batchesRun: number;
  stopped?: RolloutStop;
}

export interface PlaybookRunResult {
  /** One result per host, all plays merged (the lead's HostResult). */
  hosts: HostResult[];
  recap: HostRecap[];
  plays: PlayRunResult[];
  stopped?: RolloutStop;
}

/**
 * What persists for a host across tasks and plays (Ansible's hostvars). Plain JSON: in
 * distributed mode it travels between plays through the queue.
 */
export interface HostState {
  registered: Record<string, unknown>;
  /** set_fact: above play vars, below -e (as in Ansible), for the rest of the playbook. */
  setFacts: Record<string, unknown>;
  facts?: HostFacts;
  diagnosis?: Diagnosis;
  /** `ansible_facts` gathered by setup / package_facts / service_facts, for the rest of the playbook. */
  ansibleFacts?: Record<string, unknown>;
  /**
   * Names of set_facts and registered results holding a value derived from a secret (a copy, a
   * templated string): secrets for the rest of the run (src/secrets/taint.ts).
   */
  tainted?: string[];
}

interface Env {
  opts: PlayHostOptions;
  clock: Clock;
  templater: Templater;
  /** The run's fact script (one nonce per run), shared by every host's session. */
  probe: FactsProbe;
  guardSampleMs: number;
  emit: RunEventListener;
  states: Map<string, HostState>;
  /** Connections a play's health check opened (max_unavailable), each taken once by the host's play. */
  preconnected: Map<string, Transport>;
}

/** Whether a batch's outcome stops the rollout (BATCHES.md), and why. */
export function rolloutDecision(
  play: Pick<Play, 'anyErrorsFatal' | 'maxFailPercentage' | 'serial'>,
  batch: { index: number; count: number; size: number; failed: number },
): string | undefined {
  const { index, count, size, failed } = batch;
  if (failed === 0 || size === 0) return undefined;
  const where = `batch ${index + 1}/${count}`;
  if (play.anyErrorsFatal) return `${where}: ${failed} host(s) failed and the play sets any_errors_fatal`;
  if (failed === size) return `${where}: every host failed (${failed}/${size})`;
  const threshold = play.maxFailPercentage ?? (play.serial !== undefined ? 0 : 100);
  const pct = (failed / size) * 100;
  if (pct > threshold) {
    const source = play.maxFailPercentage === undefined ? ' (default for a play with serial)' : '';
    return `${where}: ${failed}/${size} hosts failed (${pct.toFixed(0)}% > max_fail_percentage ${threshold}${source})`;
  }
  return undefined;
}

function tagSelected(task: Task, opts: PlayHostOptions): boolean {
  if (opts.skipTags?.some((t) => task.tags.includes(t))) return false;
  if (!opts.tags?.length) return true;
  return task.tags.includes('always') || opts.tags.some((t) => task.tags.includes(t));
}

/** Trailing CR/LF removed (Python's rstrip("\r\n"), which Ansible's command module applies). */
function chomp(text: string | undefined): string {
  return (text ?? '').replace(/[\r\n]+$/, '');
}

function registeredValue(o: ModuleOutcome): Record<string, unknown> {
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

interface TaskRun {
  play: Play;
  host: PlaybookHost;
  vars: Vars;
  state: HostState;
  /** The host's session: its current transport (reboot replaces it) and cached facts. */
  session: HostSession;
  batchSize: number;
  hostsInPlay: number;
  /** Magic variables of the play for this host: groups, hostvars, ansible_play_hosts, ... */
  magic: Record<string, unknown>;
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
async function runOnce(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<{ o: ModuleOutcome; reg: Record<string, unknown> }> {
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
async function attempt(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<{ o: ModuleOutcome; reg: Record<string, unknown> }> {
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
async function attempts(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<{ o: ModuleOutcome; reg: Record<string, unknown> }> {
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
function atTask(e: FleetmendError, task: Task): FleetmendError {
  if (e.position || !['E_UNDEFINED', 'E_TEMPLATE', 'E_EXPR'].includes(e.code)) return e;
  return new FleetmendError(e.code, e.message, { position: task.position, ...(e.details ? { details: e.details } : {}) });
}

/** The loop's items: a list (strings templated) or a `{{ list }}` template (keywords.ts loopItemsOf). */
function loopItems(env: Env, loop: NonNullable<Task['loop']>, position: Task['position'], scope: Scope): unknown[] {
  const value = typeof loop.items === 'string' ? env.templater.render(loop.items, scope, 'none', position) : env.templater.renderTree(loop.items, scope, position);
  return loopItemsOf(loop, value, position);
}

/**
 * A loop: the module once per item (each with its own `when`), as in Ansible; the task failed if
 * an item failed (later items still run), unreachable stops the loop. `register` holds
 * `results` (one registered value per item, with `item`) and the aggregate flags.
 */
async function runLoop(env: Env, task: Task, run: TaskRun, scope: Scope, eff: Effective): Promise<{ o: ModuleOutcome; reg: Record<string, unknown> }> {
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

async function runTask(env: Env, task: Task, run: TaskRun, extra: Extra = {}): Promise<TaskResult> {
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

function skippedTask(play: Play, task: Task, msg: string): TaskResult {
  return { play: play.name, task: task.name, module: task.moduleName, status: 'skipped', changed: false, msg, duration_ms: 0 };
}

function hostStatusOf(tasks: readonly TaskResult[]): HostStatus {
  // a command aborted by the second signal ended the host: neither its failure nor unreachable
  if (tasks.some((t) => endsHost(t) && t.error?.code === 'E_INTERRUPTED')) return 'interrupted';
  if (tasks.some((t) => t.status === 'unreachable')) return 'unreachable';
  if (tasks.some(isHostFailure)) return 'failed';
  if (tasks.some((t) => t.status === 'changed')) return 'changed';
  if (tasks.length && tasks.every((t) => t.status === 'skipped')) return 'skipped';
  return 'ok';
}

/**
 * The host's error: the connection's, else that of the task that ended the host, so an
 * unreachable/failed host always names its error class (terminal, store, reports) like a sweep.
 */
function hostError(tasks: readonly TaskResult[], error?: FleetmendError): { error?: HostError } {
  if (error) return { error: { code: error.code, message: error.message } };
  const ending = tasks.find((t) => endsHost(t) && t.error);
  return ending?.error ? { error: { code: ending.error.code, message: `task "${ending.task}": ${ending.error.message}` } } : {};
}


interface BatchAbort {
  reason?: string;
}

/** Which hosts a play on a host sees as its play and batch (magic vars); the whole play's by default. */
interface BatchInfo {
  size: number;
  hostsInPlay: number;
  playHosts?: readonly string[];
  batchHosts?: readonly string[];
}

/** A handler runs when its name, one of its `listen` topics, or `role : name` was notified. */
function handlerNotified(handler: Task, notified: ReadonlySet<string>): boolean {
  return notified.has(handler.name) || (handler.listen ?? []).some((t) => notified.has(t));
}

function playMagic(env: Env, play: Play, host: PlaybookHost, batch: BatchInfo): Record<string, unknown> {
  return playMagicVars({
    allHosts: env.opts.allHosts ?? [host],
    stateOf: (name) => env.states.get(name),
    playHosts: batch.playHosts ?? [host.name],
    batchHosts: batch.batchHosts ?? [host.name],
    tags: env.opts.tags ?? [],
    skipTags: env.opts.skipTags ?? [],
    playbookDir: play.dir,
  });
}

/**
 * One play on one host: connect, its task tree (walk.ts: blocks, rescue, always), then the
 * handlers it notified (only if the host did not fail, as in Ansible). Never throws: errors
 * become the host's result.
 */
async function playOnHost(env: Env, play: Play, host: PlaybookHost, batch: BatchInfo & { abort: BatchAbort }): Promise<HostResult> {
  const started = isoNow(env.clock);
  const state = env.states.get(host.name) ?? emptyState();
  env.states.set(host.name, state);
  const result = (results: TaskResult[], error?: FleetmendError): HostResult =>
    hostResult(host, {
      status: error ? hostStatusOfCode(error.code) : hostStatusOf(results),
      started,
      finished: isoNow(env.clock),
      tasks: results,
      ...hostError(results, error),
    });
  let transport: Transport;
  try {
    const pre = env.preconnected.get(host.name);
    env.preconnected.delete(host.name);
    transport = pre ?? (await env.opts.connect(host));
  } catch (err) {
    return result([], toFleetmendError(err, host.name));
  }
  const run: TaskRun = {
    play,
    host,
    vars: mergeVars(host.vars, play.vars, env.opts.extraVars ?? {}),
    state,
    session: new HostSession({ target: host, transport, clock: env.clock, probe: env.probe, ...(env.opts.signal ? { signal: env.opts.signal } : {}) }),
    batchSize: batch.size,
    hostsInPlay: batch.hostsInPlay,
    magic: playMagic(env, play, host, batch),
  };
  // Work left undone because of the signal: the host is `interrupted` (retried, resumed), never
  // `skipped` (which the retry file and --resume take as nothing to do).
  let interrupted: FleetmendError | undefined;
  const interruptedBefore = (what: string) =>
    (interrupted ??= new FleetmendError('E_INTERRUPTED', `the run was interrupted before ${what}`, { host: host.name }));
  const flushHandlers = async (): Promise<boolean> => {
    const topics = new Set(walk.notified);
    walk.notified.clear();
    for (const handler of play.handlers) {
      if (walk.ended || !handlerNotified(handler, topics)) continue;
      if (env.opts.signal?.aborted) {
        interruptedBefore(`handler "${handler.name}"`);
        continue;
      }
      const r = await runTask(env, handler, run);
      walk.results.push(r);
      if (endsHost(r)) walk.ended = true;
    }
    return walk.ended;
  };
  const walk: HostWalk = new HostWalk({
    selected: (t) => tagSelected(t, env.opts),
    run: (t, extra) => runTask(env, t, run, extra),
    stopReason: () => batch.abort.reason ?? (env.opts.signal?.aborted ? 'run interrupted' : undefined),
    interruptedBefore: (what) => {
      if (!batch.abort.reason) interruptedBefore(what);
    },
    skipped: (t, msg) => skippedTask(play, t, msg),
    failedFinally: (t) => {
      if (play.anyErrorsFatal || t.anyErrorsFatal) batch.abort.reason ??= `any_errors_fatal: ${host.name} failed at task "${t.name}"`;
    },
    flushHandlers,
    blockItems: (b, extra) => blockItems(env, b, run, extra),
  });
  try {
    await walk.list(play.tasks, {});
    await flushHandlers();
    const results = walk.results;
    const watchSeconds = env.opts.watch ?? play.watch;
    if (!walk.ended && watchSeconds > 0 && !env.opts.check && !interrupted && hostStatusOf(results) === 'changed') {
      const w = await watchHost(run.session.transport, { play: play.name, seconds: watchSeconds, nonce: env.probe.nonce, clock: env.clock, ...(env.opts.signal ? { signal: env.opts.signal } : {}) });
      env.emit({ type: 'task', host: host.name, result: w });
      results.push(w);
    }
  } finally {
    await run.session.transport.close().catch(() => undefined);
  }
  return result(walk.results, interrupted);
}

/** An include's loop items for this host, or the failed result that says why there are none. */
function blockItems(env: Env, b: Block, run: TaskRun, extra: Extra): unknown[] | TaskResult {
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

function emptyState(): HostState {
  return { registered: {}, setFacts: {} };
}

const defaultRunHosts: RunHostsHook = (hosts, job) => Promise.all(hosts.map((h) => job(h)));

type NotStarted = 'skipped' | 'interrupted' | 'held';

/** A host no task of the play ran on; `interrupted` and `held` hosts carry why (resume redoes them). */
function notStarted(play: Play, host: PlaybookHost, reason: string, clock: Clock, status: NotStarted = 'skipped'): HostResult {
  const at = isoNow(clock);
  const tasks = flatTasks(play.tasks).map((t) => skippedTask(play, t, reason));
  const code = status === 'interrupted' ? ('E_INTERRUPTED' as const) : status === 'held' ? ('E_HELD' as const) : undefined;
  return hostResult(host, { status, started: at, finished: at, tasks, ...(code ? { error: { code, message: reason } } : {}) });
}

/** What the plays of one run share: the hosts out of the run, the budget, where results go. */
interface RunShared {
  exclude: ReadonlySet<string>;
  budget: FailureBudget;
  collect: (r: HostResult) => void;
}

/**
 * The budget around a host's play: a host whose turn comes after the budget was exceeded is
 * `held` without a connection; one already in flight finishes (SSM's rule, src/executor/budget.ts).
 */
function budgeted(play: Play, budget: FailureBudget, clock: Clock, job: (h: PlaybookHost) => Promise<HostResult>, disruption?: DisruptionBudget) {
  const limits: BudgetLimits = play.maxFailures ? { failures: play.maxFailures } : {};
  return async (h: PlaybookHost): Promise<HostResult> => {
    const held = budget.exceeded;
    if (held) return notStarted(play, h, `not started: held (${held})`, clock, 'held');
    const admitted = disruption ? await disruption.admit(h.name) : { ok: true as const };
    if (!admitted.ok) return notStarted(play, h, `not started: held (${admitted.reason})`, clock, 'held');
    budget.started(h.name);
    const r = await job(h);
    budget.finished(h.name, r.status, limits);
    disruption?.finished(h.name, r.status);
    return r;
  };
}

/** A play with `max_unavailable`: the hosts already down, from one sample each before the first batch. */
async function disruptionFor(env: Env, opts: RunPlaybookOptions, play: Play, hosts: readonly PlaybookHost[]): Promise<DisruptionBudget | undefined> {
  if (!play.maxUnavailable) return undefined;
  if (opts.playOnHost) {
    throw new FleetmendError('E_USAGE', `play "${play.name}": max_unavailable needs a health check of every host before the first batch, which a coordinator (--redis) cannot run; run it from one controller`);
  }
  const pre = await preflightDisruption(hosts, play.maxUnavailable, {
    connect: (h) => env.opts.connect(h as PlaybookHost),
    probe: env.probe,
    clock: env.clock,
    forks: opts.forks ?? DEFAULT_FORKS,
    ...(play.become !== undefined ? { become: play.become } : {}),
  });
  for (const [name, t] of pre.connections) env.preconnected.set(name, t);
  return pre.budget;
}

/** Why the run holds after this batch: the budget, or a failed canary (zero tolerance). */
function holdDecision(budget: FailureBudget, canaryBatch: boolean, results: readonly HostResult[]): string | undefined {
  const fromBudget = budget.holdReason();
  if (fromBudget) return fromBudget;
  const bad = results.filter((r) => r.status === 'failed' || r.status === 'unreachable');
  if (canaryBatch && bad.length) return `canary ${bad.map((r) => `${r.host} ${r.status}`).join(', ')} (the canary batch tolerates no failure)`;
  return undefined;
}

async function runPlay(env: Env, opts: RunPlaybookOptions, playIndex: number, play: Play, shared: RunShared): Promise<PlayRunResult> {
  const { exclude, budget, collect } = shared;
  const hosts = opts.selectHosts(play.hosts).filter((h) => !exclude.has(h.name));
  const plan = planRollout(hosts, play.serial, { forks: opts.forks ?? DEFAULT_FORKS, canary: !!opts.canary });
  const batches = plan.batches;
  const runHosts = opts.runHosts ?? defaultRunHosts;
  const remote = opts.playOnHost;
  const out: PlayRunResult = { play: play.name, batches: batches.map((b) => b.map((h) => h.name)), batchesRun: 0 };
  const disruption = await disruptionFor(env, opts, play, hosts);
  for (let i = 0; i < batches.length; i++) {
    const batch = batches[i] as PlaybookHost[];
    if (env.opts.signal?.aborted) {
      batches.slice(i).flat().forEach((h) => collect(notStarted(play, h, 'not started: the run was interrupted', env.clock, 'interrupted')));
      break;
    }
    const abort: BatchAbort = {};
    const info = { size: batch.length, hostsInPlay: hosts.length, playHosts: hosts.map((h) => h.name), batchHosts: batch.map((h) => h.name) };
    const playHost = remote
      ? async (h: PlaybookHost): Promise<HostResult> => {
          // any_errors_fatal cannot reach the other workers mid-play: the batch finishes and
          // the rollout stops after it (rolloutDecision below)
          const state = env.states.get(h.name) ?? emptyState();
          // the host lists stay here: a job per host carrying every host's name grows as n²
          const reply = await remote({ playIndex, batchIndex: i, host: h, batch: { size: info.size, hostsInPlay: info.hostsInPlay }, state });
          env.states.set(h.name, reply.state);
          return reply.result;
        }
      : (h: PlaybookHost) => playOnHost(env, play, h, { ...info, abort });
    const results = await runHosts(batch, budgeted(play, budget, env.clock, playHost, disruption), play.name);
    out.batchesRun++;
    results.forEach(collect);
    const hold = holdDecision(budget, plan.canary && i === 0, results);
    if (hold) {
      out.stopped = { play: play.name, batch: i + 1, batches: batches.length, reason: hold, held: true };
      batches.slice(i + 1).flat().forEach((h) => collect(notStarted(play, h, `not started: held (${hold})`, env.clock, 'held')));
      break;
    }
    const failed = results.filter((r) => r.status === 'failed' || r.status === 'unreachable').length;
    const reason = rolloutDecision(play, { index: i, count: batches.length, size: batch.length, failed });
    if (reason) {
      out.stopped = { play: play.name, batch: i + 1, batches: batches.length, reason };
      const skipped = `not started: rollout stopped (${reason})`;
      batches.slice(i + 1).flat().forEach((h) => collect(notStarted(play, h, skipped, env.clock)));
      break;
    }
  }
  await closePreconnected(env);
  return out;
}

/** Connections of the health check that no play took (held or interrupted hosts). */
async function closePreconnected(env: Env): Promise<void> {
  const left = [...env.preconnected.values()];
  env.preconnected.clear();
  await Promise.all(left.map((t) => t.close().catch(() => undefined)));
}

const DEFAULT_FORKS = 50;

function createEnv(opts: PlayHostOptions): Env {
  return {
    opts,
    clock: opts.clock ?? systemClock,
    templater: new Templater(),
    probe: factsProbe(opts.nonce),
    guardSampleMs: opts.guardSampleMs ?? 2000,
    emit: opts.onEvent ?? (() => undefined),
    states: new Map(),
    preconnected: new Map(),
  };
}

/**
/**
 * A held run's later plays: their hosts are `held` too, so a host that finished the play before is
 * not taken for done by --resume (which skips only ok/changed hosts).
 */
function holdLaterPlays(opts: RunPlaybookOptions, plays: readonly Play[], out: ReadonlySet<string>, reason: string, clock: Clock, collect: (r: HostResult) => void): void {
  for (const play of plays) {
    for (const h of opts.selectHosts(play.hosts)) if (!out.has(h.name)) collect(notStarted(play, h, `not started: held (${reason})`, clock, 'held'));
  }
}

/**
 * Runs every play of a validated playbook. Hosts that fail in a play take no part in later
 * plays (as in Ansible); a stopped rollout ends the playbook.
 */
export async function runPlaybook(playbook: Playbook, opts: RunPlaybookOptions): Promise<PlaybookRunResult> {
  const env = createEnv({ ...opts, allHosts: opts.allHosts ?? opts.selectHosts('all') });
  const byHost = new Map<string, HostResult>();
  const failedHosts = new Set<string>();
  const plays: PlayRunResult[] = [];
  let stopped: RolloutStop | undefined;
  const budget = new FailureBudget(opts.budget ?? {}, opts.forks ?? DEFAULT_FORKS);
  const collect = (r: HostResult) => {
    byHost.set(r.host, mergePlay(byHost.get(r.host), r, env.states.get(r.host)));
    if (r.status === 'failed' || r.status === 'unreachable') failedHosts.add(r.host);
  };
  for (const [playIndex, play] of playbook.plays.entries()) {
    const pr = await runPlay(env, opts, playIndex, play, { exclude: failedHosts, budget, collect });
    plays.push(pr);
    if (pr.stopped) {
      stopped = pr.stopped;
      if (stopped.held) holdLaterPlays(opts, playbook.plays.slice(playIndex + 1), failedHosts, stopped.reason, env.clock, collect);
      break;
    }
  }
  const hosts = [...byHost.values()];
  // a host's result is final only with every play merged: one host-done per host, now
  for (const result of hosts) env.emit({ type: 'host-done', result });
  return { hosts, recap: recapOf(hosts), plays, ...(stopped ? { stopped } : {}) };
}

/**
 * One play of a validated playbook on one host, from the state the host had after the plays
 * before (a queue worker's side of distributed mode): tasks, then its handlers (they are per
 * host, as in Ansible, so `meta: flush_handlers` works unchanged). Returns the host's result for
 * this play and its new state. Never throws for the host's own failures.
 */
export async function playOneHost(
  playbook: Playbook,
  playIndex: number,
  host: PlaybookHost,
  batch: BatchInfo,
  state: HostState,
  opts: PlayHostOptions,
): Promise<RemotePlayReply> {
  const play = playbook.plays[playIndex];
  if (!play) throw new FleetmendError('E_USAGE', `${playbook.file} has no play ${playIndex + 1} (it has ${playbook.plays.length})`, { host: host.name });
  const env = createEnv(opts);
  const own: HostState = structuredClone(state);
  env.states.set(host.name, own);
  const result = await playOnHost(env, play, host, { ...batch, abort: {} });
  return { result, state: own };
}
