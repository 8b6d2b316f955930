/**
 * The rollout rules (BATCHES.md): whether a batch's outcome stops the rollout or holds the run
 * (max_fail_percentage, any_errors_fatal, the failure budget, the canary), the budget and the
 * disruption budget around each host's play, and the result of a host that was not started.
 */
import { isoNow, type Clock } from '../executor/clock.js';
import { hostResult, type HostResult } from '../results/index.js';
import type { BudgetLimits, FailureBudget } from '../executor/budget.js';
import type { DisruptionBudget } from '../executor/disruption.js';
import { flatTasks, type Play } from './types.js';
import { skippedTask } from './task.js';
import type { PlaybookHost } from './protocol.js';

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

type NotStarted = 'skipped' | 'interrupted' | 'held';

/** A host no task of the play ran on; `interrupted` and `held` hosts carry why (resume redoes them). */
export function notStarted(play: Play, host: PlaybookHost, reason: string, clock: Clock, status: NotStarted = 'skipped'): HostResult {
  const at = isoNow(clock);
  const tasks = flatTasks(play.tasks).map((t) => skippedTask(play, t, reason));
  const code = status === 'interrupted' ? ('E_INTERRUPTED' as const) : status === 'held' ? ('E_HELD' as const) : undefined;
  return hostResult(host, { status, started: at, finished: at, tasks, ...(code ? { error: { code, message: reason } } : {}) });
}

/**
 * The budget around a host's play: a host whose turn comes after the budget was exceeded is
 * `held` without a connection; one already in flight finishes (SSM's rule, src/executor/budget.ts).
 */
export function budgeted(play: Play, budget: FailureBudget, clock: Clock, job: (h: PlaybookHost) => Promise<HostResult>, disruption?: DisruptionBudget) {
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

/** Why the run holds after this batch: the budget, or a failed canary (zero tolerance). */
export function holdDecision(budget: FailureBudget, canaryBatch: boolean, results: readonly HostResult[]): string | undefined {
  const fromBudget = budget.holdReason();
  if (fromBudget) return fromBudget;
  const bad = results.filter((r) => r.status === 'failed' || r.status === 'unreachable');
  if (canaryBatch && bad.length) return `canary ${bad.map((r) => `${r.host} ${r.status}`).join(', ')} (the canary batch tolerates no failure)`;
  return undefined;
}
