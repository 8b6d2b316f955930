import { sinceLastReport } from '../drift/index.js';
// recap.js directly: the playbook index would load the engine into every sweep
import { recapLines } from '../playbook/recap.js';
import { executeRun, type RunContext, type RunOutcome, type RunRequest, type RunSubscriber } from '../run/index.js';
import type { CliIO } from './io.js';
import { writeJsonDocument } from './output.js';
import { Progress, summaryTable } from './progress.js';
import { promptSecret } from './prompt.js';
import { painterFor, terminalLine, terminalLines, type Paint } from '../util/terminal.js';
import type { HostResult } from '../results/index.js';
import type { HostRecap } from '../playbook/recap.js';
import { taskStreamLines } from './task-stream.js';

/** Lines already escaped where they were built (colour may surround them): joined, not escaped again. */
const joinLines = (lines: readonly string[]): string => (lines.length ? `${lines.join('\n')}\n` : '');
// not the index: the queue client is loaded by distributed runs alone
import { redisInputFrom, resolveRedisTarget, type RedisCliOptions } from '../distributed/connection.js';

/** How the terminal shows a run (the options that are not part of the request). */
export interface TerminalOptions extends RedisCliOptions {
  json?: boolean;
  quiet?: boolean;
  /**
   * -v (1): one summary / recap / task line per host (else hosts with the same outcome share a
   * line) and every task's message; -vv (2, run only): rc, stdout, stderr and duration too.
   */
  verbose?: number;
  /** --no-color: commander names it `color`, false when given. */
  color?: boolean;
  /** sweep --since-last */
  sinceLast?: boolean;
  /** --wait-lock in ms: how long a manual run waits for the inventory's run lock. */
  waitLock?: number;
  /** run --diff: before/after of every change in the progress */
  diff?: boolean;
  /** ms Redis may be unreachable mid-run before the run ends interrupted. */
  redisTimeout?: number;
  /** --signing-key: the coordinator's private key (required with --redis). */
  signingKey?: string;
  /** --trust-workers: worker public keys (files or directories). */
  trustWorkers?: string[];
  /** --no-worker-timeout in ms (commander names it after the flag without `no-`; `true` when not given). */
  workerTimeout?: number | boolean;
}

/** The TerminalOptions that are not part of a run request (stripped from it, not recorded). */
export const DISTRIBUTED_ONLY = ['redis', 'redisTimeout', 'redisPasswordFile', 'redisCa', 'redisCert', 'redisKey', 'redisInsecure', 'signingKey', 'trustWorkers', 'workerTimeout'] as const;

/** A copy of `opts` without the distributed-only options. */
export function withoutDistributed<T extends object>(opts: T): T {
  const out = { ...opts } as Record<string, unknown>;
  for (const k of DISTRIBUTED_ONLY) delete out[k];
  return out as unknown as T;
}

/** The terminal's two subscribers: the live progress, and the closing output once recorded. */
export function terminalSubscribers(request: RunRequest, opts: TerminalOptions, io: Pick<CliIO, 'stdout' | 'stderr' | 'env'>): RunSubscriber[] {
  // the diffs go to stdout in the task stream (task-stream.ts): the live lines keep failures and warnings
  const progress = new Progress(io.stderr, !!opts.quiet, false);
  return [
    { name: 'progress', onEvent: progress.listener },
    { name: 'closing output', onFinished: (outcome, store) => closingOutput(request, opts, io, outcome, store) },
  ];
}

function closingOutput(
  request: RunRequest,
  opts: TerminalOptions,
  io: Pick<CliIO, 'stdout' | 'stderr' | 'env'>,
  o: RunOutcome,
  store: Parameters<NonNullable<RunSubscriber['onFinished']>>[1],
): void {
  const paint = painterFor(io.stdout as { isTTY?: boolean }, io.env, opts.color);
  if (request.kind === 'sweep') {
    if (opts.json) writeJsonDocument(io.stdout, o.run, o.summary, o.results);
    else io.stdout.write(summaryTable(o.results, o.summary, { verbose: !!opts.verbose, advice: !opts.quiet, paint }));
    if (opts.sinceLast && store) (opts.json ? io.stderr : io.stdout).write(sinceLastReport(store, o.run));
  } else {
    const pb = o.playbook ?? { recap: [], stopped: null };
    if (opts.json) writeJsonDocument(io.stdout, o.run, o.summary, o.results, { recap: pb.recap, stopped: pb.stopped });
    else {
      io.stdout.write(playbookText(o.results, pb, { ...opts, paint }, { id: o.run.id, held: o.summary.held ?? 0 }));
    }
    if (o.retryFile) io.stderr.write(`retry file: ${o.retryFile} (use --limit @${o.retryFile}, or --resume ${o.run.id})\n`);
  }
  for (const f of o.reports) io.stderr.write(`report: ${f}\n`);
}

