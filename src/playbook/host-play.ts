/**
 * One play on one host: connect, walk its task tree (walk.ts: blocks, rescue, always), run the
 * handlers it notified, watch a changed host, and build the host's result for the play. Also
 * the queue worker's entry (playOneHost): the same path from the state a job carries.
 */
import { FleetmendError, toFleetmendError } from '../errors.js';
import { isoNow } from '../executor/clock.js';
import { hostResult, hostStatusOfCode, type HostError, type HostResult, type HostStatus, type TaskResult } from '../results/index.js';
import type { Transport } from '../transport/types.js';
import { HostSession } from '../host/index.js';
import { watchHost } from './watch.js';
import { isHostFailure } from './recap.js';
import { playMagicVars } from './scope.js';
import type { Play, Playbook, Task } from './types.js';
import { endsHost, HostWalk } from './walk.js';
import { mergeVars } from './vars.js';
import { blockItems, runTask, skippedTask, tagSelected } from './task.js';
import { createEnv, type Env, type PlayHostOptions, type TaskRun } from './env.js';
import { emptyState, type HostState, type PlaybookHost, type RemotePlayReply } from './protocol.js';

/** The host's status for the play, from its task results. */
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

/** Shared by a batch's hosts: once any_errors_fatal sets a reason, none of them starts another task. */
export interface BatchAbort {
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
export async function playOnHost(env: Env, play: Play, host: PlaybookHost, batch: BatchInfo & { abort: BatchAbort }): Promise<HostResult> {
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
