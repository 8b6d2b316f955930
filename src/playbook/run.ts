/**
 * The play loop: runs a playbook's plays in order, each play's hosts in rolling batches
 * (`serial`), and merges each host's plays into one final result (one `host-done` per host).
 * Per-host failures never stop other hosts; a batch whose failures cross the play's threshold
 * stops the rollout (rollout.ts, BATCHES.md). Concurrency inside a batch is the caller's: pass
 * the executor's p-limit runner as `runHosts`. One host's play is host-play.ts, one task task.ts.
 */
import { FleetmendError } from '../errors.js';
import type { Clock } from '../executor/clock.js';
import { mergePlay, type HostResult } from '../results/index.js';
import { FailureBudget, type BudgetLimits } from '../executor/budget.js';
import type { DisruptionBudget } from '../executor/disruption.js';
import { planRollout } from '../executor/batches.js';
import { preflightDisruption } from './disruption.js';
import { recapOf, type HostRecap } from './recap.js';
import type { Play, Playbook } from './types.js';
import { createEnv, type Env, type PlayHostOptions } from './env.js';
import { playOnHost, type BatchAbort } from './host-play.js';
import { budgeted, holdDecision, notStarted, rolloutDecision } from './rollout.js';
import { emptyState, type PlaybookHost, type RemotePlayReply, type RemotePlayRequest } from './protocol.js';

/**
 * The concurrency hook: run `job` for every host of one batch of `play` and return their results.
 * The default runs them all at once; the executor passes its p-limit runner (forks), e.g.
 * `(hosts, job, play) => runHosts(hosts, job, { forks, clock, interrupt, onEvent, play })`.
 * `job` never throws. It is called once per batch of each play. The results are one play's
 * (progress); the host's final `host-done` is emitted by runPlaybook after the last play.
 */
export type RunHostsHook = <H extends PlaybookHost>(hosts: readonly H[], job: (host: H) => Promise<HostResult>, play: string) => Promise<HostResult[]>;

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

const DEFAULT_FORKS = 50;

const defaultRunHosts: RunHostsHook = (hosts, job) => Promise.all(hosts.map((h) => job(h)));

/** What the plays of one run share: the hosts out of the run, the budget, where results go. */
interface RunShared {
  exclude: ReadonlySet<string>;
  budget: FailureBudget;
  collect: (r: HostResult) => void;
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