/**
 * What `run` prints on stdout (without --json): the task stream (not with -q), the PLAY RECAP,
 * and why a rollout stopped. Also what the README shows (test/unit/readme-cli.test.ts).
 */
export function playbookText(
  results: readonly HostResult[],
  pb: { recap: readonly HostRecap[]; stopped: { reason: string; held?: boolean } | null },
  opts: Pick<TerminalOptions, 'quiet' | 'verbose' | 'diff'> & { paint?: Paint } = {},
  run?: { id: string; held: number },
): string {
  const stream = opts.quiet ? '' : joinLines(taskStreamLines(results, { verbose: opts.verbose ?? 0, diff: !!opts.diff, ...(opts.paint ? { paint: opts.paint } : {}) }));
  const recap = `\nPLAY RECAP ${'*'.repeat(60)}\n${terminalLines(recapLines(pb.recap, { fold: !opts.verbose }))}`;
  return stream + recap + (pb.stopped ? stoppedText(pb.stopped, run) : '');
}

/** Why the rollout stopped; a held one (failure budget, canary) says how to continue. */
function stoppedText(stopped: { reason: string; held?: boolean }, run?: { id: string; held: number }): string {
  if (!stopped.held) return `rollout stopped: ${terminalLine(stopped.reason)}\n`;
  return `rollout held: ${terminalLine(stopped.reason)}\n${run?.held ?? 0} host(s) held; continue with --resume ${terminalLine(run?.id ?? 'RUN_ID')}\n`;
}

/** A run from the command line (sweep, run, and each run of schedule): returns the exit code. */
export async function runFromTerminal(request: RunRequest, opts: TerminalOptions, io: CliIO, extra: Partial<Pick<RunContext, 'lockHeld' | 'pool'>> & { subscribers?: readonly RunSubscriber[] } = {}): Promise<RunOutcome> {
  const ctx: RunContext = {
    env: io.env,
    clock: io.clock,
    stderr: io.stderr,
    subscribers: [...terminalSubscribers(request, opts, io), ...(io.subscribers ?? []), ...(extra.subscribers ?? [])],
    ...(io.interrupt ? { interrupt: io.interrupt } : {}),
    ...(extra.lockHeld ? { lockHeld: true } : {}),
    ...(extra.pool ? { pool: extra.pool } : {}),
    ...(opts.waitLock !== undefined ? { lockWaitMs: opts.waitLock } : {}),
  };
  const input = redisInputFrom(opts, io.env);
  if (!input) return executeRun(request, ctx, { ask: (q) => promptSecret(q) });
  const log = (l: string) => io.stderr.write(`${terminalLine(l)}\n`);
  const redis = await resolveRedisTarget(input, io.env, log);
  const { queuePlacement, playbookPlacement, coordinatorKeys } = await import('../distributed/index.js');
  const coordinator = {
    redis,
    clock: io.clock,
    log,
    ...coordinatorKeys(opts.signingKey, opts.trustWorkers ?? []),
    // keygen's pair is NAME.key + NAME.pub: name the public half a worker must trust when we can
    workerHint: `--trust ${opts.signingKey!.endsWith('.key') ? `${opts.signingKey!.slice(0, -4)}.pub` : 'COORDINATOR.pub'} --signing-key WORKER.key -i ${request.options.inventory}`,
    ...(opts.redisTimeout !== undefined ? { lostAfterMs: opts.redisTimeout } : {}),
    ...(typeof opts.workerTimeout === 'number' ? { noWorkerTimeoutMs: opts.workerTimeout } : {}),
  };
  return executeRun(request, ctx, {
    ask: (q) => promptSecret(q),
    placeSweep: (prepared) => queuePlacement(prepared, coordinator),
    placePlaybook: (prepared) => playbookPlacement(prepared, coordinator),
  });
}
