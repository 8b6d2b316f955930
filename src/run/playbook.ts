import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FleetmendError } from '../errors.js';
import { isoNow } from '../executor/clock.js';
import { parseBudgetLimit, type BudgetLimits } from '../executor/budget.js';
import type { RunEventListener, RunInfo } from '../results/index.js';
import { runHosts } from '../executor/run-hosts.js';
import { summarize } from '../results/index.js';
import { selectHosts as selectPattern, type Inventory } from '../inventory/index.js';
import {
  flatTasks,
  isBlock,
  parseExtraVars,
  parsePlaybook,
  runPlaybook,
  type Playbook,
  type PlayTask,
  type PlaybookHost,
  type RemotePlayReply,
  type RemotePlayRequest,
  type RunHostsHook,
  type RunPlaybookOptions,
  type Vars,
} from '../playbook/index.js';
import type { RunStore } from '../store/index.js';
import type { ConnectionSpec } from '../transport/types.js';
import { finishRun, type Prepared } from './finish.js';
import { prepareRun } from './prepare.js';
import { RunSession } from './session.js';
import type { AskSecret } from './targets.js';
import type { PlaybookOptions, RunContext, RunOutcome } from './types.js';

export interface PreparedPlaybook extends Prepared {
  options: PlaybookOptions;
  playbook: Playbook;
  /** The playbook's text as validated (distributed mode ships it to the workers). */
  source: string;
  extraVars: Vars;
  inventory: Inventory;
  targets: PlaybookHost[];
  specs: Map<string, ConnectionSpec>;
  budget: BudgetLimits;
}

/** Where each host's plays run: here (default) or on queue workers (distributed mode). */
export interface PlaybookPlacement {
  playOnHost(req: RemotePlayRequest, session: RunSession): Promise<RemotePlayReply>;
  close(): Promise<void>;
}

/** `--limit @file` reads host names from a retry file, like ansible-playbook. */
export async function expandLimit(limit: string | undefined): Promise<string | undefined> {
  if (!limit?.startsWith('@')) return limit;
  const file = limit.slice(1);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FleetmendError('E_USAGE', `cannot read retry file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  const names = text.split('\n').map((s) => s.trim()).filter(Boolean);
  if (!names.length) throw new FleetmendError('E_PATTERN', `retry file ${file} names no host`);
  return names.join(':');
}

/** The playbook's text (the same message as loadPlaybook for a file that cannot be read). */
async function readSource(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FleetmendError('E_USAGE', `cannot read ${file}: ${e.code ?? e.message}`, { position: { file } });
  }
}

/** The list from the task named NAME on; inside a block, the block keeps its tasks from there (and its rescue/always). */
function fromTask(list: readonly PlayTask[], name: string): PlayTask[] | undefined {
  for (const [i, t] of list.entries()) {
    if (!isBlock(t)) {
      if (t.name === name) return list.slice(i);
      continue;
    }
    const inner = fromTask(t.block, name);
    if (inner) return [{ ...t, block: inner }, ...list.slice(i + 1)];
  }
  return undefined;
}

/**
 * `--start-at-task NAME`, as ansible-playbook: the run begins at the first task named NAME;
 * earlier plays, and the tasks before it in its play, are not run (handlers stay). A name no
 * task has is E_USAGE, listing the names there are, before any host is contacted.
 */
export function startingAt(playbook: Playbook, name: string | undefined): Playbook {
  if (name === undefined) return playbook;
  for (const [i, play] of playbook.plays.entries()) {
    const tasks = fromTask(play.tasks, name);
    if (tasks) return { ...playbook, plays: [{ ...play, tasks }, ...playbook.plays.slice(i + 1)] };
  }
  const names = playbook.plays.flatMap((p) => flatTasks(p.tasks).map((t) => JSON.stringify(t.name)));
  throw new FleetmendError('E_USAGE', `--start-at-task ${JSON.stringify(name)}: no task of ${playbook.file} has that name (tasks: ${names.join(', ')})`);
}

/** `--max-failures` / `--max-unreachable`, checked before any host is contacted (exit 1). */
function budgetOf(options: PlaybookOptions): BudgetLimits {
  return {
    ...(options.maxFailures !== undefined ? { failures: parseBudgetLimit(options.maxFailures, '--max-failures') } : {}),
    ...(options.maxUnreachable !== undefined ? { unreachable: parseBudgetLimit(options.maxUnreachable, '--max-unreachable') } : {}),
  };
}

/** Validates everything before any host is contacted (exit 1). */
export async function preparePlaybook(playbookFile: string, options: PlaybookOptions, ctx: RunContext, ask?: AskSecret): Promise<PreparedPlaybook> {
  const source = await readSource(playbookFile);
  const playbook = startingAt(parsePlaybook(playbookFile, source), options.startAtTask);
  const extraVars = parseExtraVars(options.extraVars);
  const limit = await expandLimit(options.limit);
  const { inventory, targets, specs, renderer, run: base } = await prepareRun('run', { ...options, ...(limit ? { limit } : {}) }, ctx, ask);
  const run: RunInfo = {
    ...base,
    playbook: resolve(playbookFile),
    check: !!options.check,
    ...(options.resume ? { resumed_from: options.resume } : {}),
  };
  const hosts = targets.map((t) => ({ ...t, vars: inventory.hosts.get(t.name)?.vars ?? {} }));
  return { options, playbook, source, extraVars, inventory, targets: hosts, specs, renderer, run, budget: budgetOf(options) };
}

export interface PlaybookHooks {
  ask?: AskSecret;
  /** Called after validation, before the lock and the store: nothing has been contacted yet. */
  place?: (prepared: PreparedPlaybook) => Promise<PlaybookPlacement>;
}

export async function executePlaybook(playbookFile: string, options: PlaybookOptions, ctx: RunContext, hooks: PlaybookHooks = {}): Promise<RunOutcome> {
  const p = await preparePlaybook(playbookFile, options, ctx, hooks.ask);
  const placement = hooks.place ? await hooks.place(p) : undefined;
  try {
    return await runPrepared(p, ctx, placement);
  } finally {
    await placement?.close();
  }
}

async function runPrepared(p: PreparedPlaybook, ctx: RunContext, placement: PlaybookPlacement | undefined): Promise<RunOutcome> {
  const { run, options } = p;
  const session = await RunSession.open(run, ctx, { store: options.store, ...(options.stateDir ? { stateDir: options.stateDir } : {}), inventory: options.inventory });
  try {
    const done = options.resume ? finishedHosts(session.store, options.resume) : new Set<string>();
    const skip = placement ? notRechecked(done, options.resume, ctx) : await recheckDone(p, session, ctx, done);
    const selected = p.targets.filter((t) => !skip.has(t.name));
    session.start(selected.map((t) => t.name));
    session.emit({ type: 'run-start', run, hosts: selected.map((t) => t.name) });
    const result = await runPlaybook(p.playbook, {
      ...playbookRunOptions(p, session, ctx, selected, { check: !!options.check, onEvent: session.emit }),
      budget: p.budget,
      canary: !!options.canary,
      ...(options.watch !== undefined ? { watch: options.watch } : {}),
      ...(placement ? { playOnHost: (req: RemotePlayRequest) => placement.playOnHost(req, session) } : {}),
      diff: !!options.diff,
      ...(options.tags ? { tags: options.tags.split(',') } : {}),
      ...(options.skipTags ? { skipTags: options.skipTags.split(',') } : {}),
    });
    const summary = summarize(result.hosts);
    const finished: RunInfo = { ...run, finished_at: isoNow(ctx.clock), ...(session.interrupt.interrupted ? { interrupted: true } : {}) };
    session.emit({ type: 'run-end', run: finished, summary });
    // each host's merged result was recorded from its host-done, emitted after its last play
    return await finishRun(p, session, {
      run: finished,
      summary,
      results: result.hosts,
      playbook: { recap: result.recap, stopped: result.stopped ?? null },
      ...(options.resume ? { resumedSkipped: skip.size } : {}),
    });
  } finally {
    session.dispose();
  }
}

/** How a run of the prepared playbook goes: in check mode or not, and where its events go. */
interface RunMode {
  check: boolean;
  onEvent: RunEventListener;
}

/**
 * What every run of a prepared playbook in this session gives the engine, over `hosts`: their
 * selection by pattern, their connections, the p-limit batch runner (-f), the -e vars, the clock
 * and the signal. The run adds its rollout, tags and placement; the resume re-check runs it as is,
 * in check mode and silent.
 */
function playbookRunOptions(p: PreparedPlaybook, session: RunSession, ctx: RunContext, hosts: readonly PlaybookHost[], mode: RunMode): RunPlaybookOptions {
  // distributed too: -f hosts queued or running at once, across all workers' queues (coordinator.ts)
  const batchRunner: RunHostsHook = (batch, job, play) =>
    runHosts(batch, job, { forks: p.options.forks, clock: ctx.clock, interrupt: session.interrupt, onEvent: mode.onEvent, play });
  return {
    selectHosts: (pattern) => {
      const names = new Set(selectPattern(p.inventory, pattern));
      return hosts.filter((h) => names.has(h.name));
    },
    connect: (host) => session.connect(p.specs.get(host.name)!),
    runHosts: batchRunner,
    forks: p.options.forks,
    extraVars: p.extraVars,
    check: mode.check,
    clock: ctx.clock,
    onEvent: mode.onEvent,
    signal: session.interrupt.stopStarting,
  };
}

/**
 * A resumed run's "done" hosts are not taken on trust (a marker is not proof, issue 27 §4): the
 * playbook runs on them in check mode first, and only a host with nothing left to change is
 * skipped; a host whose fix did not hold (check says changed), or that cannot be checked, is
 * redone with the rest. Nothing of the check is recorded: the resumed run records what it does.
 */
async function recheckDone(p: PreparedPlaybook, session: RunSession, ctx: RunContext, done: Set<string>): Promise<Set<string>> {
  if (!done.size) return done;
  const hosts = p.targets.filter((t) => done.has(t.name));
  const check = await runPlaybook(p.playbook, playbookRunOptions(p, session, ctx, hosts, { check: true, onEvent: () => undefined }));
  const holds = new Set(check.hosts.filter((h) => h.status === 'ok' || h.status === 'skipped').map((h) => h.host));
  const redo = check.hosts.filter((h) => !holds.has(h.host)).map((h) => `${h.host} (${h.status === 'changed' ? 'would change again' : h.status})`);
  ctx.stderr.write(
    `resume ${p.options.resume}: ${done.size} host(s) done before; re-checked in check mode: ${holds.size} still hold, skipped` +
      (redo.length ? `; ${redo.length} redone: ${redo.slice(0, 5).join(', ')}${redo.length > 5 ? ', ...' : ''}` : '') + '\n',
  );
  return holds;
}

/**
 * Through a coordinator the done hosts are not re-checked: the coordinator may not reach the
 * hosts, and a play job carries the run's check flag (a check there would be an apply).
 */
function notRechecked(done: Set<string>, resume: string | undefined, ctx: RunContext): Set<string> {
  if (done.size) ctx.stderr.write(`resume ${resume}: ${done.size} host(s) done before, skipped (not re-checked: through a coordinator the hosts are the workers' to read)\n`);
  return done;
}

/** Hosts that finished ok/changed in the run being resumed, and in the runs it resumed. */
function finishedHosts(store: RunStore | undefined, runId: string): Set<string> {
  if (!store) throw new FleetmendError('E_USAGE', '--resume needs the run store (drop --no-store)');
  const done = new Set<string>();
  let id: string | undefined = runId;
  for (let depth = 0; id && depth < 50; depth++) {
    const prev = store.getRun(id);
    if (prev.run.mode !== 'run') throw new FleetmendError('E_USAGE', `run ${id} is a ${prev.run.mode}, not a playbook run`);
    for (const h of prev.hosts) if (h.status === 'ok' || h.status === 'changed') done.add(h.host);
    id = prev.run.resumed_from;
  }
  return done;
}
